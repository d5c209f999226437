"""Chart layouts shared by the pages: the title on its own line above the legend, never on it."""

from __future__ import annotations

from typing import Any

from vigil.app.ui import PLOT_LAYOUT

TOP = 100  # px above the plot: the title (top) and the legend (just above the plot)


def layout(title: str, **extra: Any) -> dict[str, Any]:
    """PLOT_LAYOUT with `title` pinned to the top left and room under it for the legend,
    which sits just above the plot area (PLOT_LAYOUT's legend)."""
    margin = {**PLOT_LAYOUT["margin"], "t": TOP}
    found: dict[str, Any] = {
        **PLOT_LAYOUT,
        "margin": margin,
        "title": {"text": title, "x": 0, "xanchor": "left", "y": 0.98, "yanchor": "top"},
    }
    found.update(extra)
    return found
