"""Fairness metric values, over a selection or per window: what alert rules and pipelines
watch. Plain functions over a FairnessReport; nothing registers itself anywhere.

A value is one attribute's disparity (e.g. demographic_parity_ratio of 'sex'), or without an
attribute the worst over the single (uncrossed) attributes: the lowest ratio, the highest
difference.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from vigil.core.monitor.fairness.results import (
    DISPARITY_METRICS,
    MIN_GROUP_OUTCOMES,
    MIN_GROUP_ROWS,
    AttributeFairness,
    Disparities,
    FairnessError,
    FairnessReport,
)

HIGHER_IS_BETTER = {metric: metric.endswith("ratio") for metric in DISPARITY_METRICS}


@dataclass(frozen=True)
class MetricValue:
    """A metric's value, the attribute it came from, and why it is None when it is."""

    value: float | None
    attribute: str | None
    note: str = ""


def _worst(items: list[tuple[AttributeFairness, Disparities]], metric: str) -> MetricValue:
    higher = HIGHER_IS_BETTER[metric]
    found = [(a, d.value(metric)) for a, d in items]
    defined = [(a, v) for a, v in found if v is not None]
    if not defined:
        why = (
            f"fewer than two groups with {MIN_GROUP_ROWS}+ predictions"
            if metric.startswith("demographic")
            else f"fewer than two groups with {MIN_GROUP_OUTCOMES}+ labelled outcomes each"
        )
        return MetricValue(None, None, why)
    item, value = (min if higher else max)(defined, key=lambda pair: pair[1])
    return MetricValue(value, item.name)


def _chosen(report: FairnessReport, attribute: str | None) -> list[AttributeFairness]:
    if attribute is None:
        return [a for a in report.attributes if len(a.columns) == 1]
    return [report.attribute(attribute)]


def metric_value(report: FairnessReport, metric: str, attribute: str | None = None) -> MetricValue:
    """The metric over the report's whole range, for `attribute` (name or key) or the worst
    single attribute."""
    if metric not in DISPARITY_METRICS:
        raise FairnessError(
            f"Unknown fairness metric '{metric}'; use one of {', '.join(DISPARITY_METRICS)}."
        )
    return _worst([(a, a.disparities) for a in _chosen(report, attribute)], metric)


def metric_by_window(
    report: FairnessReport, metric: str, attribute: str | None = None
) -> dict[dt.datetime, MetricValue]:
    """The metric per window of the report, keyed by the window's start."""
    metric_value(report, metric, attribute)  # validates the metric and the attribute
    items = _chosen(report, attribute)
    starts = [w.start for w in items[0].windows] if items else []
    return {
        start: _worst([(a, a.windows[i].disparities) for a in items], metric)
        for i, start in enumerate(starts)
    }
