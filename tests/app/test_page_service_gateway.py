"""AppTest: the Service page's "Gateway workers" section draws the workers' minutes of the
sidebar's range. Latencies, errors and sizes are generated here, go the way a worker's go
(WorkerMetrics -> spool -> ingester -> store), and every number drawn is checked against
numpy on the raw values this test generated."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from tests.app.helpers import run_page, texts
from vigil.core.serve import ingester
from vigil.core.serve.metrics import WorkerMetrics, infrastructure
from vigil.core.serve.spool import Spool
from vigil.core.store.connection import Store

FIRST = dt.datetime(2026, 11, 20, 12, 0)  # inside the sidebar's default range (Aug 26 - Nov 23)
OUTSIDE = (dt.datetime(2026, 8, 20, 9, 0), dt.datetime(2026, 11, 24, 0, 0))  # end: exclusive


@dataclass(frozen=True)
class Raw:
    """One worker's minute as this test generated it."""

    worker: str
    minute: dt.datetime
    latencies_ms: np.ndarray
    codes: np.ndarray
    instances: np.ndarray


def _epoch(moment: dt.datetime) -> float:
    return moment.replace(tzinfo=dt.UTC).timestamp()


def _worker_minutes(worker: str, minutes: list[dt.datetime], seed: int) -> list[Raw]:
    rng = np.random.default_rng(seed)
    return [
        Raw(
            worker,
            minute,
            rng.lognormal(1.5 + i * 0.2, 0.6, size=n),
            np.where(rng.random(n) < 0.04 * (i + 1), 500, np.where(rng.random(n) < 0.05, 401, 200)),
            rng.integers(1, 20, size=n),
        )
        for i, (minute, n) in enumerate(
            zip(minutes, rng.integers(40, 400, size=len(minutes)), strict=True)
        )
    ]


def _spool(store: Store, worker: str, raws: list[Raw]) -> None:
    """What a gateway worker does: observe each request, emit the minute's row, spool it."""
    counters = WorkerMetrics(worker)
    lines = []
    for raw in raws:
        assert counters.completed_minutes(_epoch(raw.minute)) == []  # the clock moves there
        for ms, code, n in zip(raw.latencies_ms, raw.codes, raw.instances, strict=True):
            counters.observe("credit-risk", "1.0", int(code), float(ms) / 1000, int(n))
        lines += counters.completed_minutes(_epoch(raw.minute + dt.timedelta(minutes=1)))
    spool = Spool(ingester.spool_dir(store), worker, rotate_s=0.05)
    spool.start()
    spool.write(ingester.METRICS_STREAM, "".join(json.dumps(r) + "\n" for r in lines).encode())
    spool.close()


@pytest.fixture
def traffic(demo_copy: Store) -> list[Raw]:
    a = _worker_minutes("gw-a-101", [FIRST + dt.timedelta(minutes=m) for m in (0, 1, 2, 4)], 1)
    b = _worker_minutes("gw-b-202", [FIRST + dt.timedelta(minutes=m) for m in (1, 2, 3)], 2)
    away = _worker_minutes("gw-a-101", list(OUTSIDE), 3)
    for worker, raws in (("gw-a-101", a), ("gw-b-202", b), ("gw-a-101", away)):
        _spool(demo_copy, worker, raws)
    ingester.ingest_spool(demo_copy)
    return a + b


def _charts(at: Any) -> dict[str, dict[str, Any]]:
    return {
        el.key: json.loads(el.proto.spec)
        for el in at.get("plotly_chart")
        if el.key and el.key.startswith("gateway_")
    }


def _series(chart: dict[str, Any], name: str) -> dict[str, Any]:
    [trace] = [t for t in chart["data"] if t.get("name") == name]
    return {dt.datetime.fromisoformat(x): y for x, y in zip(trace["x"], trace["y"], strict=True)}


def _errors(raw: Raw) -> int:
    return int((raw.codes >= 500).sum())


