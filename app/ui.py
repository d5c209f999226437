"""Small drawing helpers shared by pages: status badges, number formats, chart defaults."""

from __future__ import annotations

import datetime as dt

LEVEL_BADGE = {
    "ok": ":green-badge[:material/check_circle: OK]",
    "warn": ":orange-badge[:material/warning: Watch]",
    "alert": ":red-badge[:material/error: Act]",
    "info": ":gray-badge[:material/info: Info]",
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
PLOT_LAYOUT = {
    "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
    "hovermode": "x unified",
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1},
    "template": "plotly_white",
}


def status_badge(status: str, label: str) -> str:
    return f":{STATUS_COLOURS.get(status, 'gray')}-badge[{label}]"


def selection_caption(ctx) -> str:
    sel = ctx.selection
    if sel is None:
        return ""
    end = (sel.end - dt.timedelta(days=1)).date()  # the range's end is exclusive
    segment = f" · segment {sel.segment.label()}" if sel.segment else ""
    return f"{sel.model_name} {sel.model_version} · {sel.start:%Y-%m-%d} to {end:%Y-%m-%d} (UTC){segment}"


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}%}"
