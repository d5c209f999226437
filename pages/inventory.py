"""Inventory: every model's inventory entry, its edit form (each field by the role that owns
it), its change history, and the evidence pack for a period (PDF and JSON bundle)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pandas as pd
import streamlit as st

from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.core.errors import VigilError
from vigil.core.evidence import inventory, inventory_history
from vigil.core.evidence.inventory import (
    FIELD_LABELS,
    STORED,
    AiActRiskClass,
    AiActRole,
    InventoryEntry,
    MaterialityTier,
    ValidationStatus,
)
from vigil.core.evidence.pack import build_pack, bundle_json
from vigil.core.evidence.render import render_pdf

PAGE = PageSpec(
    title="Inventory", icon=":material/fact_check:", url_path="inventory", needs_model=False
)
FLASH = "inventory_flash"
PACK = "inventory_pack"  # {"key": (model, from, to), "pdf": bytes, "json": bytes, "head": str}
NONE = "(none)"
CHOICES: dict[str, list[str]] = {
    "materiality_tier": [NONE, *(t.value for t in MaterialityTier)],
    "validation_status": [s.value for s in ValidationStatus],
    "ai_act_role": [NONE, *(r.value for r in AiActRole)],
    "ai_act_risk_class": [NONE, *(c.value for c in AiActRiskClass)],
}
LONG_TEXT = ("intended_use", "limitations", "post_model_adjustments")


def _overview(entries: list[InventoryEntry]) -> None:
    frame = pd.DataFrame(
        [
            {
                "model": e.model_name,
                "tier": e.materiality_tier or "",
                "owner": e.owner or "",
                "validator": e.validator or "",
                "validation": e.validation_status.label,
                "validated on": e.validation_date,
                "vendor model": "yes" if e.vendor_model else "no",
                "AI Act role": e.ai_act_role or "",
                "AI Act risk class": e.ai_act_risk_class or "",
                "recorded": f"revision {e.row_version}" if e.recorded else "from metadata",
            }
            for e in entries
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch", key="inventory_all")


def _entry_table(entry: InventoryEntry) -> None:
    values = entry.values()
    st.dataframe(
        pd.DataFrame(
            {
                "field": [FIELD_LABELS[n] for n in STORED],
                "value": ["" if values[n] is None else str(values[n]) for n in STORED],
            }
        ),
        hide_index=True,
        width="stretch",
        key="inventory_entry",
    )
    if entry.recorded:
        st.caption(
            f"Revision {entry.row_version}, last changed {entry.updated_at:%Y-%m-%d %H:%M} UTC."
        )
    else:
        st.caption(
            f"Not recorded in Vigil yet: values from version {entry.source_version}'s "
            "registration metadata. Saving the form records the entry."
        )


def _widget(name: str, entry: InventoryEntry, enabled: bool) -> Any:
    label, key = FIELD_LABELS[name], f"inventory_field_{name}"
    current = getattr(entry, name)
    help_text = None if enabled else "Your role cannot change this field."
    if name in CHOICES:
        options = CHOICES[name]
        index = options.index(current.value) if current is not None else 0
        return st.selectbox(
            label, options, index=index, disabled=not enabled, key=key, help=help_text
        )
    if name == "vendor_model":
        return st.checkbox(label, value=current, disabled=not enabled, key=key, help=help_text)
    if name == "validation_date":
        return st.date_input(label, value=current, disabled=not enabled, key=key, help=help_text)
    widget = st.text_area if name in LONG_TEXT else st.text_input
    return widget(label, value=current or "", disabled=not enabled, key=key, help=help_text)


def _edit_form(ctx: PageContext, entry: InventoryEntry) -> None:
    editable = set(inventory.editable_fields(ctx.user))
    if not editable:
        st.info("Viewers read the inventory; analysts, approvers and admins edit it.")
        return
    with st.form("inventory_edit"):
        st.caption(
            "Analysts document the model (owner, use, limitations, vendor); approvers and "
            "admins set the tier, validation, EU AI Act classification and post-model "
            "adjustments. The validator must not have developed the model."
        )
        values = {name: _widget(name, entry, name in editable) for name in STORED}
        rationale = st.text_area("Rationale (recorded in the audit log)", key="inventory_why")
        submitted = st.form_submit_button("Save entry", type="primary")
    if not submitted:
        return
    changes = {
        k: (None if v == NONE else v)
        for k, v in values.items()
        if k in editable and (None if v == NONE else v) != _shown(entry, k)
    }
    if not changes and entry.recorded:
        st.warning("Nothing changed.")
        return
    try:
        inventory.update_entry(
            ctx.store,
            ctx.user,
            entry.model_name,
            changes or {"owner": entry.owner},
            rationale,
            expected_row_version=entry.row_version,
        )
    except VigilError as err:
        st.error(str(err))
        return
    st.session_state[FLASH] = f"Inventory entry of {entry.model_name} saved."
    st.rerun()


def _shown(entry: InventoryEntry, name: str) -> Any:
    """The field's current value as its widget shows it."""
    value = getattr(entry, name)
    if name in CHOICES:
        return None if value is None else value.value
    if name in ("vendor_model", "validation_date"):
        return value
    return value or ""


