"""The sign-off report: one self-contained HTML page per audit record, for the audit file.

HTML rather than PDF: it needs no extra dependency, opens anywhere, and "print to PDF" in any
browser makes the PDF an auditor may want. Every value from the store is escaped.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from typing import Any

from vigil.core.govern import audit
from vigil.core.govern.gates.results import GateOutcome, GatePhase, SavedGateResult
from vigil.core.registry.versions import ModelVersion, get_version
from vigil.core.store.connection import Store
from vigil.core.verdicts import Level
from vigil.core.views import words
from vigil.core.views.gates import label as gate_label
from vigil.core.views.gates import row as checklist_row

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:60rem;color:#1b1f24;line-height:1.4}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:1.8rem;
border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top;
font-size:.9rem}th{background:#f6f8fa;width:14rem}
.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}
.lead{font-size:1.1rem;font-weight:600}.na{color:#57606a}.mono{font-family:ui-monospace,Menlo,Consolas,monospace;
word-break:break-all}.note{color:#57606a;font-size:.85rem}
@media print{body{margin:0}}
"""


def _when(value: Any) -> str:
    """A time as people read it, '25 Nov 2026, 14:05 UTC', from a datetime or ISO text."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, dt.datetime):
        return f"{value.day} {value:%b %Y, %H:%M} UTC"
    if isinstance(value, dt.date):
        return f"{value.day} {value:%b %Y}"
    return str(value)


def _e(value: Any) -> str:
    """Escape anything for HTML text; None shows as an em dash, times as people read them."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return html.escape(f"{value:.4f}")
    if isinstance(value, dt.date):
        return html.escape(_when(value))
    if isinstance(value, dict | list):
        return html.escape(json.dumps(value, sort_keys=True, default=str))
    return html.escape(str(value))


def _status(value: str | None) -> str:
    """A stored status in words; '—' for none."""
    return "—" if not value else words.status(value)


def _figures(figures: dict[str, Any]) -> dict[str, Any]:
    """Live metrics of one version: nested under "metrics" since the typed evidence, flat in
    records written before it."""
    if isinstance(figures.get("metrics"), dict):
        return dict(figures["metrics"])
    return {
        k: v
        for k, v in figures.items()
        if k not in ("note", "predictions", "labelled", "enough_labels")
    }


def _kv(rows: list[tuple[str, Any]], mono: tuple[str, ...] = ()) -> str:
    cells = []
    for key, value in rows:
        css = " class='mono'" if key in mono else ""
        cells.append(f"<tr><th>{_e(key)}</th><td{css}>{_e(value)}</td></tr>")
    return f"<table>{''.join(cells)}</table>"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _inventory(version: ModelVersion, at_record: str | None) -> str:
    return _kv(
        [
            ("Model", version.model_name),
            ("Version", version.model_version),
            ("Status after this record", _status(at_record)),
            ("Status when this report was generated", version.status_label),
            ("Task", version.task),
            ("Owner", version.owner),
            ("Intended use", version.intended_use),
            ("Limitations", version.limitations),
            ("Risk tier", version.risk_tier),
            ("Next review date", version.next_review_date),
            ("Training date", version.training_date),
            ("Training data version", version.training_data_version),
            ("Code commit", version.code_commit),
            ("Hyperparameters", version.hyperparameters),
            ("Artifact SHA-256", version.artifact_sha256),
            ("Registered by", f"{version.registered_by}, {_when(version.registered_at)}"),
        ],
        mono=("Artifact SHA-256",),
    )


def _gates(evidence: dict[str, Any]) -> str:
    """The checklist as the Review page draws it (core.views.gates): words, not gate ids."""
    gates = evidence.get("gates")
    if not gates:
        return "<p class='na'>No gate results in this record.</p>"
    head = "".join(f"<th>{h}</th>" for h in ("Gate", "Outcome", "Seen", "Threshold", "Detail"))
    body = ""
    for saved in gates.get("results", []):
        r = checklist_row(
            SavedGateResult(
                GatePhase.APPROVAL, gates.get("checked_at"), saved["gate"],
                GateOutcome(saved["outcome"]), saved.get("observed"), saved.get("threshold"),
                saved["detail"],
            )
        )  # fmt: skip
        css = {GateOutcome.PASS: "pass", GateOutcome.FAIL: "fail"}.get(r.outcome, "na")
        body += (
            f"<tr><td>{_e(r.gate)}</td><td class='{css}'>{_e(r.outcome_text)}</td>"
            f"<td>{_e(r.observed)}</td><td>{_e(r.threshold)}</td><td>{_e(r.detail)}</td></tr>"
        )
    return (
        f"<table><tr>{head}</tr>{body}</table>"
        f"<p class='note'>Checked {_e(_when(gates.get('checked_at')))}.</p>"
    )


