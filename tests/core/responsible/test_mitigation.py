"""Bias mitigation what-if: every number checked against fairlearn's MetricFrame on the same
rows (fetched here independently), the four-fifths threshold attacked from both sides, and
the exports read back."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.base import BaseEstimator
from sklearn.metrics import accuracy_score

from vigil.core.monitor.selection import Selection
from vigil.core.responsible import mitigation
from vigil.core.responsible.mitigation import MitigationError, Option
from vigil.core.responsible.mitigation_rules import evaluate_rule, single_threshold_rule
from vigil.core.results import to_jsonable
from vigil.core.store.connection import Store

SELECTION = Selection("credit-risk", "1.0", dt.datetime(2026, 8, 26), dt.datetime(2026, 11, 24))
AGE_BANDS = ["<25", "25–34", "35–49", "50+"]


@pytest.fixture(scope="module")
def rows(demo_store: Store) -> pd.DataFrame:
    """The labelled rows, read and banded here without Vigil's code."""
    with demo_store.connect() as con:
        frame = con.execute(
            "SELECT l.prediction AS score, b.label, l.age, l.sex FROM log_credit_risk l "
            "JOIN labels b ON b.prediction_id = l.prediction_id "
            "WHERE l.model_version = '1.0' AND l.status = 'ok' AND l.served_at >= ? "
            "AND l.served_at < ? ORDER BY l.prediction_id",
            [SELECTION.start, SELECTION.end],
        ).df()
    frame["age_band"] = pd.cut(
        frame["age"], [-np.inf, 25, 35, 50, np.inf], right=False, labels=AGE_BANDS
    ).astype(str)
    return frame


@pytest.fixture(scope="module")
def whatif(demo_store: Store) -> mitigation.MitigationWhatIf:
    return mitigation.mitigation_what_if(demo_store, SELECTION, attribute="age")


def _check(option: mitigation.OptionResult, predicted: np.ndarray, rows: pd.DataFrame) -> None:
    frame = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "accuracy": accuracy_score,
        },
        y_true=rows["label"].astype(int),
        y_pred=predicted.astype(int),
        sensitive_features=rows["age_band"],
    ).by_group
    assert [g.group for g in option.groups] == AGE_BANDS
    for g in option.groups:
        expected = frame.loc[g.group]
        assert g.rows == int((rows["age_band"] == g.group).sum())
        assert g.selection_rate == pytest.approx(expected["selection_rate"], abs=1e-12)
        assert g.tpr == pytest.approx(expected["tpr"], abs=1e-12)
        assert g.fpr == pytest.approx(expected["fpr"], abs=1e-12)
        assert g.accuracy == pytest.approx(expected["accuracy"], abs=1e-12)
    y, a = rows["label"].astype(int), rows["age_band"]
    assert option.accuracy == pytest.approx(accuracy_score(y, predicted), abs=1e-12)
    assert option.demographic_parity_ratio == pytest.approx(
        demographic_parity_ratio(y, predicted, sensitive_features=a), abs=1e-12
    )
    assert option.equalized_odds_difference == pytest.approx(
        equalized_odds_difference(y, predicted, sensitive_features=a), abs=1e-12
    )
    assert option.meets_four_fifths == (option.demographic_parity_ratio >= 0.8)


def test_the_current_rule_equals_metricframe(whatif, rows) -> None:
    current = whatif.option(Option.CURRENT)
    assert whatif.rows == len(rows)
    assert current.threshold == 0.5 and not current.uses_sensitive_attribute
    _check(current, (rows["score"] >= 0.5).to_numpy(), rows)
    assert current.meets_four_fifths is False  # the demo's age disparity


def test_the_new_single_threshold_is_the_nearest_that_meets_four_fifths(whatif, rows) -> None:
    option = whatif.option(Option.SINGLE_THRESHOLD)
    assert not option.uses_sensitive_attribute
    chosen = option.threshold
    _check(option, (rows["score"] >= chosen).to_numpy(), rows)
    assert option.meets_four_fifths

    def ratio(t: float) -> float:
        rates = (rows["score"] >= t).groupby(rows["age_band"]).mean()
        return float(rates.min() / rates.max())

    assert ratio(chosen) >= 0.8
    # Attack: every observed score strictly between the chosen and the current threshold
    # fails the rule, so no nearer threshold exists.
    between = np.unique(rows["score"][(rows["score"] > chosen) & (rows["score"] < 0.5)])
    assert len(between) > 10
    assert all(ratio(t) < 0.8 for t in between)


