"""Robustness: decision flips under small moves and declared monotonic relations, on
scorers whose answers are known, and on the demo against the scikit-learn pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vigil.core.contract import FeatureSpec
from vigil.core.demo.model import train_version
from vigil.core.registry.versions import get_version
from vigil.core.responsible import robustness
from vigil.core.responsible.robustness import NothingToCheck, check_frame
from vigil.core.responsible.traffic import reference_stats
from vigil.core.store.connection import Store

X = FeatureSpec("x", "number", False)
N = FeatureSpec("n", "integer", False)
LEVEL = FeatureSpec("level", "string", True, order=("low", "mid", "high"), monotonic="increasing")
OTHER = FeatureSpec("colour", "string", True)  # no order: never moved
SEX = FeatureSpec("sex", "string", True, sensitive=True, model_input=False)
RANK = {"low": 0.0, "mid": 1.0, "high": 2.0}


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "prediction_id": ["a", "b", "c", "d", "e"],
            "x": [9.75, 10.25, 5.0, 15.0, np.nan],
            "n": [3, 3, 3, 3, 4],
            "level": ["low", "mid", "high", "low", "unknown"],
            "colour": ["red"] * 5,
        }
    )


def _score(frame: pd.DataFrame) -> np.ndarray:
    """Favourable (>= 0.5) when x > 10 and n <= 3 (the level barely counts)."""
    x = frame["x"].astype(float).fillna(0.0).to_numpy()
    level = frame["level"].map(RANK).fillna(0.0).to_numpy(dtype=float)
    n = frame["n"].astype(float).to_numpy()
    return 1 / (1 + np.exp(-(x - 10) * 10 + 100 * (n > 3.5) - 0.001 * level))


STATS = {"x": (10.0, tuple(np.linspace(0, 20, 11))), "n": (2.0, (0.0, 3.0, 6.0))}


def test_small_numeric_moves_flip_the_rows_at_the_boundary() -> None:
    checked = check_frame(_score, _frame(), (X, OTHER, SEX), STATS, 0.5, step=0.05)
    (flips,) = checked.features
    assert flips.feature == "x" and flips.move == "± 0.5 (5% of its standard deviation)"
    assert flips.rows == 4  # the missing x cannot move
    assert flips.flips == 2 and flips.flip_rate == 0.5
    assert [(r.prediction_id, r.value, r.moved_to) for r in checked.flips] == [
        ("b", "10.25", "9.75"),
        ("a", "9.75", "10.25"),
    ]
    assert checked.flipped_rows == 2


def test_integers_move_by_at_least_one() -> None:
    checked = check_frame(_score, _frame(), (N,), STATS, 0.5, step=0.05)
    (flips,) = checked.features
    assert flips.move == "± 1 (5% of its standard deviation)"
    # b and d are favourable with n = 3 and lose it at n = 4; e (n = 4) stays unfavourable.
    assert {r.prediction_id for r in checked.flips} == {"b", "d"}


def test_ordered_categories_move_to_their_neighbours_only() -> None:
    def by_level(frame: pd.DataFrame) -> np.ndarray:
        return frame["level"].map({"low": 0.2, "mid": 0.6, "high": 0.9}).fillna(0.0).to_numpy()

    checked = check_frame(by_level, _frame(), (LEVEL,), STATS, 0.5)
    (flips,) = checked.features
    assert flips.move == "to a neighbouring category" and flips.rows == 4
    assert sorted((r.prediction_id, r.value, r.moved_to) for r in checked.flips) == [
        ("a", "low", "mid"),
        ("b", "mid", "low"),
        ("d", "low", "mid"),
    ]
    (monotonic,) = checked.monotonic
    assert monotonic.violations == 0 and monotonic.grid == ("low", "mid", "high")


def test_a_declared_monotonic_relation_that_the_model_breaks() -> None:
    def dips_at_mid(frame: pd.DataFrame) -> np.ndarray:
        base = frame["x"].astype(float).fillna(0.0).to_numpy() / 100
        return base + frame["level"].map({"low": 0.3, "mid": 0.1, "high": 0.5}).to_numpy()

    checked = check_frame(dips_at_mid, _frame(), (LEVEL,), STATS, None)
    assert checked.features == ()  # no decision threshold: no flip rate
    (monotonic,) = checked.monotonic
    assert monotonic.violations == 5 and monotonic.worst_step == pytest.approx(0.2)
    first = checked.violations[0]
    assert (first.from_value, first.to_value) == ("low", "mid")
    assert first.score_from - first.score_to == pytest.approx(0.2)


# ---------------------------------------------------------------- the demo


def test_demo_candidate_against_the_scikit_learn_pipeline(demo_store: Store) -> None:
    report = robustness.robustness_check(demo_store, "credit-risk", "1.1", rows=200)
    assert report.traffic_version == "1.1" and report.rows == 200
    with demo_store.connect() as con:
        version = get_version(con, "credit-risk", "1.1")
        frame = con.execute(
            "SELECT prediction_id, * EXCLUDE (prediction_id) FROM log_credit_risk "
            "WHERE model_version = '1.1' AND status = 'ok' AND served_at >= ? AND served_at < ? "
            "ORDER BY hash(prediction_id, 0), prediction_id LIMIT 200",
            [report.start, report.end],
        ).df()
    pipeline = train_version("1.1").pipeline
    features = list(pipeline.feature_names_in_)

    def score(rows: pd.DataFrame) -> np.ndarray:
        return pipeline.predict_proba(rows[features])[:, 1]

    decided = score(frame) >= 0.5
    with demo_store.connect() as con:
        stats = reference_stats(con, version)
    flipped = np.zeros(len(frame), dtype=bool)
    for spec in version.model_inputs:
        if spec.categorical and spec.order:
            order = list(spec.order)
            values = frame[spec.name].map(lambda v: str(int(v)) if isinstance(v, float) else str(v))
            for shift in (-1, 1):
                moved = frame.copy()
                target = [
                    order[order.index(v) + shift]
                    if v in order and 0 <= order.index(v) + shift < len(order)
                    else None
                    for v in values
                ]
                keep = [t is None for t in target]
                new = [
                    o if k else (t if spec.type == "string" else float(t))
                    for o, t, k in zip(frame[spec.name], target, keep, strict=True)
                ]
                moved[spec.name] = new
                flipped |= (score(moved) >= 0.5) != decided
        elif not spec.categorical:
            delta = 0.05 * stats[spec.name][0]
            delta = max(1.0, round(delta)) if spec.type == "integer" else delta
            for sign in (-1, 1):
                moved = frame.assign(**{spec.name: frame[spec.name] + sign * delta})
                flipped |= (score(moved) >= 0.5) != decided
    assert report.flipped_rows == int(flipped.sum())
    assert report.flip_rate == pytest.approx(flipped.mean())
    # Monotonic: savings along its declared order, scored by scikit-learn.
    grid = ["little", "moderate", "quite rich", "rich"]
    along = np.vstack([score(frame.assign(saving_accounts=g)) for g in grid])
    violating = (np.diff(along, axis=0) < -1e-6).any(axis=0)
    savings = next(m for m in report.monotonic if m.feature == "saving_accounts")
    assert savings.violations == int(violating.sum()) > 0
    assert report.flips_passed == (report.flip_rate <= 0.10)
    assert report.flip_detail.startswith(f"{report.flip_rate:.1%} of 200 sampled decisions flip")
    assert not report.monotonic_passed and not report.passed
    either = set()
    for spec in version.model_inputs:
        if spec.monotonic:
            along = np.vstack([score(frame.assign(**{spec.name: g})) for g in spec.order])
            either |= set(frame["prediction_id"][(np.diff(along, axis=0) < -1e-6).any(axis=0)])
    assert report.violation_rate == pytest.approx(len(either) / 200)
    assert "saving_accounts declared increasing: violated on" in report.monotonic_detail
    # A looser monotonic threshold (a governed decision) lets the same rows pass.
    looser = robustness.robustness_check(
        demo_store, "credit-risk", "1.1", rows=200, monotonic_threshold=1.0
    )
    assert looser.monotonic_passed and looser.violation_rate == report.violation_rate
    shown = {v.prediction_id for v in report.violations if v.feature == "saving_accounts"}
    assert shown <= set(frame["prediction_id"][violating])


def test_a_candidate_without_traffic_is_checked_on_the_champions(demo_copy: Store) -> None:
    with demo_copy.transaction() as con:
        con.execute("DELETE FROM log_credit_risk WHERE model_version = '1.1'")
    report = robustness.robustness_check(demo_copy, "credit-risk", "1.1", rows=50)
    assert report.traffic_version == "1.0" and report.rows == 50
    with demo_copy.transaction() as con:
        con.execute("DELETE FROM log_credit_risk")
    with pytest.raises(NothingToCheck) as err:
        robustness.robustness_check(demo_copy, "credit-risk", "1.1")
    assert str(err.value).startswith("credit-risk has no live traffic to check 1.1 on yet")


def test_step_and_sample_size_come_from_the_settings(
    demo_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_ROBUSTNESS_STEP", "0.2")
    monkeypatch.setenv("VIGIL_ROBUSTNESS_ROWS", "60")
    report = robustness.robustness_check(demo_store, "credit-risk", "1.0")
    assert (report.step, report.rows) == (0.2, 60)
    amount = next(f for f in report.features if f.feature == "credit_amount")
    with demo_store.connect() as con:
        std = con.execute(
            "SELECT stddev_samp(credit_amount) FROM reference_credit_risk "
            "WHERE model_version = '1.0'"
        ).fetchone()[0]
    assert amount.move == f"± {0.2 * std:.4g} (20% of its standard deviation)"