def test_the_section_draws_each_workers_minutes_as_numpy_computes_them(
    demo_copy: Store, traffic: list[Raw]
) -> None:
    at = run_page(demo_copy, "service", user="vic")
    assert not at.exception, at.exception
    assert "Gateway workers" in [h.value for h in at.subheader]
    charts = _charts(at)
    assert set(charts) == {"gateway_requests_chart", "gateway_errors_chart",
                           "gateway_latency_chart", "gateway_resources_chart"}  # fmt: skip
    assert charts["gateway_requests_chart"]["layout"]["barmode"] == "stack"
    for worker in ("gw-a-101", "gw-b-202"):
        mine = {r.minute: r for r in traffic if r.worker == worker}
        requests = _series(charts["gateway_requests_chart"], worker)
        assert requests == {m: len(r.codes) for m, r in mine.items()}  # and none outside
        error_rate = _series(charts["gateway_errors_chart"], worker)
        for minute, raw in mine.items():
            assert error_rate[minute] == pytest.approx(_errors(raw) / len(raw.codes))
        for q in (50, 95, 99):
            drawn = _series(charts["gateway_latency_chart"], f"{worker} p{q}")
            for minute, raw in mine.items():
                assert drawn[minute] == pytest.approx(np.percentile(raw.latencies_ms, q))
    table = at.dataframe[-1].value.set_index("worker")
    for worker in ("gw-a-101", "gw-b-202"):
        raws = [r for r in traffic if r.worker == worker]
        codes = np.concatenate([r.codes for r in raws])
        row = table.loc[worker]
        assert row["requests"] == len(codes) and row["errors"] == (codes >= 500).sum()
        assert row["error rate"] == pytest.approx((codes >= 500).mean())
        assert row["instances"] == sum(int(r.instances.sum()) for r in raws)
        assert row["busiest minute"] == max(len(r.codes) for r in raws)
        assert row["worst minute p99 ms"] == pytest.approx(
            max(np.percentile(r.latencies_ms, 99) for r in raws)
        )
        assert row["max ms"] == pytest.approx(max(r.latencies_ms.max() for r in raws))
    all_codes = np.concatenate([r.codes for r in traffic])
    shown = {m.label: m.value for m in at.metric}
    assert shown["Workers"] == "2"
    assert shown["Gateway requests"] == f"{len(all_codes):,}"
    assert shown["Gateway error rate"] == f"{(all_codes >= 500).mean():.2%}"


def test_cpu_and_memory_are_drawn_as_the_workers_measured_them(
    demo_copy: Store, traffic: list[Raw]
) -> None:
    stored = infrastructure(demo_copy, FIRST, FIRST + dt.timedelta(hours=1))
    assert len(stored) == len(traffic)
    at = run_page(demo_copy, "service", user="vic")
    resources = _charts(at)["gateway_resources_chart"]
    for worker in ("gw-a-101", "gw-b-202"):
        mine = [s for s in stored if s.worker == worker]
        assert _series(resources, f"{worker} CPU") == {s.minute: s.cpu_percent for s in mine}
        assert _series(resources, f"{worker} RSS") == {s.minute: s.rss_mb for s in mine}
        assert all(s.rss_mb is not None and s.rss_mb > 0 for s in mine)
    table = at.dataframe[-1].value.set_index("worker")
    assert table.loc["gw-b-202", "peak RSS MB"] == max(
        s.rss_mb or 0 for s in stored if s.worker == "gw-b-202"
    )


def test_a_range_without_gateway_traffic_says_so(demo_copy: Store) -> None:
    at = run_page(demo_copy, "service", user="vic")
    assert not at.exception, at.exception
    assert "No gateway traffic in this range." in texts(at)
    assert _charts(at) == {}


def test_minutes_outside_the_range_are_left_out(demo_copy: Store) -> None:
    for worker, moments, seed in (("gw-a-101", OUTSIDE, 3),):
        _spool(demo_copy, worker, _worker_minutes(worker, list(moments), seed))
    ingester.ingest_spool(demo_copy)
    assert len(infrastructure(demo_copy, dt.datetime(2026, 1, 1), dt.datetime(2027, 1, 1))) == 2
    at = run_page(demo_copy, "service", user="vic")
    assert "No gateway traffic in this range." in texts(at)
