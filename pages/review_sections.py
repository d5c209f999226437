"""The Review page's sections: the request and the decision taken on it, the inventory facts,
the comparison tabs (validation, live traffic, drift, fairness, explanations) and the gate
checklist. Drawing only; every number comes from core, and people's text is drawn as text."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from vigil.app.cache import cached
from vigil.app.context import PageContext
from vigil.app.ui import PLOT_LAYOUT, status_badge
from vigil.core.errors import VigilError
from vigil.core.explain.importance import global_importance
from vigil.core.govern.evidence import TrafficCount
from vigil.core.govern.gates.results import GateOutcome, GateReport
from vigil.core.govern.gates.specs import Gate
from vigil.core.govern.requests import PromotionRequest, RequestState
from vigil.core.monitor.fairness.report import fairness_report
from vigil.core.monitor.performance.report import performance_report
from vigil.core.monitor.selection import Selection
from vigil.core.registry.versions import ModelVersion
from vigil.core.views import review as views

OUTCOME_TEXT = {
    GateOutcome.PASS: "PASS",
    GateOutcome.FAIL: "FAIL",
    GateOutcome.NOT_APPLICABLE: "n/a (does not block)",
    GateOutcome.INCONCLUSIVE: "cannot tell yet (does not block)",
}
COLOURS = ("#636EFA", "#EF553B")  # candidate, champion: the same in every chart
Window = tuple[dt.datetime, dt.datetime]


def _chart_and_table(figure: go.Figure, frame: pd.DataFrame) -> None:
    left, right = st.columns([3, 2])
    left.plotly_chart(figure, width="stretch")
    right.dataframe(frame, hide_index=True, width="stretch")


def _per_version(
    ctx: PageContext,
    model: str,
    versions: list[ModelVersion],
    window: Window,
    compute: Callable[[Selection], Any],
) -> list[tuple[ModelVersion, Any]]:
    """compute(selection) for each version with traffic in the window; errors shown, skipped."""
    results = []
    for version in versions:
        if not cached(views.has_traffic, ctx.store, model, version.model_version, *window):
            continue
        try:
            results.append((version, compute(Selection(model, version.model_version, *window))))
        except VigilError as err:
            st.caption(f"{version.model_version}: {err}")
    return results


def validation(candidate: ModelVersion, champion: ModelVersion | None) -> None:
    cand = candidate.validation_metrics.get("holdout", {})
    champ = champion.validation_metrics.get("holdout", {}) if champion else {}
    names = sorted(set(cand) | set(champ))
    frame = pd.DataFrame(
        {
            "metric": names,
            "candidate": [cand.get(n) for n in names],
            "champion": [champ.get(n) for n in names],
        }
    )
    frame["difference"] = frame["candidate"] - frame["champion"]
    shown = frame[frame["metric"].isin(["roc_auc", "accuracy", "precision", "recall", "f1"])]
    figure = go.Figure()
    sides = [("candidate", candidate)] + ([("champion", champion)] if champion else [])
    for colour, (column, version) in zip(COLOURS, sides, strict=False):
        name = f"{column} {version.model_version}"
        figure.add_bar(
            x=shown["metric"],
            y=shown[column],
            marker_color=colour,
            name=name,
            hovertemplate="%{x}: %{y:.4f}<extra>" + name + "</extra>",
        )
    figure.update_layout(
        title="Holdout metrics at validation (higher is better)",
        barmode="group",
        yaxis_title="value (0–1)",
        **PLOT_LAYOUT,
    )
    _chart_and_table(figure, frame)


def _live_row(ctx: PageContext, model: str, count: TrafficCount) -> dict[str, Any]:
    row: dict[str, Any] = {
        "version": count.model_version,
        "predictions": count.predictions,
        "errors": count.errors,
        "labelled": count.labelled,
    }
    if not count.predictions:
        row["note"] = "no traffic in the window (not deployed or not in shadow)"
        return row
    selection = Selection(model, count.model_version, count.window_start, count.window_end)
    try:
        report = cached(performance_report, ctx.store, selection, "week", intervals=False)
    except VigilError as err:
        row["note"] = str(err)
        return row
    for name in report.metric_names:
        row[name] = report.overall.value(name)
    if not report.overall.enough_labels:
        row["note"] = f"fewer than {report.min_labels} labels"
    return row


def live(ctx: PageContext, model: str, versions: list[str], window: Window | None) -> None:
    if window is None:
        st.info("No traffic has been logged for this model yet.")
        return
    start, end = window
    st.caption(
        f"Last 30 days of logged traffic: {start:%Y-%m-%d} to "
        f"{end - dt.timedelta(days=1):%Y-%m-%d} (UTC)."
    )
    counts = cached(views.live_traffic, ctx.store, model, tuple(versions), start, end)
    frame = pd.DataFrame([_live_row(ctx, model, count) for count in counts])
    metric_columns = [c for c in ("roc_auc", "accuracy", "f1", "brier") if c in frame]
    if not metric_columns:
        st.dataframe(frame, hide_index=True, width="stretch")
        return
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
    _chart_and_table(figure, frame)


def drift(report: GateReport) -> None:
    window = report.drift_window
    if not report.feature_psi or window is None:
        st.info(report.result(Gate.DRIFT_PSI).detail)
        return
    st.caption(
        f"Reference data of {report.model_version} vs {window.rows:,} predictions of champion "
        f"{window.champion_version}, {window.start:%Y-%m-%d %H:%M} to "
        f"{window.end:%Y-%m-%d %H:%M} UTC."
    )
    frame = pd.DataFrame(
        [
            {
                "feature": p.feature,
                "kind": p.kind.value,
                "PSI": p.psi,
                "reference rows": p.reference_rows,
                "traffic rows": p.current_rows,
            }
            for p in report.feature_psi
        ]
    ).sort_values("PSI", ascending=False)
    threshold = report.result(Gate.DRIFT_PSI).threshold
    figure = go.Figure(
        go.Bar(
            x=frame["PSI"],
            y=frame["feature"],
            orientation="h",
            hovertemplate="%{y}: PSI %{x:.3f}<extra></extra>",
            name="PSI",
        )
    )
    if threshold is not None:
        figure.add_vline(
            x=threshold, line_dash="dash", line_color="red", annotation_text=f"gate {threshold:g}"
        )
    figure.update_layout(
        title="Population stability index per feature (candidate reference vs production traffic)",
        xaxis_title="PSI",
        yaxis={"autorange": "reversed"},
        **{**PLOT_LAYOUT, "hovermode": "closest"},
    )
    _chart_and_table(figure, frame)


def _fairness_rows(reports: list[tuple[ModelVersion, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "version": version.model_version,
            "attribute": attribute.name,
            "group": group.group,
            "selection rate": group.selection_rate,
            "ratio to most favoured": group.ratio_to_most_favoured,
            "rows": group.rows,
            "status": group.status,
        }
        for version, report in reports
        for attribute in report.attributes
        if len(attribute.columns) == 1
        for group in attribute.groups
    ]


def fairness_tab(
    ctx: PageContext,
    model: str,
    candidate: ModelVersion,
    champion: ModelVersion | None,
    window: Window | None,
) -> None:
    holdout = candidate.validation_metrics.get("holdout", {})
    prefixes = ("selection_rate", "demographic")
    at_validation = {k: v for k, v in holdout.items() if k.startswith(prefixes)}
    if at_validation:
        st.markdown(f"**At validation (holdout) — {candidate.model_version}**")
        st.dataframe(pd.DataFrame([at_validation]), hide_index=True, width="stretch")
    if window is None:
        return
    reports = _per_version(
        ctx,
        model,
        [candidate] + ([champion] if champion else []),
        window,
        lambda sel: cached(fairness_report, ctx.store, sel, granularity="week", resamples=0),
    )
    rows = _fairness_rows(reports)
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
    _chart_and_table(figure, frame)


def explanations(
    ctx: PageContext,
    model: str,
    candidate: ModelVersion,
    champion: ModelVersion | None,
    window: Window | None,
) -> None:
    if window is None:
        return
    importances = _per_version(
        ctx,
        model,
        [candidate] + ([champion] if champion else []),
        window,
        lambda sel: cached(global_importance, ctx.store, sel, sample_rows=300),
    )
    rows = [
        {"version": version.model_version, "feature": f, "mean |SHAP|": v}
        for version, importance in importances
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
    _chart_and_table(figure, frame)


# --- what is under review -----------------------------------------------------------


def request_header(model: str, candidate: ModelVersion, request: PromotionRequest) -> None:
    st.markdown(
        f"**{model} {candidate.model_version}** "
        f"{status_badge(candidate.status, candidate.status_label)} · request "
        f"#{request.request_id} by **{request.requested_by}** on "
        f"{request.requested_at:%Y-%m-%d %H:%M} UTC · registered by {candidate.registered_by}"
    )
    st.caption("Rationale of the request")
    st.text(request.request_rationale)


def decision_card(last: views.LastDecision) -> None:
    request, version = last.request, last.version
    verb = {
        RequestState.APPROVED: "approved",
        RequestState.REJECTED: "rejected",
        RequestState.WITHDRAWN: "withdrawn",
    }.get(request.state, str(request.state))
    st.subheader(f"Decision on {request.model_name} {request.model_version}")
    st.markdown(
        f"Request #{request.request_id} by **{request.requested_by}** was **{verb}** by "
        f"**{request.decided_by}** ({request.decided_by_role}) on "
        f"{request.decided_at:%Y-%m-%d %H:%M} UTC (audit record {request.decision_seq}). "
        f"{version.model_version} is now "
        f"{status_badge(version.status, version.status_label)}."
    )
    st.caption("Rationale of the decision")
    st.text(request.decision_rationale or "")
    if request.override_by:
        st.caption(
            f"Gates {', '.join(request.override_gates)} were overridden by {request.override_by}; "
            "their rationale:"
        )
        st.text(request.override_rationale or "")


def facts(candidate: ModelVersion, champion: ModelVersion | None) -> None:
    """Inventory facts side by side, as a table: owners and notes are people's text."""
    sides = [candidate] + ([champion] if champion else [])
    rows = {
        "status": [v.status_label for v in sides],
        "owner": [v.owner for v in sides],
        "risk tier": [v.risk_tier or "—" for v in sides],
        "next review": [str(v.next_review_date or "—") for v in sides],
        "training data": [v.training_data_version for v in sides],
        "code commit": [v.code_commit for v in sides],
        "registered by": [v.registered_by for v in sides],
    }
    columns = [f"candidate {candidate.model_version}"] + (
        [f"champion {champion.model_version}"] if champion else []
    )
    frame = pd.DataFrame(rows, index=columns).T
    st.dataframe(frame, width="stretch")


def checklist(report: GateReport, request: PromotionRequest | None) -> None:
    st.subheader("Gate checklist")
    frame = pd.DataFrame(
        [
            {
                "gate": r.label,
                "outcome": OUTCOME_TEXT[r.outcome],
                "observed": r.observed,
                "threshold": r.threshold,
                "detail": r.detail,
            }
            for r in report.results
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")
    failed = ", ".join(report.failed_labels)
    if report.passed:
        st.success(f"All gates pass (checked {report.checked_at:%Y-%m-%d %H:%M} UTC).")
    elif request is not None and set(report.failed) <= set(request.override_gates):
        at = f"{request.override_at:%Y-%m-%d %H:%M}" if request.override_at else "—"
        st.warning(
            f"Failed gates ({failed}) were overridden by {request.override_by} ({at} UTC). "
            "Their rationale:"
        )
        st.text(request.override_rationale or "")
    else:
        st.error(
            f"Failed: {failed}. Approval is blocked unless an admin records an override with "
            "its rationale."
        )
