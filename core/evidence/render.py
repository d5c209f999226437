"""The evidence pack as a PDF a supervisor reads front to back: checkpoint and retention first,
then inventory, monitoring plan, monitoring summaries with charts, alerts, decisions, gates
and overrides, findings. Drawn from the same EvidencePack the JSON bundle holds."""

from __future__ import annotations

import datetime as dt

from vigil.core.evidence.inventory import FIELD_LABELS, STORED
from vigil.core.evidence.pack import EvidencePack
from vigil.core.evidence.pdf import Document, latin
from vigil.core.evidence.plan import MonitoringPlan, Threshold
from vigil.core.evidence.summaries import AttributeSummary, VersionSummary

FOUR_FIFTHS = 0.8


def _day(moment: dt.datetime) -> str:
    return f"{moment:%m-%d}"


def _span(start: dt.datetime, end: dt.datetime) -> str:
    """A window as inclusive days (windows are stored with an exclusive end)."""
    last = (end - dt.timedelta(microseconds=1)).date()
    return f"{start:%Y-%m-%d}" if last == start.date() else f"{start:%Y-%m-%d} to {last}"


def _cover(doc: Document, pack: EvidencePack) -> None:
    doc.heading(f"Evidence pack: {pack.model_name}", 0)
    doc.paragraph(
        f"Period {pack.start} to {pack.end} (UTC, inclusive). Generated {latin(pack.generated_at)}"
        + (f" by {pack.generated_by}." if pack.generated_by else ".")
    )
    cp = pack.checkpoint
    doc.heading("Audit chain checkpoint", 2)
    doc.paragraph(
        f"Records in the audit log: {cp.records}. Chain verification: "
        f"{'intact' if cp.chain_valid else 'BROKEN'} - {cp.message} Records listed in this "
        "pack are those up to this checkpoint. Head hash (the last record's hash):"
    )
    doc.mono(cp.head_hash or "(empty log)")
    doc.paragraph(cp.keying)
    if cp.signature:
        doc.paragraph(
            f"Signature (HMAC-SHA256 with audit key {cp.key_id}) of these {cp.records} records:"
        )
        doc.mono(cp.signature)
        doc.paragraph("The signed checkpoint line, as written outside the database:")
    elif cp.signed_checkpoint:
        doc.paragraph(
            f"Newest signed checkpoint (covers {cp.signed_records} records; records "
            "after it are not yet signed):"
        )
    else:
        doc.paragraph(
            "Signature: none. No signed checkpoint exists for this store (no audit "
            "key configured, or no change since it was)."
        )
    if cp.signed_checkpoint:
        doc.mono_wrapped(cp.signed_checkpoint)
    doc.paragraph(f"Checkpoints: {cp.checkpoints}")
    if cp.mismatches:
        doc.paragraph("State cross-checks FAILED:", style="B")
        for problem in cp.mismatches:
            doc.paragraph(f"- {problem}")
    else:
        doc.paragraph("State cross-checks: registry, inventory and findings agree with the log.")
    r = pack.retention
    doc.heading("Retention of raw logs", 2)
    doc.paragraph(
        f"Raw prediction logs are kept {r.months} months (the floor is 6 months, EU AI Act "
        f"Art. 26(6)); rows served before {r.cutoff:%Y-%m-%d} may be purged. Stored now: "
        f"{r.raw_rows} rows, oldest {latin(r.oldest_row)}; {r.rows_past_retention} past "
        f"retention. Day profiles kept: {r.profiled_days} (model, version, day) profiles."
    )


def _inventory(doc: Document, pack: EvidencePack) -> None:
    entry = pack.inventory
    doc.heading("1. Inventory entry")
    source = (
        f"Recorded; last changed by {entry.updated_by} at {latin(entry.updated_at)} "
        f"(revision {entry.row_version})."
        if entry.recorded
        else f"Not recorded in Vigil yet: values from version {entry.source_version}'s metadata."
    )
    doc.paragraph(source, style="I")
    values = entry.values()
    doc.key_values([(FIELD_LABELS[name], values[name]) for name in STORED])
    doc.heading("Versions", 2)
    doc.grid(
        ("Version", "Status", "Aliases", "Trained", "Registered", "Artifact SHA-256"),
        [
            (
                v.model_version,
                v.status,
                ", ".join(v.aliases),
                v.training_date,
                f"{v.registered_at:%Y-%m-%d} by {v.registered_by}",
                v.artifact_sha256[:16] + "...",
            )
            for v in pack.versions
        ],
        widths=(1, 1.4, 1.1, 1.2, 2, 2.2),
    )


