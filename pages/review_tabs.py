"""The Review page's comparison tabs: validation, live traffic (the champion-vs-challenger test
first), drift, fairness (every attribute and pair, at validation and live) and explanations.
Drawing only; every number comes from core and is shown formatted, never as a raw value."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from vigil.app.cache import cached
from vigil.app.charts import layout
from vigil.app.context import PageContext
from vigil.app.ui import day
from vigil.core.errors import VigilError
from vigil.core.explain.importance import global_importance
from vigil.core.govern.evidence import TrafficCount
from vigil.core.govern.gates.fairness import AttributeCheck, LiveFairness
from vigil.core.govern.gates.results import GateReport
from vigil.core.govern.gates.specs import Gate
from vigil.core.monitor.fairness.report import fairness_report
from vigil.core.monitor.performance.report import performance_report
from vigil.core.monitor.performance.results import METRIC_LABELS
from vigil.core.monitor.selection import Selection
from vigil.core.registry.versions import ModelVersion
from vigil.core.views import review as views
from vigil.pages import challenger

COLOURS = ("#636EFA", "#EF553B")  # candidate, champion: the same in every chart
Window = tuple[dt.datetime, dt.datetime]
FAIRNESS_PREFIXES = ("selection_rate", "demographic")
SHOWN_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1")


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}".replace("%", " %")


def _label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def _span(window: Window) -> str:
    return f"{day(window[0])} to {day(window[1] - dt.timedelta(days=1))} (UTC)"


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
    names = [n for n in sorted(set(cand) | set(champ)) if not n.startswith(FAIRNESS_PREFIXES)]
    rows = []
    for name in names:
        a, b = cand.get(name), champ.get(name)
        row = {"metric": _label(name), f"candidate {candidate.model_version}": _number(a)}
        if champion:
            row[f"champion {champion.model_version}"] = _number(b)
            row["difference"] = "–" if a is None or b is None else f"{a - b:+.3f}"
        rows.append(row)
    figure = go.Figure()
    sides = [(candidate, cand)] + ([(champion, champ)] if champion else [])
    shown = [n for n in SHOWN_METRICS if n in names]
    for colour, ((version, metrics), role) in zip(
        COLOURS, zip(sides, ("candidate", "champion"), strict=False), strict=False
    ):
        name = f"{role} {version.model_version}"
        figure.add_bar(
            x=[_label(n) for n in shown], y=[metrics.get(n) for n in shown], marker_color=colour,
            name=name, hovertemplate="%{x}: %{y:.3f}<extra>" + name + "</extra>",
        )  # fmt: skip
    figure.update_layout(
        **layout("Holdout metrics at validation (higher is better)"),
        barmode="group",
        yaxis_title="value (0–1)",
    )
    left, right = st.columns([3, 2])
    left.plotly_chart(figure, width="stretch")
    right.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _live_row(ctx: PageContext, model: str, count: TrafficCount) -> dict[str, Any]:
    row: dict[str, Any] = {
        "version": count.model_version,
        "predictions": f"{count.predictions:,}",
        "labelled": f"{count.labelled:,}",
    }
    if not count.predictions:
        row["note"] = "no traffic in the window (not live, not in shadow)"
        return row
    selection = Selection(model, count.model_version, count.window_start, count.window_end)
    try:
        report = cached(performance_report, ctx.store, selection, "week", intervals=False)
    except VigilError as err:
        row["note"] = str(err)
        return row
    for name in ("roc_auc", "accuracy", "f1", "brier"):
        if name in report.metric_names:
            row[_label(name)] = _number(report.overall.value(name))
    row["note"] = "" if report.overall.enough_labels else f"fewer than {report.min_labels} labels"
    return row


def live(
    ctx: PageContext, model: str, versions: list[str], window: Window | None, report: GateReport
) -> None:
    if window is None:
        st.info("No traffic has been logged for this model yet.")
        return
    st.markdown("**Candidate against champion on the same live requests**")
    if report.live is not None:
        challenger.draw(report.live)
    else:
        st.info(report.result(Gate.LIVE_CHALLENGER).detail)
    st.markdown(f"**Each version on its own traffic, {_span(window)}**")
    counts = cached(views.live_traffic, ctx.store, model, tuple(versions), *window)
    st.dataframe(
        pd.DataFrame([_live_row(ctx, model, c) for c in counts]), hide_index=True, width="stretch"
    )
    st.caption(
        "These cover each version's own requests over the window (the champion's include days "
        "before the candidate ran), so compare versions on the test above, not on this table."
    )


def drift(report: GateReport) -> None:
    window = report.drift_window
    if not report.feature_psi or window is None:
        st.info(report.result(Gate.DRIFT_PSI).detail)
        return
    last = window.end - dt.timedelta(microseconds=1)
    st.caption(
        f"Reference data of {report.model_version} against {window.rows:,} predictions of "
        f"champion {window.champion_version}, {day(window.start)} to {day(last)} (UTC)."
    )
    psi = sorted(report.feature_psi, key=lambda p: p.psi, reverse=True)
    threshold = report.result(Gate.DRIFT_PSI).threshold
    figure = go.Figure(
        go.Bar(
            x=[p.psi for p in psi], y=[p.feature for p in psi], orientation="h", name="PSI",
            hovertemplate="%{y}: PSI %{x:.3f}<extra></extra>",
        )
    )  # fmt: skip
    if threshold is not None:
        figure.add_vline(x=threshold, line_dash="dash", line_color="red")
        figure.add_annotation(
            x=threshold, y=1.0, yref="paper", yanchor="bottom", showarrow=False,
            text=f"gate threshold {threshold:g}", font={"color": "red"},
        )  # fmt: skip
    figure.update_layout(
        **layout("Population stability index per feature", hovermode="closest"),
        xaxis_title="PSI (candidate's reference data against production traffic)",
        yaxis={"autorange": "reversed"},
        showlegend=False,
    )
    frame = pd.DataFrame(
        [
            {"feature": p.feature, "kind": p.kind.value, "PSI": _number(p.psi),
             "over the threshold": "yes" if threshold is not None and p.psi > threshold else "",
             "reference rows": f"{p.reference_rows:,}", "traffic rows": f"{p.current_rows:,}"}
            for p in psi
        ]
    )  # fmt: skip
    left, right = st.columns([3, 2])
    left.plotly_chart(figure, width="stretch")
    right.dataframe(frame, hide_index=True, width="stretch")


def _check_rows(checks: tuple[AttributeCheck, ...], threshold: float | None) -> pd.DataFrame:
    verdict = {True: "meets the rule", False: "below the rule", None: "no verdict"}
    return pd.DataFrame(
        [
            {"attribute": c.attribute, "lowest ratio": _number(c.ratio, 2),
             "threshold": "–" if threshold is None else f"{threshold:.2f}",
             "verdict": verdict[c.passed] if not c.note else c.note,
             "groups below": "; ".join(c.failing)}
            for c in sorted(checks, key=lambda c: (c.ratio is None, c.ratio or 0.0))
        ]
    )  # fmt: skip


def _group_chart(reports: list[tuple[ModelVersion, Any]], attribute: str) -> go.Figure:
    figure = go.Figure()
    for colour, (version, report) in zip(COLOURS, reports, strict=False):
        found = next((a for a in report.attributes if a.name == attribute), None)
        if found is None:
            continue
        figure.add_bar(
            x=[g.group for g in found.groups], y=[g.selection_rate for g in found.groups],
            marker_color=colour, name=f"version {version.model_version}",
            hovertemplate="%{x}: %{y:.1%}<extra>version " + version.model_version + "</extra>",
        )  # fmt: skip
    figure.update_layout(
        **layout(f"Approval rate by group: {attribute}"),
        barmode="group",
        yaxis_tickformat=".0%",
        yaxis_title="favourable-outcome rate",
    )
    return figure


def fairness(
    ctx: PageContext,
    model: str,
    candidate: ModelVersion,
    champion: ModelVersion | None,
    window: Window | None,
    report: GateReport,
) -> None:
    """The four-fifths rule on every attribute and pair: at validation, then live, worst first."""
    st.markdown(f"**At validation (holdout), {candidate.model_version}**")
    threshold = report.result(Gate.FAIRNESS_PARITY).threshold
    if report.fairness_validation:
        st.dataframe(
            _check_rows(report.fairness_validation, threshold), hide_index=True, width="stretch"
        )
    else:
        st.caption(report.result(Gate.FAIRNESS_PARITY).detail)
    found: LiveFairness | None = report.fairness_live
    live_threshold = report.result(Gate.FAIRNESS_LIVE).threshold
    if window is None or found is None:
        st.caption(report.result(Gate.FAIRNESS_LIVE).detail)
        return
    st.markdown(f"**On {candidate.model_version}'s live traffic, {_span(window)}**")
    st.dataframe(_check_rows(found.checks, live_threshold), hide_index=True, width="stretch")
    judged = [c for c in found.checks if c.ratio is not None]
    if not judged:
        return
    worst = min(judged, key=lambda c: c.ratio or 0.0).attribute
    reports = _per_version(
        ctx, model, [candidate] + ([champion] if champion else []), window,
        lambda sel: cached(fairness_report, ctx.store, sel, granularity="month", resamples=0),
    )  # fmt: skip
    if reports:
        st.plotly_chart(_group_chart(reports, worst), width="stretch")


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
        ctx, model, [candidate] + ([champion] if champion else []), window,
        lambda sel: cached(global_importance, ctx.store, sel, sample_rows=300),
    )  # fmt: skip
    if not importances:
        st.info("No live traffic in the window to explain.")
        return
    figure = go.Figure()
    rows = []
    for colour, (version, importance) in zip(COLOURS, importances, strict=False):
        figure.add_bar(
            x=list(importance.mean_abs), y=list(importance.features), orientation="h",
            marker_color=colour, name=f"version {version.model_version}",
            hovertemplate="%{y}: %{x:.4f}<extra>version " + version.model_version + "</extra>",
        )  # fmt: skip
        rows += [
            {"version": version.model_version, "feature": f, "mean |SHAP|": _number(v, 4)}
            for f, v in zip(importance.features, importance.mean_abs, strict=True)
        ]
    figure.update_layout(
        **layout("What drives each version: mean |SHAP| on 300 served rows", hovermode="closest"),
        barmode="group",
        xaxis_title="mean |SHAP| (model output units)",
    )
    left, right = st.columns([3, 2])
    left.plotly_chart(figure, width="stretch")
    right.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
