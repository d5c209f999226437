"""One line each for performance, drift and fairness on the Overview, from their own reports."""

from __future__ import annotations

from vigil.core.errors import VigilError
from vigil.core.monitor.drift.report import drift_report
from vigil.core.monitor.fairness.report import fairness_report
from vigil.core.monitor.fairness.results import Verdict
from vigil.core.monitor.performance.report import performance_report
from vigil.core.monitor.performance.results import HIGHER_IS_BETTER, METRIC_LABELS
from vigil.core.monitor.selection import Selection
from vigil.core.stats.disparity import RULE_NAME
from vigil.core.store.connection import Store
from vigil.core.views.overview import AreaStatus


def performance_status(store: Store, selection: Selection) -> AreaStatus:
    """The newest week with enough labels, against the validation value."""
    report = performance_report(store, selection, "week", intervals=False)
    metric = "roc_auc" if report.task == "binary_classification" else "rmse"
    label = METRIC_LABELS[metric]
    judged = [w for w in report.windows if w.enough_labels and w.value(metric) is not None]
    if not judged:
        return AreaStatus(
            "Performance",
            "info",
            f"no week in the range has {report.min_labels} labels yet",
            "Labels arrive weeks after predictions; widen the range to older weeks.",
            "performance",
        )
    latest = judged[-1]
    value, validation = latest.value(metric), report.validation_value(metric)
    assert value is not None  # judged windows have a value
    if validation is None:
        return AreaStatus(
            "Performance",
            "info",
            f"{label} {value:.3f} in the week from {latest.start:%Y-%m-%d}",
            "No validation value recorded to compare with.",
            "performance",
        )
    worse = (
        value < validation - report.margin
        if HIGHER_IS_BETTER[metric]
        else value > validation + report.margin
    )
    return AreaStatus(
        "Performance",
        "alert" if worse else "ok",
        f"{label} {value:.3f} in the week from {latest.start:%Y-%m-%d} "
        f"(validation {validation:.3f})",
        f"{len(judged)} of {len(report.windows)} week(s) have enough labels to judge; "
        f"{latest.labelled:,} labelled predictions in that week.",
        "performance",
    )


def drift_status(store: Store, selection: Selection) -> AreaStatus:
    """Which features drifted in the newest week with data, against the reference data."""
    report = drift_report(store, selection, granularity="week", multivariate=False)
    tested = [w for w in report.windows if w.dataset.share is not None]
    if not tested:
        return AreaStatus("Drift", "info", "no week with enough rows to test", "", "drift")
    latest = tested[-1]
    drifted = [c.feature for c in latest.features if c.drifted]
    prediction = [c for c in latest.prediction if c.drifted]
    if drifted:
        headline = f"{', '.join(drifted)} drifted in the week from {latest.window.start:%Y-%m-%d}"
    else:
        headline = f"no feature drifted in the week from {latest.window.start:%Y-%m-%d}"
    if prediction:
        headline += "; the score distribution moved too"
    level = "alert" if latest.dataset.drifted else ("warn" if drifted or prediction else "ok")
    return AreaStatus("Drift", level, headline, latest.dataset.sentence(), "drift")


def fairness_status(store: Store, selection: Selection) -> AreaStatus:
    """The four-fifths verdict for every sensitive attribute over the range."""
    try:
        report = fairness_report(store, selection, granularity="month", resamples=0)
    except VigilError as err:
        return AreaStatus("Fairness", "info", "not assessed", str(err), "fairness")
    failing = [a for a in report.attributes if a.verdict is Verdict.FAIL]
    unclear = [a for a in report.attributes if a.verdict is Verdict.INSUFFICIENT]
    if failing:
        worst = failing[0]
        return AreaStatus(
            "Fairness",
            "alert",
            f"below the {RULE_NAME} for {', '.join(a.name for a in failing)}",
            worst.statements[0] if worst.statements else "",
            "fairness",
        )
    passed = [a.name for a in report.attributes if a.verdict is Verdict.PASS]
    return AreaStatus(
        "Fairness",
        "warn" if unclear else "ok",
        f"meets the {RULE_NAME} for {', '.join(passed)}" if passed else "groups too small to judge",
        f"Not enough rows to judge: {', '.join(a.name for a in unclear)}."
        if unclear
        else f"{report.rows:,} predictions in the range.",
        "fairness",
    )


def monitoring_statuses(store: Store, selection: Selection) -> list[AreaStatus]:
    return [
        performance_status(store, selection),
        drift_status(store, selection),
        fairness_status(store, selection),
    ]
