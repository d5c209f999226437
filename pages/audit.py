"""Audit: the keyed, hash-chained log with filters, its verification beside its checkpoints,
exports and sign-off reports.

Everything people wrote (rationales, names, evidence) and every message that quotes it is
drawn as text, never as markdown: a rationale must not be able to draw a badge or fetch an
image in a reviewer's browser.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.core.govern import audit, audit_report, signoff
from vigil.core.govern.checkpoints import CheckpointState
from vigil.core.views import words

PAGE = PageSpec(title="Audit", icon=":material/receipt_long:", url_path="audit", needs_model=False)
ALL = "All"


def when(moment: dt.datetime | None) -> str:
    """The page's one time format, with its zone: '24 Nov 2026, 14:05:07 UTC'. The log keeps
    UTC (naive datetimes are UTC); seconds matter, records often share a minute."""
    if moment is None:
        return "–"
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return f"{moment.day} {moment:%b %Y, %H:%M:%S} UTC"


def _chain(ctx: PageContext) -> None:
    report = audit_report.chain_report(ctx.store)
    chain, checkpoint = report.chain, report.checkpoint
    left, right = st.columns(2)
    with left:
        if chain.valid:
            st.success(f"Chain intact: {chain.records} records verified.")
        else:
            st.error(f"Chain broken at record {chain.first_broken_seq}.")
            st.text(chain.message)
        st.text(report.keying)
    with right:
        if checkpoint.state is CheckpointState.MATCHES:
            st.success(f"Checkpoints match: {checkpoint.checked} checked.")
        elif checkpoint.state is CheckpointState.BROKEN:
            st.error("Checkpoints do not match the log.")
        else:
            st.warning("No checkpoint to compare with.")
        st.text(checkpoint.message)
        if checkpoint.newest is not None:
            st.caption("Newest checkpoint: keep a copy where the key holder cannot edit it.")
            st.code(checkpoint.newest.to_line(), language=None, wrap_lines=True)
    if report.mismatches:
        n = len(report.mismatches)
        st.error(f"The governed tables disagree with the audit log ({n} row{'s' * (n != 1)}).")
        for problem in report.mismatches:
            st.text(problem)


def _filters(ctx: PageContext) -> audit.AuditFilter:
    options = audit.choices(ctx.store)
    columns = st.columns(4)
    picked = {}
    for column, (field, label) in zip(
        columns[:3],
        (("model_name", "Model"), ("action", "Action"), ("actor", "Actor")),
        strict=True,
    ):
        value = column.selectbox(
            label,
            [ALL, *options[field]],
            format_func=(lambda a: a if a == ALL else words.action(a))
            if field == "action"
            else str,
            key=f"audit_{field}",
        )
        picked[field] = None if value == ALL else value
    days = columns[3].date_input("Dates (UTC)", value=[], key="audit_dates")
    start = end = None
    if isinstance(days, tuple) and days:
        start, end = days[0], days[-1]
    elif isinstance(days, dt.date):
        start = end = days
    return audit.AuditFilter(picked["model_name"], picked["action"], picked["actor"], start, end)


def _table(records: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(
        [
            {
                "seq": r["seq"],
                "when": when(r["recorded_at"]),
                "who": f"{r['actor']} ({r['actor_role']})",
                "action": words.action(r["action"])
                + (" ⚠" if r["action"] == "override_gates" else ""),
                "model": r["model_name"] or "—",
                "version": r["model_version"] or "—",
                "status": _change(r),
                "rationale": r["rationale"] or "—",
            }
            for r in reversed(records)  # newest first; exports keep chain order
        ]
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "seq": st.column_config.NumberColumn("record", width="small"),
            "version": st.column_config.TextColumn(width="small"),
            "status": st.column_config.TextColumn(width="medium"),
            "rationale": st.column_config.TextColumn(width="large"),
        },
    )
    st.caption("Hashes and the evidence of a record are under Record details below.")


def _change(record: dict[str, Any]) -> str:
    """'Pending approval → Production (champion)'; '—' for records that change no status."""
    if not record["from_status"] and not record["to_status"]:
        return "—"
    moved = f" ({record['alias']})" if record["alias"] else ""
    return f"{words.status(record['from_status'])} → {words.status(record['to_status'])}{moved}"


def _details(ctx: PageContext, records: list[dict[str, Any]]) -> None:
    st.subheader("Record details and sign-off report")
    labels = {
        r["seq"]: f"#{r['seq']} {words.action(r['action'])}, "
        + " ".join(x for x in (r["model_name"], r["model_version"]) if x)
        + f" by {r['actor']}"
        for r in reversed(records)
    }
    seq = st.selectbox("Record", list(labels), format_func=lambda s: labels[s], key="audit_record")
    if seq is None:
        return
    record = next(r for r in records if r["seq"] == seq)
    st.text(
        f"{words.action(record['action'])} by {record['actor']} ({record['actor_role']}), "
        f"{when(record['recorded_at'])}\n"
        f"Rationale: {record['rationale']}\n"
        f"Hash:      {record['hash']}\n"
        f"Previous:  {record['prev_hash']}"
    )
    st.download_button(
        "Download sign-off report (HTML)",
        data=signoff.build_report(ctx.store, seq),
        file_name=f"signoff-record-{seq}.html",
        mime="text/html",
        key="audit_signoff",
    )
    st.caption("Evidence snapshot, as recorded")
    st.json(record["evidence"], expanded=False)


def render(ctx: PageContext) -> None:
    st.title("Audit log")
    _chain(ctx)
    flt = _filters(ctx)
    records = audit.search(ctx.store, flt)
    n = len(records)
    st.caption(f"{n} record{' matches' if n == 1 else 's match'}. Times are UTC.")
    if not records:
        st.info("No audit record matches these filters.")
        return
    _table(records)
    left, middle, _ = st.columns([1, 1, 2])
    left.download_button(
        "Export CSV",
        data=audit.export_csv(records),
        file_name="vigil-audit.csv",
        mime="text/csv",
        key="audit_export_csv",
    )
    middle.download_button(
        "Export JSON",
        data=audit.export_json(records),
        file_name="vigil-audit.json",
        mime="application/json",
        key="audit_export_json",
    )
    _details(ctx, records)
