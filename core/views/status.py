"""Where each area of a model stands, for one selection: the Overview's lines, in its order.

The Overview page, `vigil status --json` and the sign-off report's "monitoring at the time of
the decision" all call `overview_lines`, so they cannot disagree.
"""

from __future__ import annotations

from vigil.core.monitor.selection import Selection
from vigil.core.store.connection import Store
from vigil.core.views.monitoring_status import monitoring_statuses
from vigil.core.views.overview import AreaStatus, area_statuses


def compose(base: list[AreaStatus], monitoring: list[AreaStatus]) -> tuple[AreaStatus, ...]:
    """Alerts and traffic first, then performance, drift and fairness, then the rest."""
    return (*base[:2], *monitoring, *base[2:])


def overview_lines(
    store: Store, model_name: str, selection: Selection | None, granularity: str | int = "week"
) -> tuple[AreaStatus, ...]:
    base = area_statuses(store, model_name, selection)
    if selection is None:
        return tuple(base)
    return compose(base, monitoring_statuses(store, selection, granularity))
