"""CBPE: the calibrator equals sklearn's isotonic fit on raw rows, the expected confusion matrix
and AUC equal an independent per-row numpy computation, and on the demo the estimate tracks
realised performance until the concept drift, which it cannot see."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from tests.core.factories import register_toy
from vigil.core.monitor import estimation as est
from vigil.core.monitor.performance.baseline import Baseline, BaselineKind
from vigil.core.monitor.selection import Selection
from vigil.core.store.connection import Store

SELECTION = Selection("credit-risk", "1.0", dt.datetime(2026, 8, 26), dt.datetime(2026, 11, 24))
BASELINE = Baseline(BaselineKind.PERIOD, dt.datetime(2026, 8, 26), dt.datetime(2026, 9, 7))


def per_row_expectations(scores: np.ndarray, calibrated: np.ndarray, threshold: float):
    """Independent CBPE on raw rows: each row adds c to positives and 1 - c to negatives."""
    predicted = scores >= threshold
    tp, fp = calibrated[predicted].sum(), (1 - calibrated[predicted]).sum()
    fn, tn = calibrated[~predicted].sum(), (1 - calibrated[~predicted]).sum()
    y = np.concatenate([np.ones(len(scores)), np.zeros(len(scores))])
    auc = roc_auc_score(
        y,
        np.concatenate([scores, scores]),
        sample_weight=np.concatenate([calibrated, 1 - calibrated]),
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = {
            "precision": tp / (tp + fp),
            "recall": tp / (tp + fn),
            "f1": 2 * tp / (2 * tp + fp + fn),
        }
    return {
        **ratios,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "accuracy": (tp + tn) / len(scores),
        "roc_auc": auc,
    }


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(5, 300), grid=st.sampled_from([5, 20, 10_000]))
def test_expected_metrics_equal_a_per_row_computation(seed: int, n: int, grid: int) -> None:
    rng = np.random.default_rng(seed)
    raw = np.round(rng.random(n) * grid) / grid
    scores, counts = np.unique(raw, return_counts=True)
    calibrated_unique = np.clip(rng.random() * 0.3 + scores * rng.uniform(0.5, 1.0), 0.001, 0.999)
    confusion, metrics = est.expected_metrics(
        scores=scores, counts=counts, calibrated=calibrated_unique, threshold=0.5
    )
    per_row_c = calibrated_unique[np.searchsorted(scores, raw)]
    want = per_row_expectations(raw, per_row_c, 0.5)
    for name in ("tp", "fp", "fn", "tn"):
        assert getattr(confusion, name) == pytest.approx(want[name], abs=1e-9)
    for name in est.ESTIMATED_METRICS:
        if np.isfinite(want[name]):
            assert metrics[name] == pytest.approx(want[name], abs=1e-9), name


def raw_scores(store: Store, start: dt.datetime, end: dt.datetime, labelled: bool):
    join = "JOIN" if labelled else "LEFT JOIN"
    with store.connect() as con:
        frame = con.execute(
            f"SELECT l.prediction, b.label FROM log_credit_risk l {join} labels b "
            "ON b.model_name = 'credit-risk' AND b.prediction_id = l.prediction_id "
            "WHERE l.model_version = '1.0' AND l.status = 'ok' AND l.served_at >= ? "
            "AND l.served_at < ?",
            [start, end],
        ).df()
    return frame["prediction"].to_numpy(float), frame["label"].to_numpy(float)


@pytest.fixture(scope="module")
def report(demo_store: Store) -> est.EstimationReport:
    return est.estimate_performance(demo_store, SELECTION, "week", baseline=BASELINE)


def test_calibrator_equals_isotonic_on_raw_baseline_rows(demo_store: Store) -> None:
    scores, labels = raw_scores(demo_store, BASELINE.start, BASELINE.end, labelled=True)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, labels)
    with demo_store.connect() as con:
        from vigil.core.registry.versions import get_version

        version = get_version(con, "credit-risk", "1.0")
        calibrator, rows = est.calibrator_for(con, version, BASELINE, SELECTION)
    assert rows == len(scores)
    grid = np.concatenate([np.linspace(-0.1, 1.1, 301), scores[:500]])
    assert calibrator(grid) == pytest.approx(iso.predict(grid), abs=1e-9)


def test_window_estimate_equals_independent_numpy(demo_store: Store, report) -> None:
    base_scores, base_labels = raw_scores(demo_store, BASELINE.start, BASELINE.end, True)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
        base_scores, base_labels
    )
    start, end = dt.datetime(2026, 11, 16), dt.datetime(2026, 11, 23)  # labels not arrived yet
    scores, _ = raw_scores(demo_store, start, end, labelled=False)
    want = per_row_expectations(scores, iso.predict(scores), report.threshold)
    window = {w.start: w for w in report.windows}[start]
    assert window.predictions == len(scores)
    assert window.realised == ()  # 6 labels: too few to show a realised value
    for name in est.ESTIMATED_METRICS:
        assert window.estimate(name) == pytest.approx(want[name], abs=1e-9), name


def test_estimate_tracks_realised_before_the_concept_drift(report) -> None:
    by_start = {w.start: w for w in report.windows}
    # out of the baseline (it ends 2026-09-07), fully labelled, before the drift (09-25)
    for start in (dt.datetime(2026, 9, 7), dt.datetime(2026, 9, 14)):
        window = by_start[start]
        assert window.labelled > 2000
        for name in ("accuracy", "roc_auc", "precision", "recall", "f1"):
            assert window.estimate(name) == pytest.approx(window.realised_value(name), abs=0.03)


def test_estimate_cannot_see_concept_drift(report) -> None:
    """After the drift, realised accuracy falls below the estimate: the gap is the signal."""
    by_start = {w.start: w for w in report.windows}
    for start in (dt.datetime(2026, 10, 5), dt.datetime(2026, 10, 12), dt.datetime(2026, 10, 19)):
        window = by_start[start]
        assert window.estimate("accuracy") - window.realised_value("accuracy") > 0.04


def test_every_window_with_traffic_is_estimated(report) -> None:
    last = report.windows[-1]
    assert last.start == dt.datetime(2026, 11, 23)
    assert last.labelled == 0 and last.realised == ()
    assert 0.6 < last.estimate("accuracy") < 0.85
    assert report.baseline_rows > 3000


def test_default_baseline_is_the_first_four_weeks(demo_store: Store) -> None:
    default = est.estimate_performance(demo_store, SELECTION, "month")
    assert default.baseline == Baseline(
        "period", dt.datetime(2026, 8, 26), dt.datetime(2026, 9, 23)
    )
    assert default.baseline.describe() == (
        "labelled traffic from 2026-08-26 to 2026-09-23 (exclusive)"
    )


@pytest.mark.parametrize(
    ("purpose", "baseline"),
    [
        ("car", Baseline(BaselineKind.PERIOD, dt.datetime(2026, 8, 26), dt.datetime(2026, 9, 23))),
        (
            "repairs",  # 191 labelled rows in its first four weeks: too few, use all segments
            Baseline(
                BaselineKind.PERIOD, dt.datetime(2026, 8, 26), dt.datetime(2026, 9, 23), False
            ),
        ),
    ],
)
def test_default_baseline_of_a_segment(demo_store: Store, purpose: str, baseline) -> None:
    from vigil.core.monitor.selection import Segment

    selection = Selection(
        "credit-risk", "1.0", SELECTION.start, SELECTION.end, Segment("purpose", purpose)
    )
    report = est.estimate_performance(demo_store, selection, "month")
    assert report.baseline == baseline
    with demo_store.connect() as con:
        rows = con.execute(
            "SELECT count(*) FROM log_credit_risk l JOIN labels b ON b.model_name = "
            "'credit-risk' AND b.prediction_id = l.prediction_id WHERE l.model_version = '1.0' "
            "AND l.status = 'ok' AND l.served_at >= '2026-08-26' AND l.served_at < '2026-09-23'"
            + (" AND l.purpose = ?" if baseline.use_segment else ""),
            [purpose] if baseline.use_segment else [],
        ).fetchone()[0]
    assert report.baseline_rows == rows


def test_regression_models_are_refused(store: Store, tmp_path: Path) -> None:
    register_toy(store, tmp_path, task="regression")
    selection = Selection("toy", "1", dt.datetime(2026, 1, 1), dt.datetime(2026, 2, 1))
    with pytest.raises(est.EstimationError) as err:
        est.estimate_performance(store, selection)
    assert str(err.value) == (
        "toy 1 is a regression model; confidence-based estimation applies to binary "
        "classifiers only."
    )


def test_baseline_without_both_outcomes_is_refused() -> None:
    with pytest.raises(est.EstimationError) as err:
        est.fit_calibrator(
            scores=np.array([0.2, 0.8]), positives=np.array([3.0, 4.0]), negatives=np.zeros(2)
        )
    assert str(err.value) == (
        "The baseline needs labelled rows of both outcomes to calibrate the scores; ingest "
        "labels for it, or choose another baseline."
    )