def _setter(t: Threshold) -> str:
    if t.set_by is None:
        return "default"
    text = t.set_by + (f", confirmed by {t.confirmed_by}" if t.confirmed_by else "")
    return text if t.trusted else text + " - NOT BACKED BY THE AUDIT LOG, NOT USED"


def _thresholds(doc: Document, plan: MonitoringPlan) -> None:
    doc.heading("Gate and drift thresholds", 2)
    doc.grid(
        ("Kind", "Gate or test", "Column", "Threshold", "Default", "Set by", "Record"),
        [
            (t.kind, t.name, t.feature, t.value, t.default, _setter(t), t.audit_seq)
            for t in plan.thresholds
        ],
        widths=(0.7, 1.6, 1.2, 0.9, 0.9, 2.2, 0.7),
    )
    if plan.pending_changes:
        doc.heading("Changes awaiting a second admin (not in force)", 2)
        doc.grid(
            ("Change", "Threshold", "From", "To", "Proposed by", "Why"),
            [
                (
                    c.change_id,
                    f"{c.kind} {c.name} ({c.feature})",
                    c.old,
                    c.new,
                    f"{c.proposed_by}, {latin(c.proposed_at)}",
                    c.rationale,
                )
                for c in plan.pending_changes
            ],
        )


def _plan(doc: Document, plan: MonitoringPlan) -> None:
    doc.heading("2. Monitoring plan")
    review = (
        f"next {plan.review.next_review} ({plan.review.state.label}; {plan.review.basis})."
        if plan.review
        else "not scheduled."
    )
    doc.paragraph(
        f"Version {plan.version} (as of {latin(plan.as_of)}); content SHA-256 "
        f"{plan.content_sha256[:16]}... Review: {review} Raw-log retention "
        f"{plan.retention_months} months."
    )
    doc.grid(("Role", "Who"), plan.owners, widths=(1, 2))
    _thresholds(doc, plan)
    doc.heading("Alert rules (window = granularity)", 2)
    doc.grid(
        ("Rule", "Condition", "Severity", "Enabled", "Owner"),
        [
            (r.rule_id, r.condition(), r.severity, r.enabled, r.updated_by or r.created_by)
            for r in plan.alert_rules
        ],
        widths=(0.6, 3.4, 1, 0.8, 1),
    )
    doc.heading("Plan history (who changed what, when, why)", 2)
    doc.grid(
        ("v", "Record", "When", "Who", "Change", "Why"),
        [
            (
                c.version,
                c.seq,
                latin(c.recorded_at),
                f"{c.actor} ({c.actor_role})",
                c.action,
                c.rationale,
            )
            for c in plan.history
        ],
        widths=(0.4, 0.6, 1.5, 1.3, 1.5, 3.2),
    )


def _fairness(doc: Document, item: AttributeSummary) -> None:
    doc.paragraph(
        f"{item.attribute}: {item.verdict}; demographic parity ratio "
        f"{latin(item.demographic_parity_ratio)}, equalized odds ratio "
        f"{latin(item.equalized_odds_ratio)}.",
        style="B",
    )
    rates = [g.selection_rate for g in item.groups]
    top = max([r for r in rates if r is not None], default=None)
    doc.bar_chart(
        f"Approval rate by group: {item.attribute}",
        [g.group for g in item.groups],
        rates,
        high=1.0,
        reference=None if top is None else top * FOUR_FIFTHS,
        reference_label="four-fifths of the top group",
    )
    doc.grid(
        ("Group", "Approval rate", "Ratio to top group", "Status"),
        [(g.group, g.selection_rate, g.ratio, g.status) for g in item.groups],
    )
    for statement in item.statements:
        doc.paragraph(statement, size=8)


def _version(doc: Document, summary: VersionSummary) -> None:
    doc.heading(
        f"Version {summary.model_version}: {summary.start:%Y-%m-%d} to "
        f"{summary.end - dt.timedelta(days=1):%Y-%m-%d}",
        2,
    )
    for note in summary.notes:
        doc.paragraph(note, style="I")
    if summary.drift is not None:
        drift = summary.drift
        doc.paragraph(f"Drift: {drift.verdict}", style="B")
        doc.bar_chart(
            "Share of drifted features per week",
            [_day(p.start) for p in drift.share_by_window],
            [p.value for p in drift.share_by_window],
            high=1.0,
            reference=drift.share_threshold,
            reference_label="dataset drift threshold",
        )
        doc.grid(
            ("Column", "Test", "Statistic", "Threshold", "PSI", "Status"),
            [
                (f.feature, f.test, f.statistic, f.threshold, f.psi, f.status)
                for f in drift.features
            ],
        )
    if summary.performance is not None:
        perf = summary.performance
        doc.paragraph(
            f"Performance: {perf.labelled} labelled of {perf.predictions} predictions; "
            f"status {perf.status}.",
            style="B",
        )
        validation = next((m.validation for m in perf.metrics if m.metric == perf.headline), None)
        doc.line_chart(
            f"{perf.headline} per week (weeks with too few labels left out)",
            [_day(p.start) for p in perf.headline_by_window],
            [p.value for p in perf.headline_by_window],
            reference=validation,
            reference_label="at validation",
        )
        doc.grid(
            ("Metric", "Value", "95 % low", "95 % high", "At validation"),
            [(m.metric, m.value, m.low, m.high, m.validation) for m in perf.metrics],
        )
    for item in summary.fairness:
        _fairness(doc, item)


