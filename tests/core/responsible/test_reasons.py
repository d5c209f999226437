"""Reasons in words: the factors that lowered and raised a score, with the metadata's texts,
and their effects in probability terms computed independently (scipy's logistic)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from scipy.special import expit

from vigil.core.contract import FeatureSpec
from vigil.core.explain.attributions import Method, OutputSpace
from vigil.core.explain.local import FeatureContribution, LocalExplanation
from vigil.core.registry.versions import get_version
from vigil.core.responsible import reasons
from vigil.core.responsible.reasons import Direction
from vigil.core.store.connection import Store

SPECS = (
    FeatureSpec("savings", "string", True, reason_lowers="Low savings", reason_raises="Savings"),
    FeatureSpec("term", "integer", False, reason_lowers="Long term", reason_raises="Short term"),
    FeatureSpec("amount", "number", False),
    FeatureSpec("region", "string", True, reason_lowers="Region", reason_raises="Region"),
)


def _explanation(space: OutputSpace, contributions: dict[str, float]) -> LocalExplanation:
    base = 0.3
    output = base + sum(contributions.values())
    values = {"savings": "little", "term": "48", "amount": "9000", "region": "north"}
    return LocalExplanation(
        model_name="m",
        model_version="1",
        prediction_id="p-1",
        served_at=dt.datetime(2026, 10, 1),
        status="ok",
        method=Method.TREE_SHAP,
        output_space=space,
        base_value=base,
        output_value=output,
        contributions=tuple(
            FeatureContribution(f, values[f], v)
            for f, v in sorted(contributions.items(), key=lambda kv: -abs(kv[1]))
        ),
        logged_prediction=None,
        label=None,
        base_probability=float(expit(base)) if space == OutputSpace.LOG_ODDS else None,
        probability=float(expit(output)) if space == OutputSpace.LOG_ODDS else None,
        elapsed_ms=1.0,
    )


def test_log_odds_reasons_in_order_with_texts_and_probability_effects() -> None:
    result = _explanation(
        OutputSpace.LOG_ODDS, {"savings": -0.9, "term": -0.4, "amount": 0.25, "region": 0.0}
    )
    why = reasons.reasons_for(result, SPECS, 0.5)
    assert [r.feature for r in why.lowered] == ["savings", "term"]
    assert [r.feature for r in why.raised] == ["amount"]  # a zero contribution is no reason
    assert [r.direction for r in why.lowered] == [Direction.LOWERED] * 2
    assert [r.text for r in why.lowered] == ["Low savings", "Long term"]
    assert why.raised[0].text == "amount = 9000"  # no text in the metadata: name and value
    assert not why.reasons_declared
    out = result.output_value
    for r in (*why.lowered, *why.raised):
        assert r.probability_change == pytest.approx(
            float(expit(out) - expit(out - r.contribution)), abs=1e-12
        )
    savings = why.lowered[0]
    assert savings.sentence == (
        "Low savings (savings = little) lowered the probability by "
        f"{abs(savings.probability_change) * 100:.1f} percentage points."
    )
    assert why.score == pytest.approx(float(expit(out)))
    assert why.decision == (
        f"Score {expit(out):.1%} is below the decision threshold 50.0%: not the favourable outcome."
    )


def test_top_n_and_a_favourable_decision() -> None:
    result = _explanation(
        OutputSpace.LOG_ODDS, {"savings": 0.9, "term": 0.8, "amount": 0.7, "region": -0.01}
    )
    why = reasons.reasons_for(result, SPECS, 0.5, top=2)
    assert [r.feature for r in why.raised] == ["savings", "term"]
    assert [r.text for r in why.raised] == ["Savings", "Short term"]
    assert [r.feature for r in why.lowered] == ["region"]
    assert why.decision.endswith("is at or above the decision threshold 50.0%: favourable outcome.")


def test_probability_and_raw_spaces() -> None:
    forest = _explanation(OutputSpace.PROBABILITY, {"savings": -0.12, "term": 0.05})
    why = reasons.reasons_for(forest, SPECS, 0.5)
    assert why.lowered[0].probability_change == -0.12  # already a change in probability
    assert why.score == forest.output_value
    regression = _explanation(OutputSpace.RAW, {"savings": -120.0, "term": 30.0})
    why = reasons.reasons_for(regression, SPECS, None)
    assert why.lowered[0].probability_change is None
    assert why.lowered[0].sentence == (
        "Low savings (savings = little) lowered the predicted value by 120."
    )
    assert why.decision == f"Score {regression.output_value:.4g}."


def test_demo_prediction_reasons_come_from_its_metadata(demo_store: Store) -> None:
    with demo_store.connect() as con:
        prediction_id = con.execute(
            "SELECT prediction_id FROM log_credit_risk WHERE model_version = '1.0' "
            "AND status = 'ok' AND prediction < 0.5 ORDER BY prediction_id LIMIT 1"
        ).fetchone()[0]
        version = get_version(con, "credit-risk", "1.0")
    result, why = reasons.prediction_reasons(demo_store, "credit-risk", prediction_id)
    specs = {f.name: f for f in version.features}
    negative = sorted(
        (c for c in result.contributions if c.contribution < 0), key=lambda c: c.contribution
    )
    assert [r.feature for r in why.lowered] == [c.feature for c in negative[: reasons.TOP_REASONS]]
    assert [r.text for r in why.lowered] == [specs[r.feature].reason_lowers for r in why.lowered]
    assert why.reasons_declared
    assert why.decision.endswith("not the favourable outcome.")
    assert "sex" not in {c.feature for c in result.contributions}
    # The JSON the CLI prints carries the same reasons.
    from vigil.core.results import to_jsonable

    payload = json.loads(json.dumps(to_jsonable(why)))
    assert [r["text"] for r in payload["lowered"]] == [r.text for r in why.lowered]