class _Score(BaseEstimator):
    def fit(self, X, y):
        self.fitted_ = True
        return self

    def predict(self, X):
        return np.asarray(X)[:, 0]


@pytest.mark.parametrize(
    ("option", "constraint"),
    [(Option.DEMOGRAPHIC_PARITY, "demographic_parity"), (Option.EQUALIZED_ODDS, "equalized_odds")],
)
def test_threshold_optimizer_options_equal_fairlearn(whatif, rows, option, constraint) -> None:
    result = whatif.option(option)
    assert result.uses_sensitive_attribute and result.threshold is None
    x, y, a = rows[["score"]].to_numpy(), rows["label"].astype(int), rows["age_band"]
    optimizer = ThresholdOptimizer(
        estimator=_Score().fit(x, y),
        constraints=constraint,
        objective="accuracy_score",
        prefit=True,
        predict_method="predict",
    )
    optimizer.fit(x, y, sensitive_features=a)
    predicted = optimizer.predict(x, sensitive_features=a, random_state=0)
    _check(result, np.asarray(predicted), rows)


def test_trade_off_sweep_is_accuracy_and_ratio_of_single_thresholds(whatif, rows) -> None:
    assert len(whatif.sweep) > 50
    for point in whatif.sweep[::10]:
        predicted = rows["score"] >= point.threshold
        assert point.accuracy == pytest.approx(accuracy_score(rows["label"], predicted), abs=1e-12)
        rates = predicted.groupby(rows["age_band"]).mean()
        expected = rates.min() / rates.max() if rates.max() > 0 else None
        assert point.demographic_parity_ratio == pytest.approx(expected, abs=1e-12)


def test_exports_as_json_and_csv(whatif) -> None:
    payload = json.loads(json.dumps(to_jsonable(whatif)))
    assert payload["attribute"] == "age" and "Regulation B" in payload["legal_note"]
    assert [o["option"] for o in payload["options"]] == [o.value for o in Option]
    table = list(csv.DictReader(io.StringIO(mitigation.to_csv(whatif))))
    assert len(table) == len(Option) * (1 + len(AGE_BANDS))
    current = next(r for r in table if r["option"] == "current" and r["group"] == "<25")
    group = whatif.option(Option.CURRENT).groups[0]
    assert float(current["selection_rate"]) == group.selection_rate
    assert current["four_fifths"] == group.four_fifths.value == "fail"
    dp = [r for r in table if r["option"] == "threshold_optimizer_demographic_parity"]
    assert {r["uses_sensitive_attribute"] for r in dp} == {"True"}


def test_sex_is_the_default_attribute_and_passes_since_the_model_does_not_see_it(
    demo_store: Store,
) -> None:
    result = mitigation.mitigation_what_if(demo_store, SELECTION)
    assert result.attribute == "sex" and result.attributes == ("sex", "age")
    assert result.option(Option.CURRENT).meets_four_fifths
    single = result.option(Option.SINGLE_THRESHOLD)
    assert single.threshold == 0.5 and single.note.startswith("The current threshold 0.5 already")


def test_errors_name_the_problem(demo_store: Store) -> None:
    with pytest.raises(MitigationError) as err:
        mitigation.mitigation_what_if(demo_store, SELECTION, attribute="housing")
    assert str(err.value) == (
        "'housing' is not a sensitive attribute of credit-risk 1.0 (declared: sex, age)."
    )
    recent = Selection("credit-risk", "1.0", dt.datetime(2026, 11, 20), dt.datetime(2026, 11, 24))
    with pytest.raises(MitigationError, match="fewer than two groups have 30 labelled"):
        mitigation.mitigation_what_if(demo_store, recent, attribute="age")


def test_when_groups_never_overlap_only_approving_everyone_meets_the_rule() -> None:
    """Group a scores 0.9, group b 0.1: any threshold between selects all of a and none of
    b; the nearest passing threshold is the lowest score, where everyone is selected."""
    score = np.array([0.9] * 40 + [0.1] * 40)
    label = np.array([1.0, 0.0] * 40)
    group = np.array(["a"] * 40 + ["b"] * 40)
    rule = single_threshold_rule(score, label, group, 0.5, 30)
    assert rule.threshold == 0.1 and rule.predicted.all()
    # Groups below the minimum size are not judged: no ratio, no verdict.
    evaluation = evaluate_rule(score >= 0.5, label, group, 50)
    assert evaluation.dp_ratio is None and evaluation.meets_four_fifths is None
    assert [g.eligible for g in evaluation.groups] == [False, False]
    assert [g.selection_rate for g in evaluation.groups] == [1.0, 0.0]
