"""Audit: the hash-chained log with filters, its verification, exports and sign-off reports."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.core.govern import audit, signoff

PAGE = PageSpec(title="Audit", icon=":material/receipt_long:", url_path="audit", needs_model=False)
ALL = "All"


def _chain(ctx: PageContext) -> None:
    report = audit.chain_report(ctx.store)
    chain = report.chain
    if chain.valid:
        st.success(f"Chain intact: {chain.records} records verified.")
        if report.head_hash:
            st.caption(
                f"Newest record hash `{report.head_hash}` — keep a copy elsewhere to detect "
                "removal of the newest records."
            )
    else:
        st.error(f"Chain broken at record {chain.first_broken_seq}: {chain.message}")
    for problem in report.mismatches:
        st.error(f"Registry disagrees with the log: {problem}")


def _filters(ctx: PageContext) -> audit.AuditFilter:
    options = audit.choices(ctx.store)
    columns = st.columns(4)
    picked = {}
    for column, (field, label) in zip(
        columns[:3],
        (("model_name", "Model"), ("action", "Action"), ("actor", "Actor")),
        strict=True,
    ):
        value = column.selectbox(label, [ALL, *options[field]], key=f"audit_{field}")
        picked[field] = None if value == ALL else value
    days = columns[3].date_input("Dates (UTC)", value=(), key="audit_dates")
    start = end = None
    if isinstance(days, tuple) and days:
        start, end = days[0], days[-1]
    elif isinstance(days, dt.date):
        start = end = days
    return audit.AuditFilter(picked["model_name"], picked["action"], picked["actor"], start, end)


def _table(records: list[dict]) -> None:
    frame = pd.DataFrame(
        [
            {
                "seq": r["seq"],
                "when (UTC)": r["recorded_at"],
                "who": f"{r['actor']} ({r['actor_role']})",
                "action": r["action"] + (" ⚠ override" if r["action"] == "override_gates" else ""),
                "model": r["model_name"],
                "version": r["model_version"],
                "status": f"{r['from_status'] or '—'} → {r['to_status'] or '—'}",
                "alias": r["alias"] or "",
                "rationale": r["rationale"],
                "hash": r["hash"][:16] + "…",
            }
            for r in reversed(records)  # newest first; exports keep chain order
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")


def render(ctx: PageContext) -> None:
    st.title("Audit log")
    _chain(ctx)
    flt = _filters(ctx)
    records = audit.search(ctx.store, flt)
    st.caption(f"{len(records)} records match.")
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
    st.subheader("Record details and sign-off report")
    labels = {
        r["seq"]: f"#{r['seq']} {r['action']} {r['model_name'] or ''} {r['model_version'] or ''} "
        f"by {r['actor']}"
        for r in reversed(records)
    }
    seq = st.selectbox("Record", list(labels), format_func=labels.get, key="audit_record")
    record = next(r for r in records if r["seq"] == seq)
    st.markdown(
        f"**{record['action']}** by {record['actor']} ({record['actor_role']}) at "
        f"{record['recorded_at']:%Y-%m-%d %H:%M:%S} UTC  \n"
        f"Hash `{record['hash']}`  \nPrevious `{record['prev_hash']}`"
    )
    st.download_button(
        "Download sign-off report (HTML)",
        data=signoff.build_report(ctx.store, seq),
        file_name=f"signoff-record-{seq}.html",
        mime="text/html",
        key="audit_signoff",
    )
    st.markdown("**Evidence snapshot, as recorded**")
    st.json(record["evidence"], expanded=False)
