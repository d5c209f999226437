"""Small drawing helpers shared by pages: status badges, number and time formats, chart defaults."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

from vigil.core.monitor.windows import unit_words
from vigil.core.verdicts import Level
from vigil.pages.text import plain

if TYPE_CHECKING:
    from vigil.app.context import PageContext

# The browser tab's icon: an emoji is drawn by the browser itself, where a :material/...:
# icon would be fetched from fonts.gstatic.com: no request may leave the machine.
FAVICON = "🛡️"
LEVEL_BADGE: dict[str, str] = {
    Level.OK: ":green-badge[:material/check_circle: OK]",
    Level.WATCH: ":orange-badge[:material/warning: Watch]",
    Level.ACT: ":red-badge[:material/error: Act]",
    Level.INFO: ":gray-badge[:material/info: No verdict]",
}
STATUS_COLOURS = {
    "production": "green",
    "approved": "blue",
    "pending_approval": "orange",
    "registered": "gray",
    "rejected": "red",
    "archived": "gray",
    "rolled_back": "violet",
}
# Every chart's layout. Its template, plotly_white, is Plotly's default instead (see
# use_chart_template): a template named in a layout is validated again for each figure,
# measured at half the time of a rerun of the Drift or Performance page.
# plotly_white with every title pinned to the top left, on its own line: the legend sits
# just above the plot area (PLOT_LAYOUT), so the two never overlap.
TITLE_TEMPLATE = "vigil_titles"
CHART_TEMPLATE = f"plotly_white+{TITLE_TEMPLATE}"
PLOT_LAYOUT: dict[str, Any] = {
    "margin": {"l": 10, "r": 10, "t": 90, "b": 10},
    "hovermode": "x unified",
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1},
}


def use_chart_template() -> None:
    """Make CHART_TEMPLATE Plotly's default (Streamlit sets its own when it loads): figures
    then get it once, when built, and their specification is the same as with it named."""
    if TITLE_TEMPLATE not in pio.templates:
        pio.templates[TITLE_TEMPLATE] = go.layout.Template(
            layout={"title": {"x": 0, "xanchor": "left", "y": 0.98, "yanchor": "top"}}
        )
    if pio.templates.default != CHART_TEMPLATE:  # setting it costs ~50 ms, reading nothing
        pio.templates.default = CHART_TEMPLATE


def verdict_banner(level: Level, text: str) -> None:
    """A verdict drawn in its level's colour: red for Act, orange for Watch, green for OK.
    `text` may hold user text (feature names, group values): it is shown as typed."""
    draw = {Level.ACT: st.error, Level.WATCH: st.warning, Level.OK: st.success}.get(level, st.info)
    draw(f"**{level.word}** · {plain(text[:1].upper() + text[1:])}")


def status_badge(status: str, label: str) -> str:
    return f":{STATUS_COLOURS.get(status, 'gray')}-badge[{label}]"


def day(moment: dt.date | dt.datetime | None) -> str:
    """A date as people read it: '23 Nov 2026'."""
    return "–" if moment is None else f"{moment:%d %b %Y}".lstrip("0")


def when(moment: dt.datetime | None) -> str:
    """A time as people read it, with its zone: '23 Nov 2026, 14:05 UTC'. Vigil keeps every
    time in UTC (naive datetimes are UTC)."""
    if moment is None:
        return "–"
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return f"{day(moment)}, {moment:%H:%M} UTC"


def selection_caption(ctx: PageContext) -> str:
    sel = ctx.selection
    if sel is None:
        return ""
    end = (sel.end - dt.timedelta(days=1)).date()  # the range's end is exclusive
    segment = f" · segment {sel.segment.label()}" if sel.segment else ""
    windows = f" · windows: {unit_words(ctx.granularity)}"
    return (
        f"{sel.model_name} {sel.model_version} · {day(sel.start)} to {day(end)} (UTC)"
        f"{windows}{segment}"
    )


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}%}"
