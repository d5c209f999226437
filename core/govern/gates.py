"""Gate checks a version must pass before it may be promoted, with the numbers behind each.

Gates run when a promotion is requested (so the reviewer sees them) and again inside the
approval transaction (so the decision rests on what is true at that moment). Five gates:

| gate                 | passes when                                                   | default |
|----------------------|---------------------------------------------------------------|---------|
| validation_roc_auc   | holdout roc_auc >= threshold (binary classifiers only)        | 0.70    |
| fairness_parity      | every holdout demographic_parity_ratio_* >= threshold         | 0.80    |
| drift_psi            | max PSI over features, candidate reference vs the champion's  | 0.25    |
|                      | last 30 days of traffic, <= threshold                         |         |
| artifact_integrity   | the stored artifact still has its registered SHA-256          |   —     |
| inventory            | owner, intended use, limitations, risk tier and a next review |   —     |
|                      | date that is not in the past are all recorded                 |         |

Thresholds are per model (table gate_thresholds; the defaults above apply otherwise).
A gate that cannot apply (no champion yet, no traffic) reports "n/a" and does not block.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from vigil.core.errors import ArtifactError, VigilError
from vigil.core.govern.auth import User, require
from vigil.core.monitor.selection import log_table, reference_table
from vigil.core.registry import artifacts
from vigil.core.registry.versions import ModelVersion, aliases, get_version
from vigil.core.store.connection import Store
from vigil.core.store.sql import quote_ident


@dataclass(frozen=True)
class GateSpec:
    name: str
    label: str
    default: float | None
    help: str


GATES: tuple[GateSpec, ...] = (
    GateSpec(
        "validation_roc_auc",
        "Validation ROC AUC (holdout)",
        0.70,
        "Minimum holdout ROC AUC recorded at registration.",
    ),
    GateSpec(
        "fairness_parity",
        "Demographic parity ratio (holdout)",
        0.80,
        "Minimum ratio of the lowest to the highest group selection rate (four-fifths rule).",
    ),
    GateSpec(
        "drift_psi",
        "Drift vs production traffic (max PSI)",
        0.25,
        "Maximum population stability index of any feature, candidate reference vs the "
        "champion's last 30 days of traffic (0.1 minor, 0.25 major shift).",
    ),
    GateSpec(
        "artifact_integrity",
        "Artifact hash intact",
        None,
        "The stored ONNX file still matches the SHA-256 recorded at registration.",
    ),
    GateSpec(
        "inventory",
        "Inventory entry complete",
        None,
        "Owner, intended use, limitations, risk tier and a next review date not in the past.",
    ),
)
GATE_BY_NAME = {g.name: g for g in GATES}
DEFAULT_THRESHOLDS = {g.name: g.default for g in GATES if g.default is not None}
DRIFT_WINDOW = dt.timedelta(days=30)
PSI_FLOOR = 1e-4  # proportions below this count as this, so an empty bin gives a large finite PSI
NUMERIC_BINS = 10
INVENTORY_FIELDS = (
    ("owner", "owner"),
    ("intended_use", "intended use"),
    ("limitations", "limitations"),
    ("risk_tier", "risk tier"),
    ("next_review_date", "next review date"),
)


class GateConfigError(VigilError):
    """A gate threshold is unknown or out of range."""


@dataclass(frozen=True)
class GateResult:
    gate: str
    label: str
    outcome: str  # "pass" | "fail" | "n/a"
    observed: float | None
    threshold: float | None
    detail: str

    @property
    def passed(self) -> bool:
        return self.outcome != "fail"


@dataclass(frozen=True)
class FeaturePSI:
    feature: str
    kind: str  # "numeric" | "categorical"
    psi: float
    reference_rows: int
    current_rows: int


@dataclass(frozen=True)
class DriftWindow:
    """The production traffic the candidate's reference was compared against."""

    champion_version: str
    start: dt.datetime
    end: dt.datetime
    rows: int


