"""Service health: counts, error rates, throughput and latency percentiles against numpy on
the raw rows (pulled here, in the test only)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from tests.core.factories import register_toy
from vigil.core.monitor import service
from vigil.core.monitor.selection import Segment, Selection
from vigil.core.monitor.windows import calendar_start
from vigil.core.store.connection import Store

SELECTION = Selection("credit-risk", "1.0", dt.datetime(2026, 8, 30), dt.datetime(2026, 11, 24))


def raw(store: Store, selection: Selection, granularity: str) -> pd.DataFrame:
    where, params = selection.where("l")
    table = "log_" + selection.model_name.replace("-", "_")
    with store.connect() as con:
        return con.execute(
            f"SELECT date_trunc('{granularity}', served_at) AS w, "
            "date_trunc('hour', served_at) AS h, latency_ms, status "
            f"FROM {table} l WHERE {where}",
            params,
        ).df()


def assert_matches(window: service.ServiceWindow, rows: pd.DataFrame) -> None:
    assert window.predictions == len(rows)
    errors = int((rows["status"] != "ok").sum())
    assert window.errors == errors
    hours = (window.end - window.start).total_seconds() / 3600
    assert window.per_hour == pytest.approx(len(rows) / hours, abs=1e-12)
    if rows.empty:
        assert window.latency_p99 is None and window.error_rate.value is None
        assert window.peak_per_hour == 0
        return
    assert window.peak_per_hour == rows.groupby("h").size().max()
    ci = binomtest(errors, len(rows)).proportion_ci(method="wilson")
    assert window.error_rate.value == pytest.approx(errors / len(rows), abs=1e-12)
    assert (window.error_rate.low, window.error_rate.high) == pytest.approx((ci.low, ci.high))
    latency = rows["latency_ms"].dropna().to_numpy(float)
    want = np.percentile(latency, [50, 95, 99], method="linear")
    got = (window.latency_p50, window.latency_p95, window.latency_p99)
    assert got == pytest.approx(tuple(want), rel=1e-12, abs=1e-9)
    assert window.latency_mean == pytest.approx(latency.mean(), rel=1e-12)


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_demo_windows_equal_numpy(demo_store: Store, granularity: str) -> None:
    report = service.service_report(demo_store, SELECTION, granularity)
    rows = raw(demo_store, SELECTION, granularity)
    for window in report.windows:
        key = pd.Timestamp(calendar_start(window.start, granularity))
        assert_matches(window, rows[rows["w"] == key])
    assert_matches(report.overall, rows)
    assert report.windows[0].start == SELECTION.start  # clipped: the month began earlier
    assert sum(w.predictions for w in report.windows) == len(rows)


def test_demo_has_errors_and_a_latency_tail(demo_store: Store) -> None:
    overall = service.service_report(demo_store, SELECTION, "week").overall
    assert 0.002 < overall.error_rate.value < 0.008
    assert overall.latency_p99 > 5 * overall.latency_p50
    assert overall.latency_p99 >= overall.latency_p95 >= overall.latency_p50


def test_segment_and_empty_windows(demo_store: Store) -> None:
    selection = Selection(
        "credit-risk",
        "1.0",
        dt.datetime(2026, 11, 20),
        dt.datetime(2026, 11, 27),
        Segment("housing", "rent"),
    )
    report = service.service_report(demo_store, selection, "day")
    rows = raw(demo_store, selection, "day")
    assert [w.start.day for w in report.windows] == [20, 21, 22, 23, 24, 25, 26]
    for window in report.windows:
        assert_matches(window, rows[rows["w"] == pd.Timestamp(window.start)])
    assert report.windows[-1].predictions == 0  # no traffic after the demo's last day
    assert report.overall.predictions == len(rows) > 0


@pytest.fixture(scope="module")
def toy_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    home = tmp_path_factory.mktemp("service-toy")
    store = Store(home)
    register_toy(store, home)
    return store


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 200))
def test_random_latencies_equal_numpy(toy_store: Store, seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    logs = pd.DataFrame(
        {
            "prediction_id": [f"s{i}" for i in range(n)],
            "model_version": "1",
            "served_at": pd.Timestamp("2026-03-01")
            + pd.to_timedelta(rng.integers(0, 14 * 24 * 3600, n), unit="s"),
            "latency_ms": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(3, 1, n).round(3)),
            "status": rng.choice(["ok", "ok", "ok", "timeout"], n),
        }
    )
    with toy_store.transaction() as con:
        con.execute("DELETE FROM log_toy")
        con.register("new_logs", logs)
        con.execute("INSERT INTO log_toy BY NAME SELECT * FROM new_logs")
    selection = Selection("toy", "1", dt.datetime(2026, 3, 1), dt.datetime(2026, 3, 15))
    report = service.service_report(toy_store, selection, "week")
    rows = raw(toy_store, selection, "week")
    for window in report.windows:
        part = rows[rows["w"] == pd.Timestamp(calendar_start(window.start, "week"))]
        if part["latency_ms"].notna().any() or part.empty:
            assert_matches(window, part)
    if rows["latency_ms"].notna().any():
        assert_matches(report.overall, rows)
