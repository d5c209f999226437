"""The verdicts for performance, drift and fairness, each from its own report, written once.

The Overview, the Performance, Drift and Fairness pages, `vigil status` and the sign-off
report all draw these lines, so a selection (model, version, range, windows, segment) gets
one verdict and one number everywhere. The `*_line` functions read a report the caller
already has (a page's own); the `*_status` functions compute the report first.

- Performance: the newest window with enough labels against the validation value.
- Drift: the newest window with a verdict. The dataset drifts when more than its share
  threshold of features drift (Act); fewer drifted features are still drift (Watch, naming
  them), never "OK".
- Fairness: the four-fifths rule on every sensitive attribute and pair over the range; the
  worst attribute (lowest group ratio) is the one named, and the one the Fairness page opens on.
"""

from __future__ import annotations

import datetime as dt

from vigil.core.errors import VigilError
from vigil.core.monitor.drift.report import drift_report
from vigil.core.monitor.drift.results import DriftReport, WindowDrift
from vigil.core.monitor.fairness.report import fairness_report
from vigil.core.monitor.fairness.results import (
    AttributeFairness,
    FairnessReport,
    GroupStatus,
    Verdict,
)
from vigil.core.monitor.performance.report import performance_report
from vigil.core.monitor.performance.results import (
    HIGHER_IS_BETTER,
    METRIC_LABELS,
    PerformanceReport,
)
from vigil.core.monitor.selection import Selection
from vigil.core.stats.disparity import RULE_NAME
from vigil.core.store.connection import Store
from vigil.core.verdicts import Level
from vigil.core.views.overview import AreaStatus, day


def _window(granularity: str | int, start: dt.datetime | None) -> str:
    """'the week from 16 Nov 2026', 'the window of 2,000 predictions from 16 Nov 2026'."""
    if isinstance(granularity, int):
        return f"the window of {granularity:,} predictions from {day(start)}"
    return f"the {granularity} from {day(start)}"


def _unit(granularity: str | int) -> str:
    return "window" if isinstance(granularity, int) else granularity


def performance_line(report: PerformanceReport) -> AreaStatus:
    metric = "roc_auc" if report.task == "binary_classification" else "rmse"
    label, unit = METRIC_LABELS[metric], _unit(report.granularity)
    judged = [w for w in report.windows if w.enough_labels and w.value(metric) is not None]
    if not judged:
        return AreaStatus(
            "Performance", Level.INFO, f"no {unit} in the range has {report.min_labels} labels yet",
            "Labels arrive weeks after predictions; widen the range to older windows.",
            "performance",
        )  # fmt: skip
    latest = judged[-1]
    value, validation = latest.value(metric), report.validation_value(metric)
    assert value is not None  # judged windows have a value
    where = _window(report.granularity, latest.start)
    if validation is None:
        return AreaStatus(
            "Performance", Level.INFO, f"{label} {value:.3f} in {where}",
            "No validation value recorded to compare with.", "performance", value,
        )  # fmt: skip
    worse = (
        value < validation - report.margin
        if HIGHER_IS_BETTER[metric]
        else value > validation + report.margin
    )
    return AreaStatus(
        "Performance",
        Level.ACT if worse else Level.OK,
        f"{label} {value:.3f} in {where} (validation {validation:.3f})",
        f"{len(judged)} of {len(report.windows)} {unit}(s) have enough labels to judge; "
        f"{latest.labelled:,} labelled predictions in that {unit}.",
        "performance",
        value,
    )


def performance_status(
    store: Store, selection: Selection, granularity: str | int = "week"
) -> AreaStatus:
    return performance_line(performance_report(store, selection, granularity, intervals=False))


def _latest(report: DriftReport) -> WindowDrift | None:
    tested = [w for w in report.windows if w.dataset.share is not None]
    return tested[-1] if tested else None