def _monitoring(evidence: dict[str, Any]) -> str:
    """The Overview's lines of each version on the decision's window, as they read then."""
    monitoring = evidence.get("monitoring") or {}
    if not monitoring:
        return "<p class='na'>Not recorded (records written before monitoring was frozen).</p>"
    rows = [
        [version, line["area"], Level(line["level"]).word, line["headline"]]
        for version, lines in monitoring.items()
        for line in lines
    ]
    return _table(["Version", "Area", "Verdict", "What it said"], rows)


def _metrics(evidence: dict[str, Any]) -> str:
    metrics = evidence.get("key_metrics") or {}
    candidate, champion = metrics.get("candidate") or {}, metrics.get("champion") or {}
    if not candidate and not champion:
        return "<p class='na'>No metrics in this record.</p>"
    names = sorted(set(candidate) | set(champion))
    cand = (evidence.get("candidate") or {}).get("model_version", "candidate")
    champ = (evidence.get("champion") or {}).get("model_version", "champion")
    return _table(
        ["Holdout metric", f"Candidate {cand}", f"Champion {champ}"],
        [[n, candidate.get(n), champion.get(n)] for n in names],
    )


def _drift(evidence: dict[str, Any]) -> str:
    drift = evidence.get("drift") or {}
    window = drift.get("window")
    psi = drift.get("psi") or {}
    if not window or not psi:
        return "<p class='na'>No drift comparison (no champion traffic to compare with).</p>"
    intro = (
        f"<p>Reference data of the candidate vs {_e(window['rows'])} predictions of champion "
        f"{_e(window['champion_version'])} from {_e(_when(window['start']))} to "
        f"{_e(_when(window['end']))}; threshold {_e(drift.get('threshold'))}.</p>"
    )
    return intro + _table(["Feature", "PSI"], [[k, v] for k, v in sorted(psi.items())])


def _traffic(evidence: dict[str, Any]) -> str:
    traffic = evidence.get("traffic") or []
    if not traffic:
        return "<p class='na'>No traffic counts in this record.</p>"
    return _table(
        ["Version", "From", "To", "Predictions", "Errors", "Labelled"],
        [
            [
                t["model_version"],
                _when(t["window_start"]),
                _when(t["window_end"]),
                t["predictions"],
                t["errors"],
                t["labelled"],
            ]
            for t in traffic
        ],
    )


def _performance(evidence: dict[str, Any]) -> str:
    live = evidence.get("live_performance") or {}
    rows = [(version, figures) for version, figures in live.items() if isinstance(figures, dict)]
    if not rows:
        note = live.get("note") if isinstance(live.get("note"), str) else None
        return f"<p class='na'>{_e(note or 'No live performance in this record.')}</p>"
    metrics = sorted({k for _, f in rows for k in _figures(f)})
    return _table(
        ["Version", "Predictions", "Labelled", *metrics, "Note"],
        [
            [v, f.get("predictions"), f.get("labelled"), *(_figures(f).get(m) for m in metrics),
             f.get("note")]
            for v, f in rows
        ],
    )  # fmt: skip


def build_report(store: Store, seq: int) -> bytes:
    """The HTML sign-off report for audit record `seq`, as UTF-8 bytes."""
    with store.connect() as con:
        record = audit.get_record(con, seq)
        chain = audit.verify(con)
        version = (
            get_version(con, record["model_name"], record["model_version"])
            if record["model_name"] and record["model_version"]
            else None
        )
        related = [
            r
            for r in audit.query(con, audit.AuditFilter(model_name=record["model_name"]))
            if r["seq"] != seq
            and (
                r["evidence"].get("decision_seq") == seq
                or (
                    record["evidence"].get("request_id") is not None
                    and r["evidence"].get("request_id") == record["evidence"].get("request_id")
                )
            )
        ]
    return _page(record, version, related, chain)


