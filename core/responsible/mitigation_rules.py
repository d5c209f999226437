"""The decision rules a mitigation what-if compares, and how one rule is scored per group.

Counts per group are plain arithmetic on the predictions (tests hold them to fairlearn's
MetricFrame on the same rows); the four-fifths rule is `vigil.core.stats.disparity`'s.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.base import BaseEstimator

from vigil.core.stats.disparity import RuleOutcome, four_fifths, passes

FloatArray = npt.NDArray[np.float64]
SWEEP_POINTS = 101


@dataclass(frozen=True, eq=False)
class Rule:
    """Who a rule selects (favourable outcome), and its one threshold if it has one."""

    predicted: npt.NDArray[np.bool_]
    threshold: float | None
    note: str


@dataclass(frozen=True)
class GroupOutcome:
    group: str
    rows: int
    positives: int
    negatives: int
    selection_rate: float
    tpr: float | None
    fpr: float | None
    accuracy: float
    ratio_to_highest: float | None  # selection rate / the highest eligible group's
    four_fifths: RuleOutcome
    eligible: bool  # enough rows to be judged (the Fairness page's minimum)


@dataclass(frozen=True)
class Evaluation:
    groups: tuple[GroupOutcome, ...]
    accuracy: float
    selection_rate: float
    dp_ratio: float | None
    dp_difference: float | None
    eo_difference: float | None
    meets_four_fifths: bool | None


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _group(
    name: str, predicted: npt.NDArray[np.bool_], truth: npt.NDArray[np.bool_], min_rows: int
) -> GroupOutcome:
    positives, negatives = int(truth.sum()), int((~truth).sum())
    return GroupOutcome(
        group=name,
        rows=len(predicted),
        positives=positives,
        negatives=negatives,
        selection_rate=float(predicted.mean()),
        tpr=_rate(int((predicted & truth).sum()), positives),
        fpr=_rate(int((predicted & ~truth).sum()), negatives),
        accuracy=float((predicted == truth).mean()),
        ratio_to_highest=None,
        four_fifths=RuleOutcome.UNDEFINED,
        eligible=len(predicted) >= min_rows,
    )


def _spread(values: list[float]) -> float | None:
    return max(values) - min(values) if len(values) >= 2 else None


def evaluate_rule(
    predicted: npt.NDArray[np.bool_],
    label: FloatArray,
    group: npt.NDArray[Any],
    min_rows: int,
    order: tuple[str, ...] = (),
) -> Evaluation:
    """Selection rate, TPR, FPR and accuracy per group (in `order`, then the rest sorted);
    disparities over the eligible groups."""
    truth = label == 1
    present = set(group.tolist())
    names = [g for g in order if g in present] + sorted(present - set(order))
    raw = [
        _group(str(name), predicted[group == name], truth[group == name], min_rows)
        for name in names
    ]
    eligible = [g for g in raw if g.eligible]
    highest = max((g.selection_rate for g in eligible), default=None)
    groups = []
    for g in raw:
        rule = four_fifths(g.selection_rate, highest)
        if g.eligible:
            g = replace(g, ratio_to_highest=rule.ratio, four_fifths=rule.outcome)
        groups.append(g)
    rates = [g.selection_rate for g in eligible]
    dp_ratio = min(rates) / max(rates) if len(rates) >= 2 and max(rates) > 0 else None
    tpr = _spread([g.tpr for g in eligible if g.tpr is not None])
    fpr = _spread([g.fpr for g in eligible if g.fpr is not None])
    return Evaluation(
        groups=tuple(groups),
        accuracy=float((predicted == truth).mean()),
        selection_rate=float(predicted.mean()),
        dp_ratio=dp_ratio,
        dp_difference=_spread(rates),
        eo_difference=None if tpr is None or fpr is None else max(tpr, fpr),
        meets_four_fifths=passes(dp_ratio),
    )


def _per_threshold(
    thresholds: FloatArray,
    score: FloatArray,
    label: FloatArray,
    group: npt.NDArray[Any],
    min_rows: int,
) -> tuple[FloatArray, FloatArray]:
    """Accuracy and the lowest/highest selection-rate ratio (eligible groups) for each
    candidate threshold t, selecting score >= t, from sorted cumulative counts."""
    correct = np.zeros(len(thresholds))
    rates = []
    for name in set(group.tolist()):
        mask = group == name
        s, y = score[mask], label[mask] == 1
        order = np.argsort(s, kind="stable")
        s, y = s[order], y[order]
        below = np.searchsorted(s, thresholds, side="left")  # rows not selected
        positives_below = np.concatenate([[0], np.cumsum(y)])[below]
        negatives_below = below - positives_below
        correct += (y.sum() - positives_below) + negatives_below
        if mask.sum() >= min_rows:
            rates.append((len(s) - below) / len(s))
    matrix = np.vstack(rates)
    highest = matrix.max(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(highest > 0, matrix.min(axis=0) / highest, np.nan)
    return correct / len(score), ratio


def single_threshold_rule(
    score: FloatArray, label: FloatArray, group: npt.NDArray[Any], current: float, min_rows: int
) -> Rule:
    """The single threshold nearest the current one whose selection rates meet the
    four-fifths rule (the smallest change; ties: the more accurate). One always exists: at
    the lowest score everyone is selected and the rates are equal."""
    candidates = np.unique(np.concatenate([score, [current]]))
    accuracy, ratio = _per_threshold(candidates, score, label, group, min_rows)
    ok = np.array([passes(None if np.isnan(r) else float(r)) is True for r in ratio])
    distance = np.where(ok, np.abs(candidates - current), np.inf)
    nearest = np.flatnonzero(distance == distance.min())
    chosen = float(candidates[nearest[np.argmax(accuracy[nearest])]])
    if chosen == current:
        note = f"The current threshold {current:g} already meets the four-fifths rule."
    else:
        note = (
            f"Score at or above {chosen:.4f} for everyone (now {current:g}): the nearest "
            "single threshold whose selection rates meet the four-fifths rule."
        )
    return Rule(score >= chosen, chosen, note)


class _LoggedScore(BaseEstimator):  # type: ignore[misc]
    """An already-fitted 'model' whose prediction is the logged score (column 0)."""

    def fit(self, X: FloatArray, y: FloatArray) -> _LoggedScore:
        self.fitted_ = True
        return self

    def predict(self, X: FloatArray) -> FloatArray:
        return np.asarray(X, dtype=np.float64)[:, 0]


def optimizer_rule(
    score: FloatArray, label: FloatArray, group: npt.NDArray[Any], constraint: str, seed: int
) -> Rule:
    """fairlearn's ThresholdOptimizer on the logged scores, fitted and applied to the rows."""
    features = score.reshape(-1, 1)
    optimizer = ThresholdOptimizer(
        estimator=_LoggedScore().fit(features, label),
        constraints=constraint,
        objective="accuracy_score",
        prefit=True,
        predict_method="predict",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fairlearn's notes on prefit estimators
        optimizer.fit(features, label, sensitive_features=group)
        predicted = optimizer.predict(features, sensitive_features=group, random_state=seed)
    words = "demographic parity" if constraint == "demographic_parity" else "equalized odds"
    return Rule(
        np.asarray(predicted, dtype=bool),
        None,
        f"A threshold per group chosen by fairlearn for the best accuracy under {words} "
        "(randomised between two thresholds at the boundary; fitted on these same rows).",
    )


def sweep(
    score: FloatArray, label: FloatArray, group: npt.NDArray[Any], min_rows: int
) -> list[tuple[float, float, float | None]]:
    """(threshold, accuracy, selection-rate ratio) for single thresholds across the scores."""
    thresholds = np.unique(np.quantile(score, np.linspace(0.0, 1.0, SWEEP_POINTS)))
    accuracy, ratio = _per_threshold(thresholds, score, label, group, min_rows)
    return [
        (float(t), float(a), None if np.isnan(r) else float(r))
        for t, a, r in zip(thresholds, accuracy, ratio, strict=True)
    ]
