"""Fairness: group metrics per sensitive attribute, disparities, the 80 % rule and their trend."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from vigil.app.cache import cached
from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.app.ui import PLOT_LAYOUT, selection_caption, verdict_banner
from vigil.core.monitor.fairness.report import fairness_report
from vigil.core.monitor.fairness.results import (
    AttributeFairness,
    FairnessReport,
    GroupMetrics,
    GroupStatus,
    ValidationStatus,
    Verdict,
)
from vigil.core.stats.disparity import FOUR_FIFTHS
from vigil.core.views.monitoring_status import fairness_line, worst_attribute
from vigil.pages.text import plain

PAGE = PageSpec(title="Fairness", icon=":material/balance:", url_path="fairness")

METRICS = {
    "selection_rate": ("Selection rate (favourable outcome)", "all served predictions"),
    "tpr": ("True positive rate", "labelled predictions"),
    "fpr": ("False positive rate", "labelled predictions"),
    "precision": ("Precision", "labelled predictions"),
    "accuracy": ("Accuracy", "labelled predictions"),
}
STATUS_COLOUR = {
    GroupStatus.MOST_FAVOURED: "#2e7d32",
    GroupStatus.PASS: "#1976d2",
    GroupStatus.FAIL: "#c62828",
    GroupStatus.TOO_SMALL: "#9e9e9e",
}
VERDICT = {
    Verdict.PASS: f":green-badge[:material/check_circle: Meets the {FOUR_FIFTHS} rule]",
    Verdict.FAIL: f":red-badge[:material/error: Below the {FOUR_FIFTHS} rule]",
    Verdict.INSUFFICIENT: ":gray-badge[:material/info: Too few groups to judge]",
}


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "–" if value is None else format(value, spec)


def _interval(item: AttributeFairness, metric: str) -> str:
    found = item.intervals.get(metric)
    return "" if found is None else f"95 % CI {found.low:.3f} – {found.high:.3f}"


def _group_table(groups: tuple[GroupMetrics, ...]) -> pd.DataFrame:
    """Selection on every served prediction: what the four-fifths rule reads."""
    return pd.DataFrame(
        [
            {
                "Group": g.group,
                "Predictions": g.rows,
                "Favourable": g.selected,
                "Selection rate": g.selection_rate,
                "Selection rate 95 % CI": (
                    f"{g.selection_rate_ci.low:.3f} – {g.selection_rate_ci.high:.3f}"
                    if g.selection_rate_ci
                    else ""
                ),
                "Ratio to most favoured": g.ratio_to_most_favoured,
                "Status": g.status.replace("_", " "),
            }
            for g in groups
        ]
    )


def _outcome_table(groups: tuple[GroupMetrics, ...]) -> pd.DataFrame:
    """Error rates on the labelled predictions (labels arrive weeks later)."""
    return pd.DataFrame(
        [
            {
                "Group": g.group,
                "Labelled": g.labelled,
                "Positives": g.positives,
                "TPR": g.tpr,
                "FPR": g.fpr,
                "Precision": g.precision,
                "Accuracy": g.accuracy,
                "Warnings": "; ".join(g.warnings) or "–",
            }
            for g in groups
        ]
    )


def _bar_chart(item: AttributeFairness, metric: str) -> go.Figure:
    title, population = METRICS[metric]
    groups = [g for g in item.groups if getattr(g, metric) is not None]
    values = [getattr(g, metric) for g in groups]
    figure = go.Figure()
    error = None
    if metric in ("selection_rate", "tpr", "fpr"):
        cis = [getattr(g, f"{metric}_ci") for g in groups]
        if all(ci is not None for ci in cis) and cis:
            error = {
                "type": "data",
                "symmetric": False,
                "array": [ci.high - v for ci, v in zip(cis, values, strict=True)],
                "arrayminus": [v - ci.low for ci, v in zip(cis, values, strict=True)],
            }
    figure.add_bar(
        x=[g.group for g in groups],
        y=values,
        marker_color=[STATUS_COLOUR.get(g.status, "#1976d2") for g in groups],
        error_y=error,
        customdata=[[g.rows, g.labelled, g.status.replace("_", " ")] for g in groups],
        hovertemplate="%{x}: %{y:.3f}<br>%{customdata[0]:,} predictions, "
        "%{customdata[1]:,} labelled<br>%{customdata[2]}<extra></extra>",
        name=title,
    )
    top = next((g for g in item.groups if g.status == GroupStatus.MOST_FAVOURED), None)
    if metric == "selection_rate" and top is not None:
        line = FOUR_FIFTHS * (top.selection_rate or 0.0)
        figure.add_hline(
            y=line,
            line_dash="dash",
            line_color="#c62828",
            annotation_text=f"{FOUR_FIFTHS} × {top.group} = {line:.3f}",
            annotation_position="top left",
        )
    elif len(values) >= 2:
        # Mark the disparity: the span between the lowest and highest group.
        figure.add_hrect(
            y0=min(values), y1=max(values), fillcolor="#c62828", opacity=0.08, line_width=0
        )
    figure.update_layout(
        title=f"{title} by {item.name} ({population})",
        yaxis_title=title,
        yaxis_range=[0, 1.05],
        xaxis_title=item.name,
        **{**PLOT_LAYOUT, "hovermode": "closest"},
    )
    return figure


def _trend(item: AttributeFairness) -> tuple[go.Figure, pd.DataFrame]:
    rows = []
    for window in item.windows:
        rates = {g.group: g.selection_rate for g in window.groups}
        rows.append(
            {
                "Window start": window.start,
                "Predictions": window.rows,
                "Labelled": window.labelled,
                "Demographic parity ratio": window.disparities.demographic_parity_ratio,
                "Demographic parity difference": window.disparities.demographic_parity_difference,
                "Equalized odds difference": window.disparities.equalized_odds_difference,
                "Verdict": window.verdict,
                **{f"Selection rate {g}": rates.get(g) for g in (x.group for x in item.groups)},
            }
        )
    table = pd.DataFrame(rows)
    figure = go.Figure()
    figure.add_scatter(
        x=table["Window start"],
        y=table["Demographic parity ratio"],
        mode="lines+markers",
        name="Demographic parity ratio",
        hovertemplate="%{x|%Y-%m-%d}: %{y:.3f}<extra>parity ratio</extra>",
    )
    figure.add_scatter(
        x=table["Window start"],
        y=table["Equalized odds difference"],
        mode="lines+markers",
        name="Equalized odds difference",
        line_dash="dot",
        hovertemplate="%{x|%Y-%m-%d}: %{y:.3f}<extra>equalized odds difference</extra>",
    )
    figure.add_hline(
        y=FOUR_FIFTHS,
        line_dash="dash",
        line_color="#c62828",
        annotation_text=f"{FOUR_FIFTHS} rule",
        annotation_position="bottom left",
    )
    validation = item.validation
    if validation and validation.demographic_parity_ratio_at_validation is not None:
        figure.add_hline(
            y=validation.demographic_parity_ratio_at_validation,
            line_dash="dot",
            line_color="#2e7d32",
            annotation_text=f"at validation ({validation.dataset})",
            annotation_position="top left",
        )
    figure.update_layout(
        title=f"Disparity by {item.name} per window",
        yaxis_title="ratio / difference",
        xaxis_title="window start (UTC)",
        yaxis_range=[0, 1.05],
        **PLOT_LAYOUT,
    )
    return figure, table


def _verdicts(item: AttributeFairness) -> None:
    st.markdown(f"#### {plain(item.name)} {VERDICT[item.verdict]}")
    for line in item.statements:
        if "below the" in line:
            st.error(plain(line), icon=":material/error:")
        elif "no verdict" in line or "not enough" in line:
            st.warning(plain(line), icon=":material/warning:")
        else:
            st.success(plain(line), icon=":material/check_circle:")


def _disparities(item: AttributeFairness) -> None:
    d = item.disparities
    cols = st.columns(4)
    for col, label, value, metric in (
        (
            cols[0],
            "Demographic parity ratio",
            d.demographic_parity_ratio,
            "demographic_parity_ratio",
        ),
        (
            cols[1],
            "Demographic parity difference",
            d.demographic_parity_difference,
            "demographic_parity_difference",
        ),
        (cols[2], "Equalized odds ratio", d.equalized_odds_ratio, "equalized_odds_ratio"),
        (
            cols[3],
            "Equalized odds difference",
            d.equalized_odds_difference,
            "equalized_odds_difference",
        ),
    ):
        col.metric(label, _fmt(value), help=_interval(item, metric) or None)
        if caption := _interval(item, metric):
            col.caption(caption)


def _introduction(report: FairnessReport) -> None:
    st.markdown(
        f"Favourable outcome: **{plain(report.favourable)}**. {report.rows:,} predictions, "
        f"{report.labelled:,} of them labelled. Selection rates and demographic parity use "
        "every served prediction; TPR, FPR, precision, accuracy and equalized odds use the "
        "labelled ones."
    )
    st.caption(
        f"Groups with fewer than {report.min_group_rows} predictions get a warning instead of "
        f"a verdict; equalized odds needs {report.min_group_outcomes} labelled positives and "
        f"negatives per group. Intervals: {report.resamples} seeded bootstrap resamples. "
        "Missing values form their own group. Age bands: "
        + plain(", ".join(report.bands.get("age", ())))
        + "."
    )


def _groups_section(item: AttributeFairness) -> None:
    st.subheader("Groups")
    numbers = {
        c: st.column_config.NumberColumn(format="%.3f")
        for c in ("Selection rate", "Ratio to most favoured", "TPR", "FPR", "Precision", "Accuracy")
    }
    st.caption("Every served prediction: selection and the four-fifths rule.")
    st.dataframe(_group_table(item.groups), hide_index=True, width="stretch", column_config=numbers)
    st.caption("Labelled predictions only: error rates by group.")
    st.dataframe(
        _outcome_table(item.groups), hide_index=True, width="stretch", column_config=numbers
    )
    metric = st.selectbox(
        "Metric", list(METRICS), format_func=lambda m: METRICS[m][0], key="fairness_metric"
    )
    st.plotly_chart(_bar_chart(item, metric or "selection_rate"), width="stretch")


def _trend_section(item: AttributeFairness) -> None:
    st.subheader("Over time")
    figure, table = _trend(item)
    st.plotly_chart(figure, width="stretch")
    st.caption(
        "A gap means fewer than two groups were large enough in that window; equalized odds "
        "needs labelled outcomes, which arrive weeks after the prediction."
    )
    with st.expander("Numbers per window"):
        st.dataframe(table, hide_index=True, width="stretch")


def _validation_section(item: AttributeFairness) -> None:
    st.subheader("Against validation")
    validation = item.validation
    if validation is None or validation.status == ValidationStatus.UNAVAILABLE:
        st.info(plain(validation.text) if validation else "No validation values recorded.")
        return
    show = st.warning if validation.status == ValidationStatus.DRIFT else st.success
    show(plain(validation.text))
    if validation.selection_rates:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Group": r.group,
                        "Selection rate at validation": r.at_validation,
                        "Selection rate now": r.now,
                        "Change": r.change,
                    }
                    for r in validation.selection_rates
                ]
            ),
            hide_index=True,
            width="stretch",
        )


def render(ctx: PageContext) -> None:
    st.title("Fairness")
    if ctx.selection is None:
        st.info("This version has no logged traffic yet: nothing to review.")
        return
    st.caption(selection_caption(ctx))
    report: FairnessReport = cached(
        fairness_report, ctx.store, ctx.selection, granularity=ctx.granularity
    )
    line = fairness_line(report)  # the Overview's line, from this page's own report
    verdict_banner(line.level, f"{line.headline}. {line.detail}")
    _introduction(report)
    names = [a.name for a in report.attributes]
    worst = worst_attribute(report)  # opens on the attribute that needs attention first
    chosen = st.radio(
        "Sensitive attribute",
        names,
        index=names.index(worst.name) if worst is not None else 0,
        horizontal=True,
        key="fairness_attribute",
    )
    item = report.attribute(chosen or names[0])
    _verdicts(item)
    _disparities(item)
    _groups_section(item)
    _trend_section(item)
    _validation_section(item)
