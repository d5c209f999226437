"""Fairness now against the values the registry recorded at validation time."""

from __future__ import annotations

from vigil.core.monitor.fairness.groups import metric_key
from vigil.core.monitor.fairness.results import (
    FAIRNESS_DRIFT_TOLERANCE,
    AttributeFairness,
    GroupDrift,
    ValidationComparison,
    ValidationStatus,
)
from vigil.core.registry.versions import ModelVersion


def _rates(item: AttributeFairness, recorded: dict[str, float]) -> tuple[GroupDrift, ...]:
    """Each group's selection rate now against its recorded one, where one was recorded."""
    rates = []
    for g in item.groups:
        name = f"selection_rate_{metric_key(g.group)}"
        if name in recorded:
            at_validation = float(recorded[name])
            change = None if g.selection_rate is None else g.selection_rate - at_validation
            rates.append(GroupDrift(g.group, at_validation, g.selection_rate, change))
    return tuple(rates)


def compare_with_validation(version: ModelVersion, item: AttributeFairness) -> ValidationComparison:
    """The demographic parity ratio and selection rates against the 'holdout' set's (or the
    first recorded set's); drift when the ratio moved more than the tolerance."""
    sets = version.validation_metrics or {}
    name = "holdout" if "holdout" in sets else next(iter(sets), None)
    metrics = sets.get(name, {}) if name else {}
    found = metrics.get(f"demographic_parity_ratio_{item.key}")
    now = item.disparities.demographic_parity_ratio
    rates = _rates(item, metrics)
    if found is None and not rates:
        return ValidationComparison(
            dataset=name or "",
            demographic_parity_ratio_at_validation=None,
            demographic_parity_ratio_now=now,
            change=None,
            selection_rates=(),
            status=ValidationStatus.UNAVAILABLE,
            text=f"No fairness values for '{item.name}' were recorded at validation; "
            "nothing to compare with.",
        )
    recorded = None if found is None else float(found)
    change = None if recorded is None or now is None else now - recorded
    status, text = (
        ValidationStatus.OK,
        (f"Selection rates by {item.name} at validation ({name}) are shown for comparison."),
    )
    if change is not None:
        drifted = abs(change) > FAIRNESS_DRIFT_TOLERANCE
        status = ValidationStatus.DRIFT if drifted else ValidationStatus.OK
        tolerance = f"±{FAIRNESS_DRIFT_TOLERANCE}"
        text = (
            f"Demographic parity ratio for {item.name} is {now:.2f} now against {recorded:.2f} "
            f"at validation ({name}): "
            + (
                f"changed by {change:+.2f}, more than the {tolerance} tolerance."
                if drifted
                else f"within {tolerance}."
            )
        )
    return ValidationComparison(
        dataset=name or "",
        demographic_parity_ratio_at_validation=recorded,
        demographic_parity_ratio_now=now,
        change=change,
        selection_rates=rates,
        status=status,
        text=text,
    )
