"""Overview: each version and its status, traffic per day, label coverage, where each area stands."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from vigil.app.cache import cached
from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.app.ui import (
    LEVEL_BADGE,
    PLOT_LAYOUT,
    day,
    percent,
    selection_caption,
    status_badge,
)
from vigil.core.views import overview
from vigil.core.views.status import overview_lines

PAGE = PageSpec(title="Overview", icon=":material/dashboard:", url_path="overview")


def _areas(ctx: PageContext) -> None:
    st.subheader("Where each area stands")
    with st.spinner("Checking performance, drift and fairness…"):
        statuses = cached(overview_lines, ctx.store, ctx.model_name, ctx.selection, ctx.granularity)
    for status in statuses:
        badge, area, text = st.columns([0.8, 1.2, 6], vertical_alignment="center")
        badge.markdown(LEVEL_BADGE[status.level])
        area.markdown(f"**{status.area}**")
        # Headlines and details carry names from metadata and logs: text, never markdown.
        text.text(status.headline)
        if status.detail:
            text.text(status.detail)
    unit = ctx.granularity if isinstance(ctx.granularity, str) else "window"
    st.caption(
        f"Performance: the newest {unit} with enough labels against validation. Drift: the "
        f"newest {unit} against the version's reference data. Fairness: the four-fifths rule "
        "over the whole range, every sensitive attribute and pair. Each page shows the same "
        "line above its numbers."
    )


def _versions(ctx: PageContext) -> None:
    st.subheader("Versions")
    summaries = cached(overview.version_summaries, ctx.store, ctx.model_name)
    for s in summaries:
        cols = st.columns([1, 2, 3, 2, 2], vertical_alignment="center")
        cols[0].text(f"version {s.model_version}")
        alias = f" :blue-badge[{s.alias}]" if s.alias else ""
        cols[1].markdown(status_badge(s.status, s.status_label) + alias)
        cols[2].text(f"{s.owner}\nregistered {day(s.registered_at)}")
        cols[3].text(f"Predictions logged\n{s.predictions:,}")
        served = f"{day(s.first_served)} → {day(s.last_served)}" if s.first_served else "none"
        cols[4].text(f"Traffic\n{served}")


def _traffic(ctx: PageContext) -> None:
    assert ctx.selection is not None
    daily: pd.DataFrame = cached(overview.traffic_by_day, ctx.store, ctx.selection)
    st.subheader("Traffic and labels per day")
    if daily.empty:
        st.info("No predictions in this range.")
        return
    figure = go.Figure()
    for version, part in daily.groupby("model_version"):
        figure.add_bar(
            x=part["day"],
            y=part["predictions"],
            name=f"version {version}",
            hovertemplate="%{y:,} predictions<extra>version " + str(version) + "</extra>",
        )
    figure.update_layout(
        title="Predictions served per day (UTC)",
        barmode="group",
        yaxis_title="predictions",
        xaxis_title="day",
        **PLOT_LAYOUT,
    )
    left, right = st.columns([3, 2])
    left.plotly_chart(figure, width="stretch")
    chosen = daily[daily["model_version"] == ctx.selection.model_version].copy()
    chosen["label coverage"] = chosen["labelled"] / (chosen["predictions"] - chosen["errors"])
    coverage = go.Figure(
        go.Scatter(
            x=chosen["day"],
            y=chosen["label coverage"],
            mode="lines+markers",
            name="labelled share",
            hovertemplate="%{y:.1%} labelled<extra></extra>",
        )
    )
    coverage.update_layout(
        title=f"Label coverage per day, version {ctx.selection.model_version}",
        yaxis_tickformat=".0%",
        yaxis_range=[0, 1.05],
        yaxis_title="labelled share",
        xaxis_title="day served",
        **PLOT_LAYOUT,
    )
    right.plotly_chart(coverage, width="stretch")
    with st.expander("Daily numbers"):
        st.dataframe(
            daily.rename(columns={"model_version": "version"}),
            hide_index=True,
            width="stretch",
            column_config={"day": st.column_config.DateColumn("day (UTC)", format="D MMM YYYY")},
        )


def _quarantine(ctx: PageContext) -> None:
    quality = cached(overview.data_quality, ctx.store, ctx.model_name)
    with st.expander(
        f"Ingestion and quarantine: {quality.rows_quarantined:,} rejected row(s) kept with "
        "their reason"
    ):
        st.markdown(
            f"{quality.files} distinct file(s) ingested: {quality.rows_read:,} rows received, "
            f"{quality.rows_stored:,} stored, {quality.rows_already_present:,} already present "
            f"(re-sent, ignored); {quality.rows_quarantined:,} distinct rows in quarantine."
        )
        rows = cached(overview.quarantine_rows, ctx.store, ctx.model_name)
        if not rows.empty:
            st.dataframe(
                rows.rename(columns={"quarantined_at": "quarantined"}),
                hide_index=True,
                width="stretch",
                column_config={
                    "quarantined": st.column_config.DatetimeColumn(
                        "quarantined (UTC)", format="D MMM YYYY, HH:mm"
                    ),
                    "reason": st.column_config.TextColumn(width="large"),
                },
            )


def render(ctx: PageContext) -> None:
    st.title(f"Overview · {ctx.model_name}")
    assert ctx.version is not None
    if ctx.selection is None:
        st.info(f"Version {ctx.version.model_version} has no logged traffic yet.")
        _areas(ctx)
        _versions(ctx)
        return
    st.caption(selection_caption(ctx))
    coverage = cached(overview.label_coverage, ctx.store, ctx.selection)
    quality = cached(overview.data_quality, ctx.store, ctx.model_name)
    daily = cached(overview.traffic_by_day, ctx.store, ctx.selection)
    mine = daily[daily["model_version"] == ctx.selection.model_version]
    total, errors = int(mine["predictions"].sum()), int(mine["errors"].sum())
    cols = st.columns(4)
    cols[0].metric("Predictions in range", f"{total:,}")
    cols[1].metric("Error rate", percent(errors / total if total else None, 2))
    cols[2].metric(
        "Labelled so far",
        percent(coverage.share),
        help="Share of successful predictions in the range whose outcome (label) has arrived. "
        "Labels arrive weeks after a prediction, so recent days are expected to be low.",
    )
    cols[3].metric("Quarantined rows (all time)", f"{quality.rows_quarantined:,}")
    _areas(ctx)
    _versions(ctx)
    _traffic(ctx)
    _quarantine(ctx)
