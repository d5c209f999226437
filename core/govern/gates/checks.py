"""The gate checks a version must pass before it may be promoted, with the numbers behind each.

Gates run when a promotion is requested (so the reviewer sees them) and again inside the
approval transaction (so the decision rests on what is true at that moment). A gate that
cannot apply (no champion yet, no traffic) reports "n/a" and does not block; one that applies
but cannot tell yet (too few labels) reports "inconclusive": flagged, not blocking. The gates and
their defaults are listed in core.govern.gates.specs; thresholds per model come from
core.govern.gates.thresholds.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from vigil.core.errors import ArtifactError
from vigil.core.evidence.findings import blocking_findings
from vigil.core.govern.gates import fairness, thresholds
from vigil.core.govern.gates.alerts import alerts_gate
from vigil.core.govern.gates.drift import drift_window, feature_psi
from vigil.core.govern.gates.live import (
    LiveComparison,
    NothingToCompare,
    compare_live,
    comparison_window,
    describe,
)
from vigil.core.govern.gates.results import (
    DriftWindow,
    FeaturePSI,
    GateOutcome,
    GatePhase,
    GateReport,
    GateResult,
    SavedGateResult,
)
from vigil.core.govern.gates.specs import SPECS, Gate
from vigil.core.registry import artifacts
from vigil.core.registry.versions import ModelVersion, aliases, get_version
from vigil.core.responsible.robustness import NothingToCheck, check_version
from vigil.core.stats.comparison import ComparisonVerdict
from vigil.core.store.connection import Store

INVENTORY_FIELDS = (
    ("owner", "owner"),
    ("intended_use", "intended use"),
    ("limitations", "limitations"),
    ("risk_tier", "risk tier"),
    ("next_review_date", "next review date"),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _result(
    gate: Gate,
    outcome: GateOutcome,
    detail: str,
    observed: float | None = None,
    threshold: float | None = None,
) -> GateResult:
    return GateResult(gate, SPECS[gate].label, outcome, observed, threshold, detail)


def _day(moment: dt.datetime | dt.date) -> str:
    return f"{moment.day} {moment:%b %Y}"


def _verdict(ok: bool) -> GateOutcome:
    return GateOutcome.PASS if ok else GateOutcome.FAIL


def _validation_gate(version: ModelVersion, threshold: float) -> GateResult:
    gate = Gate.VALIDATION_ROC_AUC
    if version.task != "binary_classification":
        na = GateOutcome.NOT_APPLICABLE
        return _result(gate, na, f"Not a classifier ({version.task}).", None, threshold)
    value = version.validation_metrics.get("holdout", {}).get("roc_auc")
    if value is None:
        detail = (
            "No holdout ROC AUC was recorded at validation "
            "(validation_metrics.holdout.roc_auc in the metadata)."
        )
        return _result(gate, GateOutcome.FAIL, detail, None, threshold)
    ok = value >= threshold
    relation = "meets" if ok else "is below"
    detail = f"Holdout ROC AUC {value:.3f} {relation} the minimum of {threshold:.2f}."
    return _result(gate, _verdict(ok), detail, float(value), threshold)


def _drift_gate(
    con: duckdb.DuckDBPyConnection, version: ModelVersion, threshold: float
) -> tuple[GateResult, DriftWindow | None, tuple[FeaturePSI, ...]]:
    gate, na = Gate.DRIFT_PSI, GateOutcome.NOT_APPLICABLE
    champion = aliases(con, version.model_name).get("champion")
    if champion is None or champion == version.model_version:
        reason = "No champion to compare with." if champion is None else "This is the champion."
        return _result(gate, na, reason, None, threshold), None, ()
    window = drift_window(con, version.model_name, champion)
    if window is None or window.rows == 0:
        reason = f"The champion {champion} has no logged traffic to compare with."
        return _result(gate, na, reason, None, threshold), window, ()
    psis = feature_psi(con, version, current_version=champion, start=window.start, end=window.end)
    if not psis:
        return _result(gate, na, "No comparable features.", None, threshold), window, ()
    worst = max(psis, key=lambda p: p.psi)
    ok = worst.psi <= threshold
    over = [p.feature for p in psis if p.psi > threshold]
    last = window.end - dt.timedelta(microseconds=1)
    detail = (
        f"max PSI {worst.psi:.3f} ({worst.feature}) {'<=' if ok else '>'} {threshold:.2f}; "
        f"reference of {version.model_version} vs {window.rows:,} predictions of champion "
        f"{champion} from {_day(window.start)} to {_day(last)}"
        + (f"; over the threshold: {', '.join(over)}" if over else "")
    )
    return _result(gate, _verdict(ok), detail, worst.psi, threshold), window, psis


def _artifact_gate(home: Path, version: ModelVersion) -> GateResult:
    gate = Gate.ARTIFACT_INTEGRITY
    try:
        artifacts.verified_bytes(home / version.artifact_path, version.artifact_sha256)
    except ArtifactError as err:
        return _result(gate, GateOutcome.FAIL, str(err))
    detail = f"SHA-256 {version.artifact_sha256[:12]}… matches the registered hash."
    return _result(gate, GateOutcome.PASS, detail)


def _inventory_gate(version: ModelVersion, today: dt.date) -> GateResult:
    gate = Gate.INVENTORY
    missing = [
        label
        for attr, label in INVENTORY_FIELDS
        if getattr(version, attr) is None or not str(getattr(version, attr)).strip()
    ]
    if missing or version.next_review_date is None:
        return _result(gate, GateOutcome.FAIL, f"Missing: {', '.join(missing)}.")
    if version.next_review_date < today:
        detail = (
            f"The next review date {version.next_review_date} has passed; review the model "
            "and record a new date."
        )
        return _result(gate, GateOutcome.FAIL, detail)
    return _result(gate, GateOutcome.PASS, f"All recorded; next review {version.next_review_date}.")


def _robustness_gates(
    con: duckdb.DuckDBPyConnection,
    home: Path,
    version: ModelVersion,
    limits: dict[Gate, thresholds.Limit],
) -> tuple[GateResult, GateResult]:
    """Decision flips and declared monotonic relations, from one run on live traffic."""
    flips, monotonic = Gate.ROBUSTNESS, Gate.MONOTONIC
    flip_limit, monotonic_limit = limits[flips].value, limits[monotonic].value
    try:
        report = check_version(
            con, home, version, flip_threshold=flip_limit, monotonic_threshold=monotonic_limit
        )
    except (NothingToCheck, ArtifactError) as err:
        outcome = GateOutcome.NOT_APPLICABLE
        if isinstance(err, ArtifactError):
            outcome = GateOutcome.FAIL
        return (
            _result(flips, outcome, str(err), None, flip_limit),
            _result(monotonic, outcome, str(err), None, monotonic_limit),
        )
    flip_outcome = _verdict(report.flips_passed)
    if report.flip_rate is None:
        flip_outcome = GateOutcome.NOT_APPLICABLE
    monotonic_outcome = _verdict(report.monotonic_passed)
    if report.violation_rate is None:
        monotonic_outcome = GateOutcome.NOT_APPLICABLE
    return (
        _result(flips, flip_outcome, report.flip_detail, report.flip_rate, flip_limit),
        _result(
            monotonic,
            monotonic_outcome,
            report.monotonic_detail,
            report.violation_rate,
            monotonic_limit,
        ),
    )


def _findings_gate(con: duckdb.DuckDBPyConnection, version: ModelVersion) -> GateResult:
    """Open high-severity findings of the model block every version's promotion."""
    found = blocking_findings(con, version.model_name)
    if not found:
        return _result(Gate.FINDINGS, GateOutcome.PASS, "No high-severity finding is open.")
    listed = "; ".join(f"#{f.finding_id} {f.title} (due {f.due_date})" for f in found)
    return _result(
        Gate.FINDINGS,
        GateOutcome.FAIL,
        f"Open high-severity finding(s): {listed}. Close them on the Findings page.",
        float(len(found)),
    )


