"""Service metrics of the gateway: Prometheus counters per worker, and per-minute rows stored
for the Service page (CPU, memory, throughput, errors and latency percentiles per worker).

Each worker counts its own requests (no shared memory between workers); the Prometheus text
carries a `worker` label, and the per-minute rows reach the store through the spool.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vigil.core.store.connection import Store

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    """Resident memory of this process now (Linux /proc), else its peak (getrusage)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * _PAGE / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class _Series:
    requests: dict[str, int] = field(default_factory=dict)  # by status code
    rows: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    latency_sum: float = 0.0


@dataclass
class _Minute:
    start: dt.datetime
    cpu_at_start: float
    requests: int = 0
    errors: int = 0
    rows: int = 0
    latencies: list[float] = field(default_factory=list)


def _minute_of(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now - now % 60, dt.UTC).replace(tzinfo=None)


class WorkerMetrics:
    """Counters of one worker; thread-safe (requests and the spool thread both touch it)."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], _Series] = {}
        self._minute = _Minute(_minute_of(time.time()), cpu_seconds())

    def observe(self, model: str, version: str, code: int, seconds: float, rows: int) -> None:
        with self._lock:
            series = self._series.setdefault((model, version), _Series())
            key = str(code)
            series.requests[key] = series.requests.get(key, 0) + 1
            series.rows += rows
            series.latency_sum += seconds
            index = next((i for i, b in enumerate(BUCKETS) if seconds <= b), len(BUCKETS))
            series.buckets[index] += 1
            minute = self._minute
            minute.requests += 1
            minute.errors += code >= 500
            minute.rows += rows
            minute.latencies.append(seconds * 1000)

    def completed_minutes(
        self, now: float | None = None, *, flush: bool = False
    ) -> list[dict[str, Any]]:
        """The row of the minute that just ended (or the current one when flushing)."""
        now = time.time() if now is None else now
        with self._lock:
            current = self._minute
            if not flush and _minute_of(now) == current.start:
                return []
            self._minute = _Minute(_minute_of(now), cpu_seconds())
        return [self._row(current, now)] if current.requests or flush else []

    def _row(self, minute: _Minute, now: float) -> dict[str, Any]:
        elapsed = max(now - minute.start.replace(tzinfo=dt.UTC).timestamp(), 1e-9)
        cpu = (cpu_seconds() - minute.cpu_at_start) / min(elapsed, 60.0) * 100
        lat = np.asarray(minute.latencies) if minute.latencies else None
        pct = (
            [float(v) for v in np.percentile(lat, [50, 95, 99])] if lat is not None else [None] * 3
        )
        return {
            "minute": minute.start.isoformat(),
            "worker": self.worker,
            "requests": minute.requests,
            "errors": minute.errors,
            "rows_scored": minute.rows,
            "latency_p50": pct[0],
            "latency_p95": pct[1],
            "latency_p99": pct[2],
            "latency_max": float(lat.max()) if lat is not None else None,
            "cpu_percent": round(cpu, 2),
            "rss_mb": round(rss_mb(), 2),
        }

    def prometheus(self, extra: dict[str, float] | None = None) -> str:
        """Prometheus text exposition (format 0.0.4)."""
        out = [
            "# HELP vigil_gateway_requests_total Predict requests by model, version and status.",
            "# TYPE vigil_gateway_requests_total counter",
        ]
        with self._lock:
            items = sorted(self._series.items())
            snapshot = [
                (k, dict(s.requests), s.rows, list(s.buckets), s.latency_sum) for k, s in items
            ]
        w = _label(self.worker)
        for (model, version), requests, _, _, _ in snapshot:
            for code, n in sorted(requests.items()):
                out.append(
                    f'vigil_gateway_requests_total{{model="{_label(model)}",version="{_label(version)}",'
                    f'code="{code}",worker="{w}"}} {n}'
                )
        out += [
            "# HELP vigil_gateway_errors_total Predict requests answered with a 5xx status.",
            "# TYPE vigil_gateway_errors_total counter",
        ]
        for (model, version), requests, _, _, _ in snapshot:
            errors = sum(n for code, n in requests.items() if code.startswith("5"))
            out.append(
                f'vigil_gateway_errors_total{{model="{_label(model)}",version="{_label(version)}",'
                f'worker="{w}"}} {errors}'
            )
        out += [
            "# HELP vigil_gateway_rows_total Instances scored.",
            "# TYPE vigil_gateway_rows_total counter",
        ]
        for (model, version), _, rows, _, _ in snapshot:
            out.append(
                f'vigil_gateway_rows_total{{model="{_label(model)}",version="{_label(version)}",'
                f'worker="{w}"}} {rows}'
            )
        out += [
            "# HELP vigil_gateway_request_duration_seconds Predict latency, request to answer.",
            "# TYPE vigil_gateway_request_duration_seconds histogram",
        ]
        for (model, version), _, _, buckets, total in snapshot:
            labels = f'model="{_label(model)}",version="{_label(version)}",worker="{w}"'
            running = 0
            for bound, n in zip((*BUCKETS, float("inf")), buckets, strict=True):
                running += n
                le = "+Inf" if bound == float("inf") else repr(bound)
                out.append(
                    f'vigil_gateway_request_duration_seconds_bucket{{{labels},le="{le}"}} {running}'
                )
            out.append(f"vigil_gateway_request_duration_seconds_sum{{{labels}}} {total}")
            out.append(f"vigil_gateway_request_duration_seconds_count{{{labels}}} {running}")
        for name, value in sorted((extra or {}).items()):
            out += [f"# TYPE {name} gauge", f'{name}{{worker="{w}"}} {value}']
        return "\n".join(out) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# --- for the Service page ---------------------------------------------------------------


@dataclass(frozen=True)
class WorkerMinute:
    minute: dt.datetime
    worker: str
    requests: int
    errors: int
    rows_scored: int
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None
    latency_max: float | None
    cpu_percent: float | None
    rss_mb: float | None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


def infrastructure(store: Store, start: dt.datetime, end: dt.datetime) -> list[WorkerMinute]:
    """Gateway workers' minutes in [start, end), oldest first: what the Service page draws
    beside the prediction-level service health."""
    with store.connect() as con:
        rows = con.execute(
            "SELECT minute, worker, requests, errors, rows_scored, latency_p50, latency_p95, "
            "latency_p99, latency_max, cpu_percent, rss_mb FROM serve_metrics "
            "WHERE minute >= ? AND minute < ? ORDER BY minute, worker",
            [start, end],
        ).fetchall()
    return [WorkerMinute(*row) for row in rows]
