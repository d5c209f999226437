"""The rules a newly monitored model starts with: performance against validation, service
health, data and prediction drift, and the four-fifths rule on every sensitive attribute and
intersection. Installing them is audited like any other rule change."""

from __future__ import annotations

from vigil.core.alerts.rules import (
    VALIDATION,
    AlertRule,
    Comparison,
    RuleSpec,
    Severity,
    insert_rule,
    list_rules_con,
    require_rationale,
)
from vigil.core.govern.auth import User, require
from vigil.core.monitor.performance.report import validation_metrics
from vigil.core.monitor.performance.results import BINARY, METRIC_LABELS, REGRESSION
from vigil.core.registry.versions import ModelVersion, get_version
from vigil.core.stats.disparity import FOUR_FIFTHS
from vigil.core.store.connection import Store


def default_rules(version: ModelVersion) -> list[RuleSpec]:
    """A starting set for a model: performance against validation, service health, data and
    prediction drift, and the four-fifths rule on every sensitive attribute."""
    _, validation = validation_metrics(version)
    rules: list[RuleSpec] = []
    below, above = Comparison.BELOW, Comparison.ABOVE
    warning, critical = Severity.WARNING, Severity.CRITICAL
    if version.task == BINARY:
        for name, severity in (("roc_auc", critical), ("accuracy", warning)):
            if name in validation:
                rules.append(
                    RuleSpec(
                        name, below, -0.05, "week", severity, relative_to=VALIDATION,
                        description=f"{METRIC_LABELS[name]} more than 0.05 below validation.",
                    )
                )  # fmt: skip
    elif version.task == REGRESSION and "rmse" in validation:
        rules.append(
            RuleSpec(
                "rmse", above, 0.1 * validation["rmse"], "week", critical,
                relative_to=VALIDATION, description="RMSE more than 10 % above validation.",
            )
        )  # fmt: skip
    rules += [
        # 2 %: with a few hundred predictions a day, 1 % is within day-to-day noise.
        RuleSpec("error_rate", above, 0.02, "day", warning, description="More than 2 % errors."),
        RuleSpec("latency_p99", above, 500.0, "day", warning, description="p99 latency > 500 ms."),
        RuleSpec(
            "label_coverage", below, 0.5, "week", warning, min_age_days=35,
            description="Fewer than half the predictions labelled 35 days on.",
        ),
        RuleSpec(
            "drifted_features", above, 0.0, "week", warning,
            description="A feature drifted against the reference data.",
        ),
        RuleSpec(
            "prediction_drift", above, 1.0, "week", warning,
            description="The predictions drifted against the reference data.",
        ),
    ]  # fmt: skip
    if version.task == BINARY and version.sensitive:
        rules.append(
            RuleSpec(
                "demographic_parity_ratio", below, FOUR_FIFTHS, "week", critical,
                description="A group's approval rate below four fifths of the most favoured "
                "group's, on any sensitive attribute or intersection.",
            )
        )  # fmt: skip
    return rules


def install_default_rules(
    store: Store,
    user: User,
    model_name: str,
    model_version: str,
    *,
    rationale: str = "Default alert rules for a newly monitored model.",
) -> list[AlertRule]:
    """Add default_rules(version) for the model unless it already has rules; audited."""
    require(user, "edit_rules", f"edit alert rules of {model_name}")
    why = require_rationale(rationale)
    with store.transaction() as con:
        if list_rules_con(con, model_name):
            return []
        version = get_version(con, model_name, model_version)
        return [insert_rule(con, model_name, spec, user, why) for spec in default_rules(version)]
