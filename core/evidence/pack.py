"""The evidence pack: one document per model and period a supervisor can read and a validator
can check against the store (SR 26-2, PRA SS1/23, EU AI Act Art. 12, 14, 72).

It holds the inventory entry, the monitoring plan in force with its history, drift /
performance / fairness summaries of every version that served in the period, the alerts and
how they were handled, every audit record of the model in the period (decisions with their
rationales), the gate results stored with promotion requests plus the gates as they stand
now for versions awaiting a decision, the gate overrides, the findings open at any time in
the period, the raw-log retention in force, and the audit chain checkpoint taken first:
records listed are those up to the checkpoint. `bundle_json` is the same content as JSON;
core.evidence.pdf draws it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from vigil.core.evidence.checkpoint import Checkpoint, take_checkpoint
from vigil.core.evidence.common import EvidenceError, now
from vigil.core.evidence.findings import Finding, list_findings_con
from vigil.core.evidence.inventory import InventoryEntry, get_entry
from vigil.core.evidence.plan import MonitoringPlan, plan_con
from vigil.core.evidence.retention import RetentionStatus, status_con
from vigil.core.evidence.summaries import VersionSummary, version_summary
from vigil.core.govern.gates.checks import run_gates
from vigil.core.monitor.selection import Selection, data_range
from vigil.core.registry.versions import aliases, list_versions, model_tables
from vigil.core.results import to_jsonable
from vigil.core.store.connection import Store

FORMAT = "vigil-evidence-pack/1"
Progress = Callable[[float, str], object]  # what it returns is ignored


@dataclass(frozen=True)
class VersionRow:
    model_version: str
    status: str
    aliases: tuple[str, ...]
    training_date: dt.date
    registered_by: str
    registered_at: dt.datetime
    artifact_sha256: str


@dataclass(frozen=True)
class AlertRow:
    alert_id: int
    model_version: str
    metric: str
    severity: str
    condition: str
    window_start: dt.datetime
    window_end: dt.datetime
    fired_at: dt.datetime
    resolved_at: dt.datetime | None
    handling: str


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    recorded_at: dt.datetime
    actor: str
    actor_role: str
    action: str
    model_version: str | None
    from_status: str | None
    to_status: str | None
    rationale: str


@dataclass(frozen=True)
class GateRow:
    model_version: str
    request_id: int | None  # None: checked now, for a version awaiting a decision
    phase: str  # request | approval | now
    checked_at: dt.datetime
    gate: str
    outcome: str
    observed: float | None
    threshold: float | None
    detail: str


@dataclass(frozen=True)
class OverrideRow:
    request_id: int
    model_version: str
    override_by: str
    override_at: dt.datetime
    gates: tuple[str, ...]
    rationale: str
    request_state: str


@dataclass(frozen=True)
class EvidencePack:
    model_name: str
    start: dt.date
    end: dt.date  # inclusive
    generated_at: dt.datetime
    generated_by: str | None
    checkpoint: Checkpoint
    retention: RetentionStatus
    inventory: InventoryEntry
    versions: tuple[VersionRow, ...]
    plan: MonitoringPlan
    monitoring: tuple[VersionSummary, ...]
    alerts: tuple[AlertRow, ...]
    decisions: tuple[AuditEntry, ...]
    gates: tuple[GateRow, ...]
    overrides: tuple[OverrideRow, ...]
    findings: tuple[Finding, ...]


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    if end < start:
        raise EvidenceError(f"The period ends ({end}) before it starts ({start}).")
    return dt.datetime.combine(start, dt.time()), dt.datetime.combine(
        end + dt.timedelta(days=1), dt.time()
    )


def _versions(con: duckdb.DuckDBPyConnection, model_name: str) -> tuple[VersionRow, ...]:
    named = aliases(con, model_name)
    return tuple(
        VersionRow(
            v.model_version,
            v.status,
            tuple(sorted(a for a, target in named.items() if target == v.model_version)),
            v.training_date,
            v.registered_by,
            v.registered_at,
            v.artifact_sha256,
        )
        for v in list_versions(con, model_name)
    )


def _alerts(
    con: duckdb.DuckDBPyConnection, model_name: str, lo: dt.datetime, hi: dt.datetime
) -> tuple[AlertRow, ...]:
    cursor = con.execute(
        "SELECT * FROM alerts WHERE model_name = ? AND ((window_start < ? AND window_end > ?) "
        "OR (fired_at >= ? AND fired_at < ?)) ORDER BY window_start, alert_id",
        [model_name, hi, lo, lo, hi],
    )
    names = [d[0] for d in cursor.description]
    return tuple(
        AlertRow(**_alert_fields(dict(zip(names, values, strict=True))))
        for values in cursor.fetchall()
    )


def _when(moment: dt.datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


def _handling(a: dict[str, Any]) -> str:
    """What people did about an alert (migration 9's columns, when the store has them)."""
    steps = []
    if a.get("acknowledged_by"):
        steps.append(f"acknowledged by {a['acknowledged_by']} {_when(a['acknowledged_at'])}")
    if a.get("snoozed_by"):
        steps.append(f"snoozed by {a['snoozed_by']} until {_when(a['snoozed_until'])}")
    if a["resolved_at"] is None:
        steps.append("open")
    elif a.get("resolved_by"):
        steps.append(f"resolved by {a['resolved_by']} {_when(a['resolved_at'])}")
    else:
        steps.append(f"resolved {_when(a['resolved_at'])}: a later evaluation passed")
    if a.get("note"):
        steps.append(f"note: {a['note']}")
    return "; ".join(steps)


def _alert_fields(a: dict[str, Any]) -> dict[str, Any]:
    detail = f" ({a['detail']})" if a.get("detail") else ""
    return {
        "alert_id": int(a["alert_id"]),
        "model_version": a["model_version"],
        "metric": a["metric"],
        "severity": a["severity"],
        "condition": f"{a['metric']} {a['value']:.4g} {a['comparison']} {a['threshold']:.4g}"
        + detail,
        "window_start": a["window_start"],
        "window_end": a["window_end"],
        "fired_at": a["fired_at"],
        "resolved_at": a["resolved_at"],
        "handling": _handling(a),
    }


def _decisions(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    lo: dt.datetime,
    hi: dt.datetime,
    last_seq: int,
) -> tuple[AuditEntry, ...]:
    rows = con.execute(
        "SELECT seq, recorded_at, actor, actor_role, action, model_version, from_status, "
        "to_status, rationale FROM audit_log WHERE model_name = ? AND recorded_at >= ? "
        "AND recorded_at < ? AND seq <= ? ORDER BY seq",
        [model_name, lo, hi, last_seq],
    ).fetchall()
    return tuple(AuditEntry(*row) for row in rows)


def _gates(
    con: duckdb.DuckDBPyConnection, store: Store, model_name: str, lo: dt.datetime, hi: dt.datetime
) -> tuple[GateRow, ...]:
    stored = con.execute(
        "SELECT r.model_version, g.request_id, g.phase, g.checked_at, g.gate, g.outcome, "
        "g.observed, g.threshold, g.detail FROM gate_results g JOIN promotion_requests r "
        "USING (request_id) WHERE r.model_name = ? AND g.checked_at >= ? AND g.checked_at < ? "
        "ORDER BY g.checked_at, g.request_id",
        [model_name, lo, hi],
    ).fetchall()
    rows = [GateRow(*row) for row in stored]
    pending = con.execute(
        "SELECT model_version FROM model_versions WHERE model_name = ? "
        "AND status = 'pending_approval' ORDER BY model_version",
        [model_name],
    ).fetchall()
    for (version,) in pending:
        report = run_gates(con, store.home, model_name, version)
        rows += [
            GateRow(
                version,
                None,
                "now",
                report.checked_at,
                r.gate,
                r.outcome,
                r.observed,
                r.threshold,
                r.detail,
            )
            for r in report.results
        ]
    return tuple(rows)


def _overrides(
    con: duckdb.DuckDBPyConnection, model_name: str, lo: dt.datetime, hi: dt.datetime
) -> tuple[OverrideRow, ...]:
    rows = con.execute(
        "SELECT request_id, model_version, override_by, override_at, override_gates, "
        "override_rationale, state FROM promotion_requests WHERE model_name = ? "
        "AND override_by IS NOT NULL AND override_at >= ? AND override_at < ? ORDER BY override_at",
        [model_name, lo, hi],
    ).fetchall()
    return tuple(
        OverrideRow(rid, version, by, at, tuple(json.loads(g or "[]")), why or "", state)
        for rid, version, by, at, g, why, state in rows
    )


def _findings(
    con: duckdb.DuckDBPyConnection, model_name: str, lo: dt.datetime, hi: dt.datetime
) -> tuple[Finding, ...]:
    return tuple(
        f
        for f in list_findings_con(con, model_name)
        if f.opened_at < hi and (f.closed_at is None or f.closed_at >= lo)
    )


def _served(store: Store, model_name: str, lo: dt.datetime, hi: dt.datetime) -> list[Selection]:
    """A selection per version that logged predictions in the period."""
    out = []
    with store.connect() as con:
        for version in list_versions(con, model_name):
            span = data_range(con, model_name, version.model_version)
            if span is not None and span[0] < hi and span[1] >= lo:
                out.append(Selection(model_name, version.model_version, lo, hi))
    return out


def build_pack(
    store: Store,
    model_name: str,
    start: dt.date,
    end: dt.date,
    *,
    generated_by: str | None = None,
    progress: Progress | None = None,
    today: dt.date | None = None,
) -> EvidencePack:
    """Gather the pack; `progress(fraction, what)` is called before each slow step."""
    report = progress or (lambda fraction, what: None)
    lo, hi = _bounds(start, end)
    with store.connect() as con:
        model_tables(con, model_name)  # UnknownModelError naming the registered models
    report(0.0, "Verifying the audit chain")
    checkpoint = take_checkpoint(store)
    selections = _served(store, model_name, lo, hi)
    steps = len(selections) + 2
    monitoring = []
    for index, selection in enumerate(selections, start=1):
        report(
            index / steps,
            f"Summarising drift, performance and fairness of version {selection.model_version}",
        )
        monitoring.append(version_summary(store, selection))
    report((steps - 1) / steps, "Collecting alerts, decisions, gates and findings")
    with store.connect() as con:
        pack = EvidencePack(
            model_name=model_name,
            start=start,
            end=end,
            generated_at=now(),
            generated_by=generated_by,
            checkpoint=checkpoint,
            retention=status_con(con, model_name, today),
            inventory=get_entry(con, model_name),
            versions=_versions(con, model_name),
            plan=plan_con(con, model_name, today),
            monitoring=tuple(monitoring),
            alerts=_alerts(con, model_name, lo, hi),
            decisions=_decisions(con, model_name, lo, hi, checkpoint.records),
            gates=_gates(con, store, model_name, lo, hi),
            overrides=_overrides(con, model_name, lo, hi),
            findings=_findings(con, model_name, lo, hi),
        )
    report(1.0, "Pack assembled")
    return pack


def bundle(pack: EvidencePack, pdf_sha256: str | None = None) -> dict[str, Any]:
    """The pack as JSON-ready data, with the SHA-256 of the PDF drawn from it."""
    payload: dict[str, Any] = {"format": FORMAT, **to_jsonable(pack)}
    payload["pdf_sha256"] = pdf_sha256
    return payload


def bundle_json(pack: EvidencePack, pdf_sha256: str | None = None) -> bytes:
    return json.dumps(bundle(pack, pdf_sha256), indent=2, sort_keys=False).encode("utf-8")


def read_bundle(data: bytes) -> dict[str, Any]:
    """A bundle read back; refused when it is not one (for `vigil evidence --verify`)."""
    try:
        payload = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise EvidenceError(f"Not an evidence bundle (not JSON: {err}).") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise EvidenceError(f"Not an evidence bundle: its format is not {FORMAT}.")
    return payload
