"""The drift report with days above VIGIL_EXACT_MAX_DISTINCT: every KS and Wasserstein is
within its reported bound of scipy's exact value on the raw rows (lake and store logs, cold
and cached); columns that kept their values stay exact, with a bound of 0."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.core.factories import metadata, reference_frame, toy_onnx
from tests.core.lake.conftest import write_lake
from tests.core.lake.test_build import good_rows
from vigil.core.contract import parse_metadata
from vigil.core.ingest.predictions import ingest_predictions
from vigil.core.lake.build import build_profiles
from vigil.core.monitor.drift.report import drift_report
from vigil.core.monitor.drift.results import DriftReport
from vigil.core.monitor.selection import Selection
from vigil.core.registry.versions import register_version
from vigil.core.store.connection import Store

START, END = dt.datetime(2026, 2, 28), dt.datetime(2026, 3, 7)
NUMERIC = ("income", "tenure", "prediction")
SLACK = 1e-9


def _register(store: Store, folder: Path, rows: int) -> None:
    frame = reference_frame(n=rows, seed=1)
    artifact, reference = folder / "toy.onnx", folder / "ref.parquet"
    artifact.write_bytes(toy_onnx(frame))
    frame.to_parquet(reference, index=False)
    register_version(
        store,
        parse_metadata(metadata("1")),
        artifact=artifact,
        reference=reference,
        registered_by="dana",
        registered_by_role="analyst",
    )


def _reference(store: Store) -> pd.DataFrame:
    with store.connect() as con:
        return con.execute("SELECT * FROM reference_toy WHERE model_version = '1'").df()


def _check(report: DriftReport, reference: pd.DataFrame, bounded: set[str]) -> None:
    """scipy on raw rows lies in [statistic, statistic + error] for every numeric column of
    every window; `bounded` columns have an error, the others are exact."""
    rows = good_rows()
    served = pd.to_datetime(rows.day)
    for window in (report.overall, *report.windows):
        start, end = pd.Timestamp(window.window.start), pd.Timestamp(window.window.end)
        current = rows[(served >= start.normalize()) & (served < end)]
        for name in NUMERIC:
            column = window.column(name)
            ref, cur = reference[name].to_numpy(float), current[name].to_numpy(float)
            if column.test == "ks":
                exact = stats.ks_2samp(ref, cur).statistic
            else:
                assert column.test == "wasserstein"
                exact = stats.wasserstein_distance(ref, cur) / np.std(ref)
            if column.statistic is None:  # too few rows for a verdict (the 12 rows of 02-28)
                assert len(cur) < 30 and column.statistic_error is None
                continue
            assert column.statistic_error is not None
            low, high = column.statistic, column.statistic + column.statistic_error
            assert low - SLACK <= exact <= high + SLACK, (window.window.start, name)
            if name in bounded:
                assert column.statistic_error > 0, name
            else:
                assert column.statistic_error == 0 and column.statistic == pytest.approx(exact)
            assert column.current_n == len(cur)
            assert column.current_mean == pytest.approx(cur.mean(), rel=1e-9)
            assert column.current_std == pytest.approx(cur.std(), rel=1e-6)


@pytest.fixture
def big_reference(store: Store, tmp_path: Path) -> Store:
    """The toy model with a 3,000-row reference: Wasserstein / std is its numeric test."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    _register(store, folder, 3000)
    return store


def test_lake_days_above_the_limit_are_bounded_against_scipy(
    big_reference: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_EXACT_MAX_DISTINCT", "50")
    build_profiles(big_reference, "toy", "1", str(write_lake(tmp_path / "lake", with_bad=False)))
    selection = Selection("toy", "1", START, END)
    cold = drift_report(big_reference, selection, granularity="day", multivariate=False)
    # income and prediction have ~300 distinct values a day: fine bins; tenure has 20
    _check(cold, _reference(big_reference), {"income", "prediction"})
    warm = drift_report(big_reference, selection, granularity="day", multivariate=False)
    pairs = zip((warm.overall, *warm.windows), (cold.overall, *cold.windows), strict=True)
    for a, b in pairs:  # cached pairs keep their bounds (the reference std is summed anew)
        for x, y in zip((*a.features, *a.prediction), (*b.features, *b.prediction), strict=True):
            assert (x.status, x.test) == (y.status, y.test)
            for field in ("statistic", "statistic_error", "current_mean", "current_std"):
                got, expected = getattr(x, field), getattr(y, field)
                assert got == (expected if expected is None else pytest.approx(expected, rel=1e-12))


def test_small_reference_ks_is_bounded_and_exact_without_a_limit(
    lake_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = write_lake(tmp_path / "lake", with_bad=False)
    selection = Selection("toy", "1", START + dt.timedelta(days=1), END)
    monkeypatch.setenv("VIGIL_EXACT_MAX_DISTINCT", "50")
    build_profiles(lake_store, "toy", "1", str(lake))
    report = drift_report(lake_store, selection, granularity="day", multivariate=False)
    _check(report, _reference(lake_store), {"income", "prediction"})
    monkeypatch.setenv("VIGIL_EXACT_MAX_DISTINCT", "")
    build_profiles(lake_store, "toy", "1", str(lake))  # a rebuild: every value kept again
    exact = drift_report(lake_store, selection, granularity="day", multivariate=False)
    _check(exact, _reference(lake_store), set())


def test_store_logs_above_the_limit_are_bounded(
    big_reference: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same through ingest and core.monitor.profiles (the plan on the store's logs)."""
    monkeypatch.setenv("VIGIL_EXACT_MAX_DISTINCT", "50")
    path = tmp_path / "logs.parquet"
    good_rows().drop(columns=["day"]).to_parquet(path, index=False)
    assert ingest_predictions(big_reference, "toy", path).stored == len(good_rows())
    report = drift_report(
        big_reference, Selection("toy", "1", START, END), granularity="day", multivariate=False
    )
    _check(report, _reference(big_reference), {"income", "prediction"})
    with big_reference.connect() as con:
        kept = con.execute(
            "SELECT feature, bool_and(values_kept) FROM profile_columns WHERE scope = 'day' "
            "AND day > DATE '2026-02-28' AND feature IN ('income', 'tenure') GROUP BY feature "
            "ORDER BY feature"
        ).fetchall()
    assert kept == [("income", False), ("tenure", True)]
