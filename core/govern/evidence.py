"""The evidence a promotion decision rests on, frozen into its audit record.

What the approver saw is what the release rests on: gate results, candidate and champion
side by side, holdout fairness, the drift comparison, live traffic counts and realised
performance on the same window. Each part is a frozen dataclass; the audit record holds
`core.results.to_jsonable(snapshot)`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from vigil.core.errors import VigilError
from vigil.core.govern.borrowed import BorrowedStore
from vigil.core.govern.gates.results import DriftWindow, GateReport, GateResult
from vigil.core.govern.gates.specs import DRIFT_WINDOW, Gate
from vigil.core.govern.lifecycle import CHAMPION
from vigil.core.govern.requests import PromotionRequest
from vigil.core.monitor.performance.report import performance_report
from vigil.core.monitor.selection import Selection, log_table
from vigil.core.registry.versions import ModelVersion, Status, aliases, get_version
from vigil.core.store.connection import Store
from vigil.core.store.pending import LABELS
from vigil.core.views.monitoring_status import monitoring_statuses
from vigil.core.views.overview import AreaStatus


@dataclass(frozen=True)
class VersionSummary:
    model_version: str
    status: Status
    validation_metrics: dict[str, dict[str, float]]
    training_data_version: str
    code_commit: str
    artifact_sha256: str
    registered_by: str


@dataclass(frozen=True)
class TrafficCount:
    """Predictions, errors and labelled predictions of one version in a window."""

    model_version: str
    window_start: dt.datetime
    window_end: dt.datetime
    predictions: int
    errors: int
    labelled: int


@dataclass(frozen=True)
class LivePerformance:
    """Realised metrics of one version on labelled traffic; a note where it cannot say."""

    predictions: int | None
    labelled: int | None
    enough_labels: bool | None
    metrics: dict[str, float | None]
    note: str | None = None


@dataclass(frozen=True)
class GateEvidence:
    checked_at: dt.datetime
    passed: bool
    results: tuple[GateResult, ...]
    drift_window: DriftWindow | None


@dataclass(frozen=True)
class DriftEvidence:
    threshold: float | None
    window: DriftWindow | None
    psi: dict[str, float]


@dataclass(frozen=True)
class KeyMetrics:
    candidate: dict[str, float]
    champion: dict[str, float] | None


@dataclass(frozen=True)
class RequestSummary:
    request_id: int
    requested_by: str
    requested_at: dt.datetime
    row_version: int
    override_by: str | None
    override_gates: tuple[str, ...]
    override_seq: int | None


@dataclass(frozen=True)
class Evidence:
    gates: GateEvidence
    candidate: VersionSummary
    champion: VersionSummary | None
    key_metrics: KeyMetrics
    fairness: dict[str, float]
    drift: DriftEvidence
    traffic: tuple[TrafficCount, ...]
    live_performance: dict[str, LivePerformance] | None
    request: RequestSummary | None
    # the Overview's performance, drift and fairness lines of each version on the same window,
    # as they read when the decision was taken (the sign-off report shows these, not today's)
    monitoring: dict[str, tuple[AreaStatus, ...]] | None = None


def gate_evidence(report: GateReport) -> GateEvidence:
    return GateEvidence(report.checked_at, report.passed, report.results, report.drift_window)


def _summary(version: ModelVersion) -> VersionSummary:
    return VersionSummary(
        version.model_version,
        version.status,
        version.validation_metrics,
        version.training_data_version,
        version.code_commit,
        version.artifact_sha256,
        version.registered_by,
    )


def traffic_counts(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    versions: tuple[str, ...],
    start: dt.datetime,
    end: dt.datetime,
) -> tuple[TrafficCount, ...]:
    """Predictions, errors and labelled predictions per version in a window (SQL aggregate)."""
    if not versions:
        return ()
    marks = ", ".join("?" * len(versions))
    rows = con.execute(
        f"""
        SELECT l.model_version, count(*) AS predictions,
               count(*) FILTER (WHERE l.status <> 'ok') AS errors,
               count(lb.label) AS labelled
        FROM {log_table(con, model_name)} l
        LEFT JOIN (SELECT DISTINCT ON (prediction_id) prediction_id, label FROM {LABELS}
                   WHERE model_name = ?) lb USING (prediction_id)
        WHERE l.model_version IN ({marks}) AND l.served_at >= ? AND l.served_at < ?
        GROUP BY l.model_version
        """,
        [model_name, *versions, start, end],
    ).fetchall()
    found = {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows}
    return tuple(TrafficCount(v, start, end, *found.get(v, (0, 0, 0))) for v in versions)


def live_performance(
    store: Store,
    model_name: str,
    versions: tuple[str, ...],
    start: dt.datetime,
    end: dt.datetime,
) -> dict[str, LivePerformance]:
    """Realised metrics per version on labelled traffic in the window (core.monitor)."""
    out: dict[str, LivePerformance] = {}
    for name in versions:
        try:
            report = performance_report(
                store, Selection(model_name, name, start, end), "week", intervals=False
            )
        except VigilError as err:
            out[name] = LivePerformance(None, None, None, {}, str(err))
            continue
        overall = report.overall
        out[name] = LivePerformance(
            overall.predictions,
            overall.labelled,
            overall.enough_labels,
            {metric: overall.value(metric) for metric in report.metric_names},
        )
    return out


def monitoring_lines(
    con: duckdb.DuckDBPyConnection,
    home: Path,
    model_name: str,
    versions: tuple[str, ...],
    start: dt.datetime,
    end: dt.datetime,
) -> dict[str, tuple[AreaStatus, ...]]:
    """Each version's Overview lines for the window, read on the decision's own connection."""
    on_this = BorrowedStore(home, con=con)
    return {
        name: tuple(monitoring_statuses(on_this, Selection(model_name, name, start, end)))
        for name in versions
    }


def _request_summary(request: PromotionRequest) -> RequestSummary:
    return RequestSummary(
        request.request_id,
        request.requested_by,
        request.requested_at,
        request.row_version,
        request.override_by,
        request.override_gates,
        request.override_seq,
    )


def snapshot(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    report: GateReport,
    request: PromotionRequest | None,
    *,
    store: Store | None = None,
) -> Evidence:
    """The facts a decision rests on. With `store`, the realised performance of candidate
    and champion on the same window is included."""
    champion_name = aliases(con, version.model_name).get(CHAMPION)
    champion = (
        get_version(con, version.model_name, champion_name)
        if champion_name and champion_name != version.model_version
        else None
    )
    window = report.drift_window
    if window is not None:
        start, end = window.start, window.end
    else:
        end = report.checked_at
        start = end - DRIFT_WINDOW
    versions = (version.model_version, *([champion.model_version] if champion else []))
    holdout = version.validation_metrics.get("holdout", {})
    prefixes = ("demographic_parity", "selection_rate")
    return Evidence(
        gates=gate_evidence(report),
        candidate=_summary(version),
        champion=_summary(champion) if champion else None,
        key_metrics=KeyMetrics(
            holdout, champion.validation_metrics.get("holdout", {}) if champion else None
        ),
        fairness={k: v for k, v in holdout.items() if k.startswith(prefixes)},
        drift=DriftEvidence(
            report.result(Gate.DRIFT_PSI).threshold,
            window,
            {p.feature: round(p.psi, 6) for p in report.feature_psi},
        ),
        traffic=traffic_counts(con, version.model_name, versions, start, end),
        live_performance=None
        if store is None
        else live_performance(store, version.model_name, versions, start, end),
        request=None if request is None else _request_summary(request),
        monitoring=None
        if store is None
        else monitoring_lines(con, store.home, version.model_name, versions, start, end),
    )