def drift_line(report: DriftReport) -> AreaStatus:
    """The newest window with a verdict; drifted features are named whatever the share."""
    latest, unit = _latest(report), _unit(report.granularity)
    if latest is None:
        return AreaStatus("Drift", Level.INFO, f"no {unit} with enough rows to test", "", "drift")
    drifted = [c.feature for c in latest.features if c.drifted]
    prediction = any(c.drifted for c in latest.prediction)
    where = _window(report.granularity, latest.window.start)
    d = latest.dataset
    if drifted:
        headline = f"{len(drifted)} of {d.tested} features drifted in {where}: {', '.join(drifted)}"
    else:
        headline = f"no feature drifted in {where}"
    if prediction:
        headline += "; the score distribution moved too"
    ever = sorted(
        {c.feature for w in report.windows for c in w.features if c.drifted}
    )  # the heat map's red rows
    relation = "above" if d.drifted else "not above"
    share = (
        f"That is {d.share * 100:.0f} % of the features, {relation} the "
        f"{d.threshold * 100:.0f} % dataset threshold. "
        if d.share is not None
        else ""
    )
    detail = share + (
        f"In at least one of the {len(report.windows)} {unit}s: {len(ever)} features "
        f"({', '.join(ever)})."
        if ever
        else f"No feature drifted in any of the {len(report.windows)} {unit}s."
    )
    level = Level.WATCH if d.level is Level.OK and prediction else d.level
    return AreaStatus("Drift", level, headline, detail, "drift", float(len(drifted)))


def drift_status(store: Store, selection: Selection, granularity: str | int = "week") -> AreaStatus:
    """The drift line of the selection, against the version's reference data."""
    report = drift_report(store, selection, granularity=granularity, multivariate=False)
    return drift_line(report)


def lowest_ratio(attribute: AttributeFairness) -> float | None:
    """The lowest judged group's rate over the most favoured group's."""
    ratios = [
        g.ratio_to_most_favoured
        for g in attribute.groups
        if g.status is not GroupStatus.TOO_SMALL and g.ratio_to_most_favoured is not None
    ]
    return min(ratios) if ratios else None


def worst_attribute(report: FairnessReport) -> AttributeFairness | None:
    """The attribute with the lowest group ratio: the one to look at first."""
    judged = [a for a in report.attributes if lowest_ratio(a) is not None]
    return min(judged, key=lambda a: lowest_ratio(a) or 0.0) if judged else None


def fairness_line(report: FairnessReport) -> AreaStatus:
    failing = [a for a in report.attributes if a.verdict == Verdict.FAIL]
    unclear = [a for a in report.attributes if a.verdict == Verdict.INSUFFICIENT]
    worst = worst_attribute(report)
    figure = None if worst is None else lowest_ratio(worst)
    if failing and worst is not None and figure is not None:
        lowest = min(
            (g for g in worst.groups if g.ratio_to_most_favoured is not None
             and g.status is not GroupStatus.TOO_SMALL),
            key=lambda g: g.ratio_to_most_favoured or 0.0,
        )  # fmt: skip
        said = f" for {lowest.group} is "  # the statement about the lowest group
        statement = next((s for s in worst.statements if said in s), "")
        return AreaStatus(
            "Fairness", Level.ACT,
            f"below the {RULE_NAME} for {', '.join(a.name for a in failing)} (lowest group ratio "
            f"{figure:.2f}, {worst.name})",
            statement, "fairness", figure,
        )  # fmt: skip
    passed = [a.name for a in report.attributes if a.verdict == Verdict.PASS]
    headline = (
        f"meets the {RULE_NAME} for {', '.join(passed)}" if passed else "groups too small to judge"
    )
    if passed and figure is not None:
        headline += f" (lowest group ratio {figure:.2f})"
    return AreaStatus(
        "Fairness",
        Level.WATCH if unclear else Level.OK,
        headline,
        f"Not enough rows to judge: {', '.join(a.name for a in unclear)}."
        if unclear
        else f"{report.rows:,} predictions in the range.",
        "fairness",
        figure,
    )


def fairness_status(store: Store, selection: Selection) -> AreaStatus:
    """The four-fifths verdict for every sensitive attribute and pair over the range."""
    try:
        report = fairness_report(store, selection, granularity="month", resamples=0)
    except VigilError as err:
        return AreaStatus("Fairness", Level.INFO, "not assessed", str(err), "fairness")
    return fairness_line(report)


def monitoring_statuses(
    store: Store, selection: Selection, granularity: str | int = "week"
) -> list[AreaStatus]:
    return [
        performance_status(store, selection, granularity),
        drift_status(store, selection, granularity),
        fairness_status(store, selection),
    ]
