"""Reasons in words: the factors that lowered and raised one prediction's score.

A credit decision must give its principal reasons (the adverse-action reasons). They come
from the prediction's SHAP contributions: the largest negative ones lowered the score, the
largest positive ones raised it. Each reason uses the text the model's metadata gives for
that feature and direction (`reason_lowers` / `reason_raises`), and is stated in probability
terms when the score is a probability:

- log-odds explanations: the factor's effect is σ(output) − σ(output − contribution), the
  change in probability between the score and the score without that contribution, others
  held. Because the link is not linear these effects do not add up to the total change;
- probability explanations (e.g. random forests): the contribution already is a change in
  probability;
- raw scores (regressors): the contribution in the score's own units.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vigil.core.contract import FeatureSpec
from vigil.core.explain.attributions import OutputSpace, sigmoid1
from vigil.core.explain.local import FeatureContribution, LocalExplanation, explain_prediction
from vigil.core.registry import versions as registry
from vigil.core.store.connection import Store

TOP_REASONS = 4  # adverse-action notices usually give up to four principal reasons


class Direction(StrEnum):
    LOWERED = "lowered"
    RAISED = "raised"


@dataclass(frozen=True)
class Reason:
    feature: str
    value: str
    direction: Direction
    text: str  # from the metadata, else "<feature> = <value>"
    contribution: float  # in the explanation's output space
    probability_change: float | None  # signed, 0..1 scale; None for raw scores
    sentence: str


@dataclass(frozen=True)
class Reasons:
    """The principal reasons for one prediction, in words."""

    prediction_id: str
    model_name: str
    model_version: str
    output_space: OutputSpace
    score: float  # probability for classifiers, the value for regressors
    decision_threshold: float | None
    decision: str  # the score against the threshold, in words
    lowered: tuple[Reason, ...]  # largest effect first
    raised: tuple[Reason, ...]
    reasons_declared: bool  # every explained feature has metadata reason texts


def _probability_change(result: LocalExplanation, contribution: float) -> float | None:
    if result.output_space == OutputSpace.LOG_ODDS:
        output = result.output_value
        return sigmoid1(output) - sigmoid1(output - contribution)
    if result.output_space == OutputSpace.PROBABILITY:
        return contribution
    return None


def _sentence(reason_text: str, item: FeatureContribution, change: float | None) -> str:
    verb = "lowered" if item.contribution < 0 else "raised"
    where = f"{reason_text} ({item.feature} = {item.value})"
    if change is None:
        return f"{where} {verb} the predicted value by {abs(item.contribution):.4g}."
    return f"{where} {verb} the probability by {abs(change) * 100:.1f} percentage points."


def _reason(
    result: LocalExplanation, item: FeatureContribution, spec: FeatureSpec | None
) -> Reason:
    direction = Direction.LOWERED if item.contribution < 0 else Direction.RAISED
    declared = None
    if spec is not None:
        declared = spec.reason_lowers if direction is Direction.LOWERED else spec.reason_raises
    text = declared or f"{item.feature} = {item.value}"
    change = _probability_change(result, item.contribution)
    return Reason(
        feature=item.feature,
        value=item.value,
        direction=direction,
        text=text,
        contribution=item.contribution,
        probability_change=change,
        sentence=_sentence(declared or item.feature, item, change),
    )


def _decision(score: float, threshold: float | None, probability: bool) -> str:
    shown = f"{score:.1%}" if probability else f"{score:.4g}"
    if threshold is None:
        return f"Score {shown}."
    limit = f"{threshold:.1%}" if probability else f"{threshold:.4g}"
    if score >= threshold:
        return f"Score {shown} is at or above the decision threshold {limit}: favourable outcome."
    return f"Score {shown} is below the decision threshold {limit}: not the favourable outcome."


def reasons_for(
    result: LocalExplanation,
    features: tuple[FeatureSpec, ...],
    decision_threshold: float | None,
    *,
    top: int = TOP_REASONS,
) -> Reasons:
    """The `top` factors that lowered and that raised the score, with the metadata's texts."""
    specs = {f.name: f for f in features}
    ranked = sorted(result.contributions, key=lambda c: c.contribution)
    lowered = [_reason(result, c, specs.get(c.feature)) for c in ranked if c.contribution < 0]
    raised = [
        _reason(result, c, specs.get(c.feature)) for c in reversed(ranked) if c.contribution > 0
    ]
    probability = result.output_space != OutputSpace.RAW
    score = result.probability if result.probability is not None else result.output_value
    declared = all(
        specs.get(c.feature) is not None
        and bool(specs[c.feature].reason_lowers)
        and bool(specs[c.feature].reason_raises)
        for c in result.contributions
    )
    return Reasons(
        prediction_id=result.prediction_id,
        model_name=result.model_name,
        model_version=result.model_version,
        output_space=result.output_space,
        score=score,
        decision_threshold=decision_threshold,
        decision=_decision(score, decision_threshold, probability),
        lowered=tuple(lowered[:top]),
        raised=tuple(raised[:top]),
        reasons_declared=declared,
    )


def prediction_reasons(
    store: Store,
    model_name: str,
    prediction_id: str,
    *,
    model_version: str | None = None,
    top: int = TOP_REASONS,
) -> tuple[LocalExplanation, Reasons]:
    """Explain one logged prediction and put its principal reasons in words."""
    result = explain_prediction(store, model_name, prediction_id, model_version=model_version)
    with store.connect() as con:
        version = registry.get_version(con, model_name, result.model_version)
    # A threshold on probabilities says nothing about a raw margin or a regression value.
    threshold = None if result.output_space == OutputSpace.RAW else version.decision_threshold
    return result, reasons_for(result, version.features, threshold, top=top)
