"""Review: a pending promotion beside the champion, its gate checklist, and the decision."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from vigil.app.cache import cached
from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.app.ui import PLOT_LAYOUT, status_badge
from vigil.core.errors import VigilError
from vigil.core.explain import attribution as explain
from vigil.core.govern import gates, signoff
from vigil.core.govern import workflow as governance
from vigil.core.monitor import fairness
from vigil.core.monitor.performance.report import performance_report
from vigil.core.monitor.selection import Selection
from vigil.core.registry.versions import STATUS_LABELS

PAGE = PageSpec(title="Review", icon=":material/gavel:", url_path="review")

PENDING = "review_pending_action"  # the action whose confirmation dialog is open
FLASH = "review_flash"  # the last action's outcome, shown once after the rerun
RATIONALE = "review_rationale"
OVERRIDE_RATIONALE = "review_override_rationale"
CLEAR = "review_clear_rationale"
COLOURS = ("#636EFA", "#EF553B")  # candidate, champion: the same in every chart
OUTCOME_ICON = {"pass": "PASS", "fail": "FAIL", "n/a": "n/a (does not block)"}


def _per_version(ctx: PageContext, versions, window, compute) -> list[tuple[Any, Any]]:
    """compute(selection) for each version with traffic in the window; errors shown, skipped."""
    results = []
    for version in versions:
        if not cached(
            governance.has_traffic, ctx.store, ctx.model_name, version.model_version, *window
        ):
            continue
        try:
            results.append(
                (version, compute(Selection(ctx.model_name, version.model_version, *window)))
            )
        except VigilError as err:
            st.caption(f"{version.model_version}: {err}")
    return results


# --- confirmation dialog -----------------------------------------------------------------


def _close_dialog() -> None:
    st.session_state.pop(PENDING, None)


def _describe(pending: dict[str, Any]) -> str:
    model, version = pending["model"], pending["version"]
    champion = pending.get("champion")
    return {
        "request": f"Request promotion of **{model} {version}**. Gates run now and are "
        "stored with the request; an approver who is not you decides.",
        "approve": f"Approve **{model} {version}** and make it the champion"
        + (f"; **{champion}** will be archived." if champion else "."),
        "reject": f"Reject the promotion of **{model} {version}**.",
        "override": f"Record an override of the failed gates of **{model} {version}**. "
        "Another approver must still approve it.",
        "rollback": f"Roll **{model}** back from **{champion}** to **{pending.get('target')}**.",
    }[pending["action"]]


def _perform(ctx: PageContext, pending: dict[str, Any]) -> governance.Outcome:
    model, version, action = pending["model"], pending["version"], pending["action"]
    rationale = st.session_state.get(RATIONALE, "")
    row_version = pending.get("row_version")
    if action == "request":
        return governance.request_promotion(ctx.store, ctx.user, model, version, rationale)[0]
    if action == "approve":
        return governance.approve(
            ctx.store, ctx.user, model, version, rationale, expected_row_version=row_version
        )
    if action == "reject":
        return governance.reject(
            ctx.store, ctx.user, model, version, rationale, expected_row_version=row_version
        )
    if action == "override":
        return governance.override(
            ctx.store,
            ctx.user,
            model,
            version,
            st.session_state.get(OVERRIDE_RATIONALE, ""),
            expected_row_version=row_version,
        )
    return governance.rollback(ctx.store, ctx.user, model, rationale)


@st.dialog("Please confirm", on_dismiss=_close_dialog)
def _confirm(ctx: PageContext) -> None:
    pending = st.session_state[PENDING]
    st.markdown(_describe(pending))
    if pending["action"] == "override":
        st.text_area("Override rationale", key=OVERRIDE_RATIONALE)
        st.caption("Why the failed gates are acceptable; recorded as its own audit record.")
    else:
        rationale = st.session_state.get(RATIONALE, "").strip()
        st.markdown(f"Rationale: _{rationale}_" if rationale else ":red[No rationale written.]")
    st.caption(f"Recorded in the audit log as {ctx.user.username} ({ctx.user.role}).")
    left, right = st.columns(2)
    if left.button("Confirm", type="primary", key="review_confirm"):
        try:
            outcome = _perform(ctx, pending)
        except VigilError as err:
            st.error(str(err))
            return
        st.session_state[FLASH] = outcome.message
        st.session_state[CLEAR] = True
        _close_dialog()
        st.rerun()
    if right.button("Cancel", key="review_cancel"):
        _close_dialog()
        st.rerun()


def _button(label: str, decision: governance.Decision, pending: dict[str, Any], key: str) -> None:
    """Hidden when the role may never do it; disabled with the reason when a rule blocks it."""
    if decision.blocked_by == "role":
        return
    primary = label in ("Approve", "Request promotion")
    clicked = st.button(
        label,
        key=key,
        disabled=not decision.allowed,
        help=None if decision.allowed else decision.reason,
        type="primary" if primary else "secondary",
    )
    if not decision.allowed:
        st.caption(f":material/block: {decision.reason}")
    if clicked:
        st.session_state[PENDING] = pending


# --- comparison sections -----------------------------------------------------------------


def _metrics_table(candidate: dict[str, float], champion: dict[str, float]) -> pd.DataFrame:
    names = sorted(set(candidate) | set(champion))
    frame = pd.DataFrame(
        {
            "metric": names,
            "candidate": [candidate.get(n) for n in names],
            "champion": [champion.get(n) for n in names],
        }
    )
    frame["difference"] = frame["candidate"] - frame["champion"]
    return frame


def _validation(candidate, champion) -> None:
    cand = candidate.validation_metrics.get("holdout", {})
    champ = champion.validation_metrics.get("holdout", {}) if champion else {}
    frame = _metrics_table(cand, champ)
    shown = frame[frame["metric"].isin(["roc_auc", "accuracy", "precision", "recall", "f1"])]
    figure = go.Figure()
    for colour, (column, name) in zip(
        COLOURS,
        (("candidate", candidate.model_version), ("champion", champion and champion.model_version)),
        strict=True,
    ):
        if name is None:
            continue
        figure.add_bar(
            x=shown["metric"],
            y=shown[column],
            marker_color=colour,
            name=f"{column} {name}",
            hovertemplate="%{x}: %{y:.4f}<extra>" + f"{column} {name}" + "</extra>",
        )
    figure.update_layout(
        title="Holdout metrics at validation (higher is better)",
        barmode="group",
        yaxis_title="value (0–1)",
        **PLOT_LAYOUT,
    )
    left, right = st.columns([3, 2])
    left.plotly_chart(figure, width="stretch")
    right.dataframe(frame, hide_index=True, width="stretch")


def _live(
    ctx: PageContext, versions: list[str], window: tuple[dt.datetime, dt.datetime] | None
) -> None:
    if window is None:
        st.info("No traffic has been logged for this model yet.")
        return
    start, end = window
    st.caption(
        f"Last 30 days of logged traffic: {start:%Y-%m-%d} to {end - dt.timedelta(days=1):%Y-%m-%d} (UTC)."
    )
    counts = cached(governance.live_traffic, ctx.store, ctx.model_name, tuple(versions), start, end)
    rows = []
    for count in counts:
        row = {
            "version": count["model_version"],
            "predictions": count["predictions"],
            "errors": count["errors"],
            "labelled": count["labelled"],
        }
        if count["predictions"]:
            try:
                report = cached(
                    performance_report,
                    ctx.store,
                    Selection(ctx.model_name, count["model_version"], start, end),
                    "week",
                    intervals=False,
                )
            except VigilError as err:
                row["note"] = str(err)
            else:
                for name in report.metric_names:
                    row[name] = report.overall.value(name)
                if not report.overall.enough_labels:
                    row["note"] = f"fewer than {report.min_labels} labels"
        else:
            row["note"] = "no traffic in the window (not deployed or not in shadow)"
        rows.append(row)
    frame = pd.DataFrame(rows)
    metric_columns = [c for c in ("roc_auc", "accuracy", "f1", "brier") if c in frame]
    if metric_columns:
        figure = go.Figure()
        for colour, (_, row) in zip(COLOURS, frame.iterrows(), strict=False):
            figure.add_bar(
                marker_color=colour,
                x=metric_columns,
                y=[row[c] for c in metric_columns],
                name=f"version {row['version']}",
                hovertemplate="%{x}: %{y:.4f}<extra>version " + str(row["version"]) + "</extra>",
            )
        figure.update_layout(
            title="Realised performance on labelled traffic, last 30 days",
            barmode="group",
            yaxis_title="value",
            **PLOT_LAYOUT,
        )
        left, right = st.columns([3, 2])
        left.plotly_chart(figure, width="stretch")
        right.dataframe(frame, hide_index=True, width="stretch")
    else:
        st.dataframe(frame, hide_index=True, width="stretch")


def _drift(report: gates.GateReport) -> None:
    if not report.feature_psi:
        st.info(report.result("drift_psi").detail)
        return
    window = report.drift_window
    st.caption(
        f"Reference data of {report.model_version} vs {window.rows:,} predictions of champion "
        f"{window.champion_version}, {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC."
    )
    frame = pd.DataFrame(
        [
            {
                "feature": p.feature,
                "kind": p.kind,
                "PSI": p.psi,
                "reference rows": p.reference_rows,
                "traffic rows": p.current_rows,
            }
            for p in report.feature_psi
        ]
    ).sort_values("PSI", ascending=False)
    threshold = report.result("drift_psi").threshold
    figure = go.Figure(
        go.Bar(
            x=frame["PSI"],
            y=frame["feature"],
            orientation="h",
            hovertemplate="%{y}: PSI %{x:.3f}<extra></extra>",
            name="PSI",
        )
    )
    figure.add_vline(
        x=threshold, line_dash="dash", line_color="red", annotation_text=f"gate {threshold:g}"
    )
    figure.update_layout(
        title="Population stability index per feature (candidate reference vs production traffic)",
        xaxis_title="PSI",
        yaxis={"autorange": "reversed"},
        **{**PLOT_LAYOUT, "hovermode": "closest"},
    )
    left, right = st.columns([3, 2])
    left.plotly_chart(figure, width="stretch")
    right.dataframe(frame, hide_index=True, width="stretch")


def _fairness(ctx: PageContext, candidate, champion, window) -> None:
    holdout = candidate.validation_metrics.get("holdout", {})
    at_validation = {
        k: v for k, v in holdout.items() if k.startswith(("selection_rate", "demographic"))
    }
    if at_validation:
        st.markdown(f"**At validation (holdout) — {candidate.model_version}**")
        st.dataframe(pd.DataFrame([at_validation]), hide_index=True, width="stretch")
    if window is None:
        return
    rows = []
    reports = _per_version(
        ctx,
        [candidate] + ([champion] if champion else []),
        window,
        lambda sel: cached(
            fairness.fairness_report, ctx.store, sel, granularity="week", resamples=0
        ),
    )
    for version, report in reports:
        for attribute in report.attributes:
            if len(attribute.columns) != 1:
                continue
            for group in attribute.groups:
                rows.append(
                    {
                        "version": version.model_version,
                        "attribute": attribute.name,
                        "group": group.group,
                        "selection rate": group.selection_rate,
                        "ratio to most favoured": group.ratio_to_most_favoured,
                        "rows": group.rows,
                        "status": group.status,
                    }
                )
    if not rows:
        st.info("No live traffic in the window to compare fairness on.")
        return
    frame = pd.DataFrame(rows)
    figure = go.Figure()
    for colour, (version, part) in zip(COLOURS, frame.groupby("version", sort=False), strict=False):
        figure.add_bar(
            marker_color=colour,
            x=part["attribute"] + ": " + part["group"],
            y=part["selection rate"],
            name=f"version {version}",
            hovertemplate="%{x}: %{y:.1%}<extra>version " + str(version) + "</extra>",
        )
    figure.update_layout(
        title="Favourable-outcome rate by group, last 30 days of traffic",
        barmode="group",
        yaxis_tickformat=".0%",
        yaxis_title="selection rate",
        **PLOT_LAYOUT,
    )
    left, right = st.columns([3, 2])
    left.plotly_chart(figure, width="stretch")
    right.dataframe(frame, hide_index=True, width="stretch")


def _explanations(ctx: PageContext, candidate, champion, window) -> None:
    if window is None:
        return
    rows = []
    importances = _per_version(
        ctx,
        [candidate] + ([champion] if champion else []),
        window,
        lambda sel: cached(explain.global_importance, ctx.store, sel, sample_rows=300),
    )
    for version, importance in importances:
        rows += [
            {"version": version.model_version, "feature": f, "mean |SHAP|": v}
            for f, v in zip(importance.features, importance.mean_abs, strict=True)
        ]
    if not rows:
        st.info("No live traffic in the window to explain.")
        return
    frame = pd.DataFrame(rows)
    figure = go.Figure()
    for colour, (version, part) in zip(COLOURS, frame.groupby("version", sort=False), strict=False):
        figure.add_bar(
            marker_color=colour,
            x=part["mean |SHAP|"],
            y=part["feature"],
            orientation="h",
            name=f"version {version}",
            hovertemplate="%{y}: %{x:.4f}<extra>version " + str(version) + "</extra>",
        )
    figure.update_layout(
        title="Global importance: mean |SHAP| on 300 served rows, last 30 days",
        barmode="group",
        xaxis_title="mean |SHAP| (model output units)",
        **{**PLOT_LAYOUT, "hovermode": "closest"},
    )
    left, right = st.columns([3, 2])
    left.plotly_chart(figure, width="stretch")
    right.dataframe(frame, hide_index=True, width="stretch")


def _checklist(report: gates.GateReport, request: governance.PromotionRequest | None) -> None:
    st.subheader("Gate checklist")
    frame = pd.DataFrame(
        [
            {
                "gate": r.label,
                "outcome": OUTCOME_ICON[r.outcome],
                "observed": r.observed,
                "threshold": r.threshold,
                "detail": r.detail,
            }
            for r in report.results
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")
    if report.passed:
        st.success(f"All gates pass (checked {report.checked_at:%Y-%m-%d %H:%M} UTC).")
    elif (
        request is not None
        and request.override_gates
        and set(report.failed) <= set(request.override_gates)
    ):
        st.warning(
            f"Failed gates {', '.join(report.failed)} were overridden by "
            f"{request.override_by} ({request.override_at:%Y-%m-%d %H:%M} UTC): "
            f"{request.override_rationale}"
        )
    else:
        st.error(
            f"Failed: {', '.join(report.failed)}. Approval is blocked unless an admin "
            "records an override with its rationale."
        )


# --- page --------------------------------------------------------------------------------


def _signoff_downloads(ctx: PageContext) -> None:
    records = governance.decisions(ctx.store, ctx.model_name)
    if not records:
        return
    st.subheader("Sign-off reports")
    labels = {
        r["seq"]: f"#{r['seq']} {r['action']} {r['model_version']} by {r['actor']} "
        f"({r['recorded_at']:%Y-%m-%d %H:%M} UTC)"
        for r in records
    }
    seq = st.selectbox(
        "Decision record", list(labels), format_func=labels.get, key="review_signoff_seq"
    )
    st.download_button(
        "Download sign-off report (HTML)",
        data=signoff.build_report(ctx.store, seq),
        file_name=f"signoff-{ctx.model_name}-record-{seq}.html",
        mime="text/html",
        key="review_signoff_download",
    )


def render(ctx: PageContext) -> None:
    if st.session_state.pop(CLEAR, False):
        st.session_state[RATIONALE] = ""
        st.session_state.pop(OVERRIDE_RATIONALE, None)
    st.title("Review and sign-off")
    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(flash)
    model = ctx.model_name
    inventory = {
        r.model_version: r for r in governance.inventory(ctx.store) if r.model_name == model
    }
    champion_name = next((v for v, r in inventory.items() if "champion" in r.aliases), None)
    pending = governance.list_requests(ctx.store, model, "pending")
    champion = governance.model_version(ctx.store, model, champion_name) if champion_name else None
    request = None
    candidate = None
    if pending:
        by_version = {r.model_version: r for r in pending}
        options = list(by_version)
        # The sidebar's version if it is pending, else the newest request. Set through session
        # state (not `index=`): when the list of requests changes, the two would disagree and
        # the box would show one request while the page reviews another.
        if st.session_state.get("review_request") not in options:
            st.session_state["review_request"] = (
                ctx.version.model_version
                if ctx.version and ctx.version.model_version in by_version
                else options[0]
            )
        chosen = st.selectbox(
            "Pending request",
            options,
            key="review_request",
            format_func=lambda v: (
                f"{model} {v} — request #{by_version[v].request_id} by {by_version[v].requested_by}"
            ),
        )
        request = by_version[chosen]
        candidate = governance.model_version(ctx.store, model, chosen)
    elif ctx.version is not None and ctx.version.status != "production":
        candidate = ctx.version
    window = cached(governance.review_window, ctx.store, model)

    if request is not None and candidate is not None:
        st.markdown(
            f"**{model} {candidate.model_version}** {status_badge(candidate.status, candidate.status_label)} "
            f"· requested by **{request.requested_by}** on {request.requested_at:%Y-%m-%d %H:%M} UTC "
            f"· registered by {candidate.registered_by}"
        )
        st.markdown(f"> {request.request_rationale}")
    elif candidate is not None:
        st.info(
            f"No pending promotion request for {model}. {candidate.model_version} is "
            f"{candidate.status_label}."
        )
    else:
        st.info(
            f"No pending promotion request for {model}; the champion is {champion_name or 'not set'}."
        )

    report = None
    if candidate is not None:
        report = gates.check_gates(ctx.store, model, candidate.model_version)
        champ_label = f"champion {champion.model_version}" if champion else "no champion yet"
        st.subheader(f"Candidate {candidate.model_version} beside {champ_label}")
        left, right = st.columns(2)
        for column, version in ((left, candidate), (right, champion)):
            if version is None:
                column.caption("No champion yet.")
                continue
            row = inventory[version.model_version]
            column.markdown(
                f"**{version.model_version}** · {STATUS_LABELS[version.status]}  \n"
                f"Owner: {row.owner} · risk tier {row.risk_tier or '—'} · next review "
                f"{row.next_review_date or '—'}{' ⚠ overdue' if row.review_overdue else ''}  \n"
                f"Training data: {row.training_data_version} · commit `{row.code_commit}`"
            )
        tabs = st.tabs(["Validation", "Live performance", "Drift", "Fairness", "Explanations"])
        versions = [candidate.model_version] + (
            [champion.model_version]
            if champion and champion.model_version != candidate.model_version
            else []
        )
        with tabs[0]:
            _validation(
                candidate,
                champion
                if champion and champion.model_version != candidate.model_version
                else None,
            )
        with tabs[1]:
            _live(ctx, versions, window)
        with tabs[2]:
            _drift(report)
        with tabs[3]:
            _fairness(ctx, candidate, champion, window)
        with tabs[4]:
            _explanations(ctx, candidate, champion, window)
        _checklist(report, request)

    _actions(ctx, candidate, request, report, champion_name)
    if st.session_state.get(PENDING):
        _confirm(ctx)
    _signoff_downloads(ctx)


def _actions(ctx, candidate, request, report, champion_name) -> None:
    model = ctx.model_name
    decisions: list[tuple[str, governance.Decision, dict[str, Any], str]] = []
    base = {"model": model, "champion": champion_name}
    if candidate is not None and request is not None:
        pending = {**base, "version": candidate.model_version, "row_version": request.row_version}
        decisions.append(
            (
                "Approve",
                governance.can_approve(
                    ctx.store, ctx.user, model, candidate.model_version, report=report
                ),
                {**pending, "action": "approve"},
                "review_approve",
            )
        )
        decisions.append(
            (
                "Reject",
                governance.can_reject(ctx.store, ctx.user, model, candidate.model_version),
                {**pending, "action": "reject"},
                "review_reject",
            )
        )
        override = governance.can_override(
            ctx.store, ctx.user, model, candidate.model_version, report=report
        )
        if override.allowed or override.blocked_by == "four_eyes":
            decisions.append(
                ("Override gates", override, {**pending, "action": "override"}, "review_override")
            )
    # the sidebar's version may be put up for promotion while another request is pending
    requestable = (
        ctx.version
        if ctx.version is not None and ctx.version.status != "pending_approval"
        else None
    )
    if requestable is not None:
        decision = governance.can_request_promotion(
            ctx.store, ctx.user, model, requestable.model_version
        )
        if decision.allowed or decision.blocked_by == "role":
            decisions.append(
                (
                    "Request promotion",
                    decision,
                    {**base, "version": requestable.model_version, "action": "request"},
                    "review_request_promotion",
                )
            )
    if champion_name is not None:
        target = governance.next_rollback_target(ctx.store, model)
        decisions.append(
            (
                "Roll back",
                governance.can_rollback(ctx.store, ctx.user, model),
                {**base, "version": champion_name, "target": target, "action": "rollback"},
                "review_rollback",
            )
        )
    visible = [d for d in decisions if d[1].blocked_by != "role"]
    st.subheader("Decision")
    if not visible:
        st.caption(
            f"You are signed in as {ctx.user.username} ({ctx.user.role}): you can see "
            "everything here and change nothing."
        )
        return
    st.text_area(
        "Rationale",
        key=RATIONALE,
        placeholder="Why — recorded in the audit log with the evidence above.",
    )
    columns = st.columns(len(visible))
    for column, (label, decision, pending, key) in zip(columns, visible, strict=True):
        with column:
            _button(label, decision, pending, key)