LIVE_OUTCOMES = {
    ComparisonVerdict.PASS: GateOutcome.PASS,
    ComparisonVerdict.FAIL: GateOutcome.FAIL,
    ComparisonVerdict.INCONCLUSIVE: GateOutcome.INCONCLUSIVE,
}


def _live_gate(
    con: duckdb.DuckDBPyConnection, version: ModelVersion, margin: float
) -> tuple[GateResult, LiveComparison | None]:
    """Candidate against champion on labelled live traffic (core.govern.gates.live)."""
    gate, na = Gate.LIVE_CHALLENGER, GateOutcome.NOT_APPLICABLE
    champion = aliases(con, version.model_name).get("champion")
    if champion is None or champion == version.model_version:
        reason = "No champion to compare with." if champion is None else "This is the champion."
        return _result(gate, na, reason, None, margin), None
    try:
        live = compare_live(con, version, get_version(con, version.model_name, champion), margin)
    except NothingToCompare as err:
        return _result(gate, na, str(err), None, margin), None
    primary = live.metrics[0].decision.comparison
    observed = None if primary is None else primary.difference
    return _result(gate, LIVE_OUTCOMES[live.verdict], describe(live), observed, margin), live


def _untrusted(result: GateResult, limit: thresholds.Limit) -> GateResult:
    """A gate whose stored threshold the audit log does not back fails, whatever it saw."""
    detail = (
        f"The threshold stored for this gate ({limit.stored}) is not the one the audit log "
        "records: it was changed outside Vigil. The gate fails until an admin sets the "
        "threshold again with a rationale."
    )
    return _result(result.gate, GateOutcome.FAIL, detail, result.observed, limit.stored)