def _history(ctx: PageContext, model: str) -> None:
    changes = inventory_history.history(ctx.store, model)
    if not changes:
        st.caption("No change recorded yet.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "record": c.seq,
                    "when (UTC)": c.recorded_at,
                    "who": f"{c.actor} ({c.actor_role})",
                    "changes": "; ".join(f"{f}: {old} → {new}" for f, old, new in c.changes),
                    "rationale": c.rationale,
                }
                for c in changes
            ]
        ),
        hide_index=True,
        width="stretch",
        key="inventory_history",
    )


def _pack(ctx: PageContext, model: str) -> None:
    today = dt.datetime.now(dt.UTC).date()
    left, right = st.columns(2)
    start = left.date_input("From (UTC)", today - dt.timedelta(days=89), key="pack_from")
    end = right.date_input("To (UTC, inclusive)", today, key="pack_to")
    key = (model, str(start), str(end))
    if st.button("Build evidence pack", key="pack_build", type="primary"):
        bar = st.progress(0.0, text="Starting")
        try:
            pack = build_pack(
                ctx.store,
                model,
                start,
                end,
                generated_by=ctx.user.username,
                progress=lambda fraction, what: bar.progress(fraction, text=what),
            )
        except VigilError as err:
            st.error(str(err))
            return
        pdf = render_pdf(pack)
        st.session_state[PACK] = {
            "key": key,
            "pdf": pdf,
            "json": bundle_json(pack, hashlib.sha256(pdf).hexdigest()),
            "head": pack.checkpoint.head_hash or "empty log",
            "records": pack.checkpoint.records,
        }
        bar.empty()
    built = st.session_state.get(PACK)
    if not built or built["key"] != key:
        st.caption("The pack verifies the audit chain and summarises every version that served.")
        return
    st.caption(f"Audit chain checkpoint: {built['records']} records, head hash {built['head']}.")
    name = f"evidence-{model}-{start}-{end}"
    left, right = st.columns(2)
    left.download_button(
        "Download evidence pack (PDF)",
        built["pdf"],
        f"{name}.pdf",
        mime="application/pdf",
        key="pack_pdf",
    )
    right.download_button(
        "Download bundle (JSON)",
        built["json"],
        f"{name}.json",
        mime="application/json",
        key="pack_json",
    )


def render(ctx: PageContext) -> None:
    st.title("Model inventory")
    if FLASH in st.session_state:
        st.success(st.session_state.pop(FLASH))
    entries = inventory.entries(ctx.store)
    if not entries:
        st.info("No model is registered yet. Register one with `vigil register`.")
        return
    _overview(entries)
    models = [e.model_name for e in entries]
    default = models.index(ctx.model_name) if ctx.model_name in models else 0
    model = st.selectbox("Model", models, index=default, key="inventory_model")
    entry = next(e for e in entries if e.model_name == model)
    st.subheader(f"Inventory entry of {model}")
    _entry_table(entry)
    with st.expander("Edit the entry", expanded=False):
        _edit_form(ctx, entry)
    st.subheader("Change history")
    _history(ctx, model)
    st.subheader("Evidence pack")
    _pack(ctx, model)
