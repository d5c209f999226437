"""Worker metrics: per-minute percentiles, errors, CPU and memory, checked independently, and
their way through the spool into the store for the Service page."""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import time
from pathlib import Path

import pytest

from vigil.core.serve import ingester
from vigil.core.serve.metrics import BUCKETS, WorkerMetrics, infrastructure, rss_mb
from vigil.core.serve.spool import Spool
from vigil.core.store.connection import Store


def _vm_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_minute_row_matches_an_independent_computation() -> None:
    metrics = WorkerMetrics("w-1")
    rng = random.Random(4)
    latencies = [rng.lognormvariate(-5, 0.8) for _ in range(997)]
    codes = [500 if i % 50 == 0 else 200 for i in range(len(latencies))]
    for seconds, code in zip(latencies, codes, strict=True):
        metrics.observe("toy", "1", code, seconds, rows=3)
    [row] = metrics.completed_minutes(time.time() + 60)
    cuts = statistics.quantiles([s * 1000 for s in latencies], n=100, method="inclusive")
    assert row["latency_p50"] == pytest.approx(cuts[49])
    assert row["latency_p95"] == pytest.approx(cuts[94])
    assert row["latency_p99"] == pytest.approx(cuts[98])
    assert row["latency_max"] == pytest.approx(max(latencies) * 1000)
    assert (row["requests"], row["errors"], row["rows_scored"]) == (997, codes.count(500), 2991)
    assert row["rss_mb"] == pytest.approx(_vm_rss_mb(), rel=0.1)
    assert 0 <= row["cpu_percent"] <= 100 * 64
    assert metrics.completed_minutes(time.time() + 120) == []  # an idle minute writes nothing


def test_prometheus_histogram_is_cumulative_and_counts_every_request() -> None:
    metrics = WorkerMetrics("w-2")
    samples = [0.0005, 0.002, 0.02, 0.2, 3.0, 9.0]
    for s in samples:
        metrics.observe("toy", "1", 200, s, rows=1)
    metrics.observe("toy", "1", 503, 0.001, rows=0)
    text = metrics.prometheus({"vigil_gateway_state_generation": 7})
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    labels = 'model="toy",version="1",worker="w-2"'
    for bound in BUCKETS:
        expected = sum(1 for s in [*samples, 0.001] if s <= bound)
        assert (
            values[f'vigil_gateway_request_duration_seconds_bucket{{{labels},le="{bound!r}"}}']
            == expected
        )
    assert values[f'vigil_gateway_request_duration_seconds_bucket{{{labels},le="+Inf"}}'] == 7
    assert values[f"vigil_gateway_request_duration_seconds_sum{{{labels}}}"] == pytest.approx(
        sum(samples) + 0.001
    )
    assert values[f"vigil_gateway_errors_total{{{labels}}}"] == 1
    assert values['vigil_gateway_state_generation{worker="w-2"}'] == 7


def test_minutes_reach_the_store_for_the_service_page(store: Store) -> None:
    metrics = WorkerMetrics("host-42")
    for i in range(10):
        metrics.observe("toy", "1", 200 if i else 500, 0.01 * (i + 1), rows=2)
    now = time.time()
    row = metrics.completed_minutes(now + 60)[0]
    spool = Spool(ingester.spool_dir(store), "host-42", rotate_s=0.05)
    spool.start()
    spool.write(ingester.METRICS_STREAM, (json.dumps(row) + "\n").encode())
    spool.close()
    ingester.ingest_spool(store)
    minute = dt.datetime.fromisoformat(row["minute"])
    [stored] = infrastructure(store, minute, minute + dt.timedelta(minutes=1))
    assert (stored.worker, stored.requests, stored.errors, stored.rows_scored) == (
        "host-42",
        10,
        1,
        20,
    )
    assert stored.error_rate == pytest.approx(0.1)
    assert stored.latency_p99 == pytest.approx(row["latency_p99"])
    assert (
        infrastructure(store, minute + dt.timedelta(minutes=1), minute + dt.timedelta(minutes=2))
        == []
    )
    assert rss_mb() > 0
