"""Per-model drift thresholds, kept in the audited policy table (core.govern.policy).

A setting overrides (feature or '*', test) -> threshold. feature '*': the threshold of the test
wherever it applies; a column name: that column uses that test with that threshold. Tests are
core.stats.drift_tests.TESTS, plus 'dataset_share' (share of drifted features above which a
window drifts) and 'domain_auc' (the domain classifier's ROC AUC above which data drifted).
p-value thresholds are the family-wise alpha per window, split over the features (Bonferroni).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import duckdb

from vigil.core.errors import VigilError
from vigil.core.govern.auth import User, require
from vigil.core.govern.policy.changes import ChangeOutcome, propose
from vigil.core.govern.policy.thresholds import Bound, PolicyKind, ThresholdKey, drift_thresholds
from vigil.core.monitor.profiles import profiled_columns
from vigil.core.registry.versions import list_versions, model_tables
from vigil.core.stats import drift_tests
from vigil.core.stats.drift_tests import ColumnKind, StatTest
from vigil.core.store.connection import Store

DATASET_SHARE = 0.5  # a window drifts when more than this share of its features drift
DOMAIN_AUC = 0.55  # the domain classifier's cross-validated ROC AUC above which data drifted
DATASET_TEST = "dataset_share"
DOMAIN_TEST = "domain_auc"
WHOLE_MODEL = "*"


class DriftSettingError(VigilError):
    """A drift setting names an unknown test or feature, or an impossible threshold."""


@dataclass(frozen=True)
class DriftSettings:
    """Per-model overrides: (feature or '*', test) -> threshold."""

    overrides: dict[tuple[str, str], float] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.overrides.items())))

    def test_for(self, column: str, kind: ColumnKind, reference_n: int) -> tuple[StatTest, float]:
        """The column's test and its threshold before any Bonferroni split."""
        for (feature, test), threshold in self.overrides.items():
            if feature == column and test in drift_tests.TESTS:
                return drift_tests.TESTS[test], threshold
        default = drift_tests.default_test(kind, reference_n)
        return default, self.overrides.get((WHOLE_MODEL, default.name), default.threshold)

    def dataset_share(self) -> float:
        return self.overrides.get((WHOLE_MODEL, DATASET_TEST), DATASET_SHARE)

    def domain_auc(self) -> float:
        return self.overrides.get((WHOLE_MODEL, DOMAIN_TEST), DOMAIN_AUC)


def load_settings(con: duckdb.DuckDBPyConnection, model_name: str) -> DriftSettings:
    """The model's overrides, as set through the audited policy path (core.govern.policy)."""
    return DriftSettings(drift_thresholds(con, model_name))


def _check(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    test: str,
    threshold: float | None,
    feature: str,
) -> None:
    known = {*drift_tests.TESTS, DATASET_TEST, DOMAIN_TEST}
    if test not in known:
        raise DriftSettingError(
            f"Unknown drift test '{test}' for {model_name}; use one of {', '.join(sorted(known))}."
        )
    if threshold is not None and (not (threshold >= 0) or math.isinf(threshold)):
        raise DriftSettingError(
            f"The threshold of {test} for {model_name} must be a finite number >= 0, "
            f"got {threshold}."
        )
    model_tables(con, model_name)  # the model must exist
    columns = {c.name for v in list_versions(con, model_name) for c in profiled_columns(v)}
    if feature != WHOLE_MODEL and feature not in columns:
        raise DriftSettingError(
            f"{model_name} has no column '{feature}'; use '*' or one of "
            f"{', '.join(sorted(columns))}."
        )
    if feature != WHOLE_MODEL and test in (DATASET_TEST, DOMAIN_TEST):
        raise DriftSettingError(f"'{test}' applies to the whole model: use feature '*'.")


def _default(con: duckdb.DuckDBPyConnection, model_name: str, test: str, feature: str) -> float:
    """What applies to (feature, test) without this override: the whole-model setting of the
    test for one column, else the test's own default."""
    if test == DATASET_TEST:
        return DATASET_SHARE
    if test == DOMAIN_TEST:
        return DOMAIN_AUC
    base = drift_tests.TESTS[test].threshold
    if feature == WHOLE_MODEL:
        return base
    return drift_thresholds(con, model_name).get((WHOLE_MODEL, test), base)


def _bound(test: str) -> Bound:
    """p-value tests flag drift below the threshold, so lowering it loosens; distances,
    dataset_share and domain_auc flag drift above it, so raising it loosens."""
    found = drift_tests.TESTS.get(test)
    return Bound.MINIMUM if found is not None and found.uses_p_value else Bound.MAXIMUM


def set_threshold(
    store: Store,
    user: User,
    model_name: str,
    *,
    test: str,
    threshold: float | None,
    feature: str = WHOLE_MODEL,
    rationale: str | None = None,
) -> ChangeOutcome:
    """Ask for (or with threshold=None remove) a per-model override through the audited
    policy path: it applies now if it does not loosen drift detection, else it waits for an
    admin other than the proposer to confirm it. A rationale is required."""
    require(user, "edit_rules", f"change drift thresholds of {model_name}")
    with store.connect() as con:
        _check(con, model_name, test, threshold, feature)
        default = _default(con, model_name, test, feature)
    return propose(
        store,
        user,
        ThresholdKey(model_name, PolicyKind.DRIFT, test, feature),
        None if threshold is None else float(threshold),
        rationale=rationale or "",
        bound=_bound(test),
        default=default,
        permission="edit_rules",
    )