def run_gates(
    con: duckdb.DuckDBPyConnection,
    home: Path,
    model_name: str,
    model_version: str,
    *,
    now: dt.datetime | None = None,
) -> GateReport:
    """All gates for one version, on the caller's connection (inside its transaction)."""
    now = now or _now()
    version = get_version(con, model_name, model_version)
    limits = thresholds.effective(con, model_name)
    drift, drift_at, psis = _drift_gate(con, version, limits[Gate.DRIFT_PSI].value)
    live, comparison = _live_gate(con, version, limits[Gate.LIVE_CHALLENGER].value)
    fair, at_validation = fairness.validation_gate(version, limits[Gate.FAIRNESS_PARITY].value)
    window = comparison_window(con, model_name)
    fair_live, on_live = fairness.live_gate(
        con, home, version, window, limits[Gate.FAIRNESS_LIVE].value
    )
    results: tuple[GateResult, ...] = (
        _validation_gate(version, limits[Gate.VALIDATION_ROC_AUC].value),
        fair,
        fair_live,
        drift,
        _artifact_gate(home, version),
        _inventory_gate(version, now.date()),
        _findings_gate(con, version),
        *_robustness_gates(con, home, version, limits),
        live,
        alerts_gate(con, model_name, model_version, now),
    )
    results = tuple(
        r if r.gate not in limits or limits[r.gate].backed else _untrusted(r, limits[r.gate])
        for r in results
    )
    return GateReport(
        model_name, model_version, now, results, drift_at, psis, comparison, at_validation,
        on_live,
    )  # fmt: skip


def check_gates(store: Store, model_name: str, model_version: str) -> GateReport:
    """All gates for one version, as of now (for pages and the command line). A transaction,
    because the first check of a version profiles its reference data."""
    with store.transaction() as con:
        return run_gates(con, store.home, model_name, model_version)


def save_results(
    con: duckdb.DuckDBPyConnection, request_id: int, phase: GatePhase, report: GateReport
) -> None:
    con.executemany(
        "INSERT INTO gate_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [request_id, phase, report.checked_at, r.gate, r.outcome, r.observed, r.threshold,
             r.detail]
            for r in report.results
        ],
    )  # fmt: skip


def saved_results(con: duckdb.DuckDBPyConnection, request_id: int) -> list[SavedGateResult]:
    """Gate results stored for a request, request phase first."""
    rows = con.execute(
        "SELECT phase, checked_at, gate, outcome, observed, threshold, detail FROM gate_results "
        "WHERE request_id = ? ORDER BY checked_at, phase",
        [request_id],
    ).fetchall()
    return [
        SavedGateResult(GatePhase(p), at, gate, GateOutcome(outcome), observed, threshold, detail)
        for p, at, gate, outcome, observed, threshold, detail in rows
    ]
