"""Review calendar: every model by next review date, overdue first; the review cadence per
tier and the raw-log retention (settable, audited); the retention status and the purge."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd
import streamlit as st

from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.core.errors import VigilError
from vigil.core.evidence import calendar, policy, retention
from vigil.core.evidence.calendar import ReviewItem, ReviewState
from vigil.core.evidence.common import ADMIN_ROLES, RISK_ROLES
from vigil.core.evidence.inventory import MaterialityTier

PAGE = PageSpec(
    title="Review calendar", icon=":material/event:", url_path="calendar", needs_model=False
)
FLASH = "calendar_flash"
PURGE_CONFIRM = "calendar_purge_confirm"


def _table(items: list[ReviewItem]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "model": i.model_name,
                "review": i.state.label,
                "next review": i.next_review,
                "days left": i.days_left,
                "tier": i.tier.value if i.tier else "not recorded",
                "cadence (months)": i.cadence_months,
                "last validation": i.last_validation,
                "validation status": i.validation_status.label,
                "validator": i.validator or "",
                "owner": i.owner or "",
                "how the date was set": i.basis,
            }
            for i in items
        ]
    )


def _calendar(ctx: PageContext) -> None:
    items = calendar.calendar(ctx.store)
    if not items:
        st.info("No model is registered yet. Register one with `vigil register`.")
        return
    overdue = [i for i in items if i.state is ReviewState.OVERDUE]
    soon = [i for i in items if i.state is ReviewState.DUE_SOON]
    left, middle, right = st.columns(3)
    left.metric("Models", len(items))
    middle.metric("Reviews overdue", len(overdue))
    right.metric(f"Due within {calendar.DUE_SOON_DAYS} days", len(soon))
    if overdue:
        st.error(f"{len(overdue)} review(s) overdue: listed first below.")
    st.dataframe(_table(items), hide_index=True, width="stretch", key="calendar_table")
    st.caption(
        "Next review = last validation date + the tier's cadence (a model without a tier gets "
        "the high tier's). Not yet validated in Vigil: the review date declared at "
        "registration. Record a validation on the Inventory page to move the date."
    )


def _policies(ctx: PageContext) -> None:
    current = policy.policy(ctx.store)
    rows = [
        {
            "policy": f"Review cadence, {tier.value} tier (months)",
            "value": value.value,
            "default": value.default,
            "set by": value.set_by or "default",
        }
        for tier, value in current.cadence
    ]
    rows.append(
        {
            "policy": "Retention of raw logs (months, at least 6)",
            "value": current.retention.value,
            "default": current.retention.default,
            "set by": current.retention.set_by or "default",
        }
    )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="calendar_policies")
    if ctx.user.role in RISK_ROLES:
        with st.form("calendar_cadence"):
            left, right = st.columns(2)
            tier = left.selectbox("Tier", [t.value for t in MaterialityTier], key="calendar_tier")
            months = right.number_input("Review every (months)", 1, 60, 12, key="calendar_months")
            why = st.text_input("Rationale", key="calendar_cadence_why")
            if st.form_submit_button("Set cadence"):
                _apply(
                    lambda: policy.set_review_cadence(ctx.store, ctx.user, tier, int(months), why),
                    f"Cadence of {tier} set.",
                )
    if ctx.user.role in ADMIN_ROLES:
        with st.form("calendar_retention"):
            months = st.number_input(
                "Keep raw logs (months)", 6, 240, current.retention_months, key="calendar_keep"
            )
            why = st.text_input("Rationale", key="calendar_retention_why")
            if st.form_submit_button("Set retention"):
                _apply(
                    lambda: policy.set_retention(ctx.store, ctx.user, int(months), why),
                    f"Retention set to {int(months)} months.",
                )


def _apply(action: Callable[[], object], message: str) -> None:
    try:
        action()
    except VigilError as err:
        st.error(str(err))
        return
    st.session_state[FLASH] = message
    st.rerun()


def _retention(ctx: PageContext) -> None:
    statuses = retention.retention_status(ctx.store)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "model": s.model_name,
                    "raw log rows": s.raw_rows,
                    "oldest row (UTC)": s.oldest_row,
                    f"served before {s.cutoff:%Y-%m-%d}": s.rows_past_retention,
                    "day profiles kept": s.profiled_days,
                }
                for s in statuses
            ]
        ),
        hide_index=True,
        width="stretch",
        key="calendar_retention_status",
    )
    due = sum(s.rows_past_retention for s in statuses)
    if ctx.user.role not in ADMIN_ROLES or not due:
        return
    if st.button(f"Purge {due} rows past retention", key="calendar_purge"):
        st.session_state[PURGE_CONFIRM] = True
    if st.session_state.get(PURGE_CONFIRM):
        st.warning("Deleting raw rows cannot be undone; profiles are kept. Confirm?")
        if st.button("Confirm purge", key="calendar_purge_yes", type="primary"):
            st.session_state.pop(PURGE_CONFIRM)
            _apply(lambda: retention.purge_logs(ctx.store, ctx.user), "Raw logs purged.")


def render(ctx: PageContext) -> None:
    st.title("Review calendar")
    if FLASH in st.session_state:
        st.success(st.session_state.pop(FLASH))
    st.caption(f"Today: {dt.datetime.now(dt.UTC):%Y-%m-%d} (UTC).")
    _calendar(ctx)
    st.subheader("Policies")
    _policies(ctx)
    st.subheader("Raw-log retention")
    _retention(ctx)