def _decision(record: dict[str, Any]) -> str:
    """Who decided what, when and why: the first thing an auditor reads."""
    subject = f"{record['model_name'] or ''} {record['model_version'] or ''}".strip()
    lead = (
        f"<p class='lead'>{_e(record['actor'])} ({_e(record['actor_role'])}): "
        f"{_e(words.action(record['action']).lower())}, {_e(subject)}, "
        f"{_e(_when(record['recorded_at']))}.</p>"
    )
    return lead + _kv(
        [
            ("Decision", words.action(record["action"])),
            ("Model and version", subject),
            ("Status change", f"{_status(record['from_status'])} → {_status(record['to_status'])}"),
            ("Alias moved", record["alias"]),
            ("Decided by", f"{record['actor']} ({record['actor_role']})"),
            ("When", record["recorded_at"]),
            ("Rationale", record["rationale"]),
        ]
    )


def _override(evidence: dict[str, Any]) -> str:
    request = evidence.get("request") or {}
    if not request.get("override_by"):
        return ""
    failed = ", ".join(gate_label(g) for g in request.get("override_gates") or [])
    return (
        f"<p class='fail'>Failed gates overridden by {_e(request['override_by'])} "
        f"(audit record {_e(request.get('override_seq'))}): {_e(failed)}.</p>"
    )


def _related(related: list[dict[str, Any]]) -> str:
    if not related:
        return "<p class='na'>None.</p>"
    return _table(
        ["Record", "When", "Who", "What", "Version", "Rationale"],
        [
            [r["seq"], r["recorded_at"], f"{r['actor']} ({r['actor_role']})",
             words.action(r["action"]), r["model_version"], r["rationale"]]
            for r in related
        ],
    )  # fmt: skip


def _attachment(seq: int, evidence: dict[str, Any]) -> str:
    """The evidence exactly as recorded, as a JSON file to download and a folded view."""
    text = json.dumps(evidence, indent=2, sort_keys=True, default=str)
    data = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return (
        f"<p><a download='evidence-{seq}.json' href='data:application/json;base64,{data}'>"
        f"Download the evidence as recorded (JSON, {len(text) / 1024:.1f} KB)</a></p>"
        "<details><summary>Show the JSON</summary>"
        f"<pre class='mono' style='white-space:pre-wrap'>{html.escape(text)}</pre></details>"
    )


def _page(
    record: dict[str, Any],
    version: ModelVersion | None,
    related: list[dict[str, Any]],
    chain: Any,
) -> bytes:
    seq, evidence = record["seq"], record["evidence"]
    subject = f"{record['model_name'] or ''} {record['model_version'] or ''}".strip()
    title = f"Sign-off: {words.action(record['action'])}, {subject} (audit record {seq})"
    chain_line = (
        f"<p class='pass'>Chain intact: {chain.records} records verified when this report was "
        "generated.</p>"
        if chain.valid
        else f"<p class='fail'>Chain broken: {_e(chain.message)}</p>"
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p class='note'>Generated {_e(now)} by Vigil. Every figure below is as recorded "
        "with the decision, not as it reads today.</p>",
        "<h2>Decision</h2>",
        _decision(record),
        _override(evidence),
        "<h2>Gate checks at the time of the decision</h2>",
        _gates(evidence),
        "<h2>Monitoring at the time of the decision</h2>",
        _monitoring(evidence),
        "<h2>Live performance (labelled traffic, same window)</h2>",
        _performance(evidence),
        "<h2>Live traffic</h2>",
        _traffic(evidence),
        "<h2>Drift against the champion's traffic</h2>",
        _drift(evidence),
        "<h2>Validation metrics (holdout)</h2>",
        _metrics(evidence),
        "<h2>Fairness at validation (holdout)</h2>",
        _table(
            ["Metric", "Value"],
            [[k, v] for k, v in sorted((evidence.get("fairness") or {}).items())],
        )
        if evidence.get("fairness")
        else "<p class='na'>No fairness figures in this record.</p>",
        "<h2>Model inventory entry</h2>",
        _inventory(version, record["to_status"] or record["from_status"])
        if version
        else "<p class='na'>Not about a model version.</p>",
        "<h2>Related audit records</h2>",
        _related(related),
        "<h2>Chain of custody</h2>",
        _kv(
            [
                ("Record", seq),
                ("Previous hash", record["prev_hash"]),
                ("Record hash", record["hash"]),
            ],
            mono=("Previous hash", "Record hash"),
        ),
        chain_line,
        "<h2>Attachment: the evidence as recorded</h2>",
        _attachment(seq, evidence),
        "</body></html>",
    ]
    return "".join(parts).encode("utf-8")