def _alerts(doc: Document, pack: EvidencePack) -> None:
    doc.heading("4. Alerts and how they were handled")
    doc.grid(
        ("Alert", "Version", "Severity", "Condition", "Window", "Fired", "Handling"),
        [
            (
                a.alert_id,
                a.model_version,
                a.severity,
                a.condition,
                _span(a.window_start, a.window_end),
                latin(a.fired_at),
                a.handling,
            )
            for a in pack.alerts
        ],
        widths=(0.6, 0.7, 0.9, 2, 1.6, 1.4, 2),
    )


def _decisions(doc: Document, pack: EvidencePack) -> None:
    doc.heading("5. Decisions and changes, with their rationales")
    doc.grid(
        ("Record", "When", "Who", "Action", "Version", "Status", "Rationale"),
        [
            (
                d.seq,
                latin(d.recorded_at),
                f"{d.actor} ({d.actor_role})",
                d.action,
                d.model_version,
                f"{d.from_status or ''} -> {d.to_status}" if d.to_status else "",
                d.rationale,
            )
            for d in pack.decisions
        ],
        widths=(0.6, 1.4, 1.2, 1.3, 0.7, 1.4, 3),
    )


def _gates(doc: Document, pack: EvidencePack) -> None:
    doc.heading("6. Gates and overrides")
    doc.grid(
        ("Version", "Request", "Phase", "Checked", "Gate", "Outcome", "Detail"),
        [
            (
                g.model_version,
                g.request_id or "-",
                g.phase,
                latin(g.checked_at),
                g.gate,
                g.outcome,
                g.detail,
            )
            for g in pack.gates
        ],
        widths=(0.7, 0.7, 0.8, 1.4, 1.5, 0.8, 3.5),
    )
    doc.heading("Gate overrides", 2)
    doc.grid(
        ("Request", "Version", "By", "When", "Gates overridden", "Rationale", "Request state"),
        [
            (
                o.request_id,
                o.model_version,
                o.override_by,
                latin(o.override_at),
                ", ".join(o.gates),
                o.rationale,
                o.request_state,
            )
            for o in pack.overrides
        ],
    )


def _findings(doc: Document, pack: EvidencePack) -> None:
    doc.heading("7. Findings")
    doc.grid(
        ("Finding", "Severity", "Status", "Owner", "Due", "Opened", "Closed", "Remediation"),
        [
            (
                f"#{f.finding_id} {f.title}",
                f.severity.value,
                f.status.label,
                f.owner,
                f.due_date,
                f"{f.opened_at:%Y-%m-%d} by {f.opened_by}",
                f"{f.closed_at:%Y-%m-%d} by {f.closed_by}" if f.closed_at else "",
                f.remediation_plan,
            )
            for f in pack.findings
        ],
        widths=(2, 0.8, 1, 1.2, 1, 1.3, 1.3, 2.4),
    )
    for f in pack.findings:
        if f.closure_evidence:
            confirmed = f" Confirmed by {f.closed_by}: {f.closure_rationale}" if f.closed_by else ""
            doc.paragraph(
                f"#{f.finding_id} closure evidence ({f.closure_proposed_by}): "
                f"{f.closure_evidence}{confirmed}",
                size=8,
            )


def render_pdf(pack: EvidencePack) -> bytes:
    """The pack as PDF bytes."""
    head = (pack.checkpoint.head_hash or "empty")[:12]
    doc = Document(
        f"Vigil evidence pack - {pack.model_name} - {pack.start} to {pack.end} - "
        f"chain {pack.checkpoint.records} records, head {head}"
    )
    doc.add_page()
    _cover(doc, pack)
    _inventory(doc, pack)
    _plan(doc, pack.plan)
    doc.add_page()
    doc.heading("3. Monitoring summaries")
    if not pack.monitoring:
        doc.paragraph("No version of the model served predictions in the period.", style="I")
    for summary in pack.monitoring:
        _version(doc, summary)
    doc.add_page()
    for section in (_alerts, _decisions, _gates, _findings):
        section(doc, pack)
    return bytes(doc.output())