@dataclass(frozen=True)
class GateReport:
    model_name: str
    model_version: str
    checked_at: dt.datetime
    results: tuple[GateResult, ...]
    drift_window: DriftWindow | None = None
    feature_psi: tuple[FeaturePSI, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(r.gate for r in self.results if not r.passed)

    def result(self, gate: str) -> GateResult:
        return next(r for r in self.results if r.gate == gate)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the audit evidence snapshot."""
        return {
            "checked_at": self.checked_at.isoformat(timespec="seconds"),
            "passed": self.passed,
            "results": [
                {
                    "gate": r.gate,
                    "label": r.label,
                    "outcome": r.outcome,
                    "observed": r.observed,
                    "threshold": r.threshold,
                    "detail": r.detail,
                }
                for r in self.results
            ],
            "drift_window": None
            if self.drift_window is None
            else {
                "champion_version": self.drift_window.champion_version,
                "start": self.drift_window.start.isoformat(timespec="microseconds"),
                "end": self.drift_window.end.isoformat(timespec="microseconds"),
                "rows": self.drift_window.rows,
            },
            "feature_psi": {p.feature: round(p.psi, 6) for p in self.feature_psi},
        }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# --- thresholds --------------------------------------------------------------------------


def thresholds(con: duckdb.DuckDBPyConnection, model_name: str) -> dict[str, float]:
    """The model's gate thresholds: stored values over the documented defaults."""
    stored = dict(
        con.execute(
            "SELECT gate, threshold FROM gate_thresholds WHERE model_name = ?", [model_name]
        ).fetchall()
    )
    return {**DEFAULT_THRESHOLDS, **stored}


def set_threshold(store: Store, user: User, model_name: str, gate: str, value: float) -> None:
    """Change one gate threshold for a model (admin only, audited: it changes what passes)."""
    from vigil.core.govern import (
        audit,  # local: audit imports nothing from here, keep the graph flat
    )

    require(user, "override_gate", "change gate thresholds")
    if gate not in DEFAULT_THRESHOLDS:
        raise GateConfigError(
            f"Gate '{gate}' has no threshold; choose one of {', '.join(DEFAULT_THRESHOLDS)}."
        )
    if not math.isfinite(value) or value < 0 or (gate != "drift_psi" and value > 1):
        raise GateConfigError(f"Threshold {value} for gate '{gate}' is out of range.")
    with store.transaction() as con:
        old = thresholds(con, model_name)[gate]
        con.execute(
            "INSERT OR REPLACE INTO gate_thresholds VALUES (?, ?, ?, ?, ?)",
            [model_name, gate, float(value), user.username, _now()],
        )
        audit.append(
            con,
            actor=user.username,
            actor_role=user.role,
            action="set_gate_threshold",
            model_name=model_name,
            rationale=f"Gate {gate} threshold changed from {old} to {value}.",
            evidence={"gate": gate, "old": old, "new": float(value)},
        )


# --- drift (PSI) -------------------------------------------------------------------------


def _numeric_edges(
    con: duckdb.DuckDBPyConnection, ref: str, column: str, reference_version: str
) -> list[float]:
    """Decile edges of the reference (linear interpolation), duplicates dropped."""
    probs = [i / NUMERIC_BINS for i in range(1, NUMERIC_BINS)]
    row = con.execute(
        f"SELECT quantile_cont({quote_ident(column)}, {probs}) FROM {ref} WHERE model_version = ?",
        [reference_version],
    ).fetchone()
    if row is None or row[0] is None:
        return []
    return sorted({float(e) for e in row[0]})


def _bin_expression(column: str, edges: list[float] | None) -> str:
    """SQL giving each row its bin label: deciles for numbers, the value for categories."""
    name = quote_ident(column)
    if edges is None:
        return f"coalesce(CAST({name} AS VARCHAR), '(missing)')"
    cases = " ".join(
        f"WHEN {name} <= {edge!r} THEN 'b{index:02d}'" for index, edge in enumerate(edges)
    )
    return f"CASE WHEN {name} IS NULL THEN '(missing)' {cases} ELSE 'b{len(edges):02d}' END"


def feature_psi(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    *,
    reference_version: str,
    current_version: str,
    start: dt.datetime,
    end: dt.datetime,
    features: tuple[Any, ...],
) -> tuple[FeaturePSI, ...]:
    """PSI per feature: a version's reference rows (expected) vs logged traffic (actual).

    PSI = sum over bins of (a - e) * ln(a / e), a and e the bin proportions floored at
    PSI_FLOOR. Numbers use the reference's deciles (values <= edge fall in that bin);
    categories use their values. Missing values are a bin of their own. Counting runs in SQL.
    """
    ref, logs = reference_table(con, model_name), log_table(con, model_name)
    out = []
    for spec in features:
        edges = None
        if not (spec.categorical or spec.type in ("string", "boolean")):
            edges = _numeric_edges(con, ref, spec.name, reference_version)
        bin_sql = _bin_expression(spec.name, edges)
        row = con.execute(
            f"""
            WITH expected AS (
                SELECT {bin_sql} AS bin, count(*) AS n FROM {ref}
                WHERE model_version = ? GROUP BY bin
            ), actual AS (
                SELECT {bin_sql} AS bin, count(*) AS n FROM {logs}
                WHERE model_version = ? AND served_at >= ? AND served_at < ? GROUP BY bin
            ), totals AS (
                SELECT (SELECT sum(n) FROM expected) AS ne, (SELECT sum(n) FROM actual) AS na
            ), shares AS (
                SELECT greatest(coalesce(e.n, 0) / t.ne, {PSI_FLOOR}) AS e,
                       greatest(coalesce(a.n, 0) / t.na, {PSI_FLOOR}) AS a
                FROM expected e FULL OUTER JOIN actual a USING (bin), totals t
            )
            SELECT sum((a - e) * ln(a / e)), (SELECT ne FROM totals), (SELECT na FROM totals)
            FROM shares
            """,
            [reference_version, current_version, start, end],
        ).fetchone()
        if row is None or not row[1] or not row[2]:
            continue
        out.append(
            FeaturePSI(
                feature=spec.name,
                kind="numeric" if edges is not None else "categorical",
                psi=float(row[0]),
                reference_rows=int(row[1]),
                current_rows=int(row[2]),
            )
        )
    return tuple(out)


def drift_window(
    con: duckdb.DuckDBPyConnection, model_name: str, champion_version: str
) -> DriftWindow | None:
    """The champion's last 30 days of traffic, ending at its latest logged prediction.

    Anchored on the data rather than the clock, so the gate means the same thing whether it
    runs the day after the last batch or a week later.
    """
    row = con.execute(
        f"SELECT max(served_at) FROM {log_table(con, model_name)} WHERE model_version = ?",
        [champion_version],
    ).fetchone()
    if row is None or row[0] is None:
        return None
    end = row[0] + dt.timedelta(microseconds=1)
    start = end - DRIFT_WINDOW
    rows = con.execute(
        f"SELECT count(*) FROM {log_table(con, model_name)} WHERE model_version = ? "
        "AND served_at >= ? AND served_at < ?",
        [champion_version, start, end],
    ).fetchone()[0]
    return DriftWindow(champion_version, start, end, int(rows))


# --- the gates ---------------------------------------------------------------------------


def _validation_gate(version: ModelVersion, threshold: float) -> GateResult:
    spec = GATE_BY_NAME["validation_roc_auc"]
    if version.task != "binary_classification":
        return GateResult(
            spec.name, spec.label, "n/a", None, threshold, f"Not a classifier ({version.task})."
        )
    value = version.validation_metrics.get("holdout", {}).get("roc_auc")
    if value is None:
        return GateResult(
            spec.name,
            spec.label,
            "fail",
            None,
            threshold,
            "No holdout roc_auc in the version's validation metrics.",
        )
    ok = value >= threshold
    return GateResult(
        spec.name,
        spec.label,
        "pass" if ok else "fail",
        float(value),
        threshold,
        f"holdout roc_auc {value:.4f} {'>=' if ok else '<'} {threshold:.2f}",
    )


def _fairness_gate(version: ModelVersion, threshold: float) -> GateResult:
    spec = GATE_BY_NAME["fairness_parity"]
    holdout = version.validation_metrics.get("holdout", {})
    ratios = {
        k.removeprefix("demographic_parity_ratio_"): float(v)
        for k, v in holdout.items()
        if k.startswith("demographic_parity_ratio_")
    }
    if not ratios:
        if not version.sensitive:
            return GateResult(
                spec.name,
                spec.label,
                "n/a",
                None,
                threshold,
                "The version declares no sensitive attributes.",
            )
        return GateResult(
            spec.name,
            spec.label,
            "fail",
            None,
            threshold,
            "Sensitive attributes are declared but no holdout demographic_parity_ratio_* "
            "metric was recorded.",
        )
    worst_attr = min(ratios, key=ratios.get)
    worst = ratios[worst_attr]
    ok = worst >= threshold
    parts = ", ".join(f"{a} {r:.3f}" for a, r in sorted(ratios.items()))
    return GateResult(
        spec.name,
        spec.label,
        "pass" if ok else "fail",
        worst,
        threshold,
        f"demographic parity ratio {parts}; lowest ({worst_attr}) "
        f"{'>=' if ok else '<'} {threshold:.2f}",
    )


def _drift_gate(
    con: duckdb.DuckDBPyConnection, version: ModelVersion, threshold: float
) -> tuple[GateResult, DriftWindow | None, tuple[FeaturePSI, ...]]:
    spec = GATE_BY_NAME["drift_psi"]
    champion = aliases(con, version.model_name).get("champion")
    if champion is None or champion == version.model_version:
        reason = "No champion to compare with." if champion is None else "This is the champion."
        return GateResult(spec.name, spec.label, "n/a", None, threshold, reason), None, ()
    window = drift_window(con, version.model_name, champion)
    if window is None or window.rows == 0:
        return (
            GateResult(
                spec.name,
                spec.label,
                "n/a",
                None,
                threshold,
                f"The champion {champion} has no logged traffic to compare with.",
            ),
            window,
            (),
        )
    psis = feature_psi(
        con,
        version.model_name,
        reference_version=version.model_version,
        current_version=champion,
        start=window.start,
        end=window.end,
        features=version.features,
    )
    if not psis:
        return (
            GateResult(spec.name, spec.label, "n/a", None, threshold, "No comparable features."),
            window,
            (),
        )
    worst = max(psis, key=lambda p: p.psi)
    ok = worst.psi <= threshold
    over = [p.feature for p in psis if p.psi > threshold]
    detail = (
        f"max PSI {worst.psi:.3f} ({worst.feature}) {'<=' if ok else '>'} {threshold:.2f}; "
        f"reference of {version.model_version} vs {window.rows} predictions of champion "
        f"{champion} from {window.start:%Y-%m-%d} to {window.end:%Y-%m-%d}"
        + (f"; over the threshold: {', '.join(over)}" if over else "")
    )
    return (
        GateResult(spec.name, spec.label, "pass" if ok else "fail", worst.psi, threshold, detail),
        window,
        psis,
    )


def _artifact_gate(home: Path, version: ModelVersion) -> GateResult:
    spec = GATE_BY_NAME["artifact_integrity"]
    try:
        artifacts.verified_bytes(home / version.artifact_path, version.artifact_sha256)
    except ArtifactError as err:
        return GateResult(spec.name, spec.label, "fail", None, None, str(err))
    return GateResult(
        spec.name,
        spec.label,
        "pass",
        None,
        None,
        f"SHA-256 {version.artifact_sha256[:12]}… matches the registered hash.",
    )


def _inventory_gate(version: ModelVersion, today: dt.date) -> GateResult:
    spec = GATE_BY_NAME["inventory"]
    missing = [
        label
        for attr, label in INVENTORY_FIELDS
        if getattr(version, attr) is None or not str(getattr(version, attr)).strip()
    ]
    if missing:
        return GateResult(
            spec.name, spec.label, "fail", None, None, f"Missing: {', '.join(missing)}."
        )
    if version.next_review_date < today:
        return GateResult(
            spec.name,
            spec.label,
            "fail",
            None,
            None,
            f"The next review date {version.next_review_date} has passed; review the model "
            "and record a new date.",
        )
    return GateResult(
        spec.name,
        spec.label,
        "pass",
        None,
        None,
        f"All recorded; next review {version.next_review_date}.",
    )


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
    limits = thresholds(con, model_name)
    drift, window, psis = _drift_gate(con, version, limits["drift_psi"])
    results = (
        _validation_gate(version, limits["validation_roc_auc"]),
        _fairness_gate(version, limits["fairness_parity"]),
        drift,
        _artifact_gate(home, version),
        _inventory_gate(version, now.date()),
    )
    return GateReport(model_name, model_version, now, results, window, psis)


def check_gates(store: Store, model_name: str, model_version: str) -> GateReport:
    """All gates for one version, as of now (for pages and the command line)."""
    with store.connect() as con:
        return run_gates(con, store.home, model_name, model_version)


def save_results(
    con: duckdb.DuckDBPyConnection, request_id: int, phase: str, report: GateReport
) -> None:
    con.executemany(
        "INSERT INTO gate_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                request_id,
                phase,
                report.checked_at,
                r.gate,
                r.outcome,
                r.observed,
                r.threshold,
                r.detail,
            ]
            for r in report.results
        ],
    )


def saved_results(con: duckdb.DuckDBPyConnection, request_id: int) -> list[dict[str, Any]]:
    """Gate results stored for a request, request phase first."""
    cursor = con.execute(
        "SELECT phase, checked_at, gate, outcome, observed, threshold, detail FROM gate_results "
        "WHERE request_id = ? ORDER BY checked_at, phase",
        [request_id],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def report_json(report: GateReport) -> str:
    return json.dumps(report.to_dict(), sort_keys=True)
