"""The pack's monitoring summaries against independent computations on the raw rows:
sklearn's ROC AUC, pandas' approval rates per group, scipy's two-sample KS statistic."""

from __future__ import annotations

import datetime as dt

import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score

from vigil.core.evidence.summaries import VersionSummary, version_summary
from vigil.core.monitor.selection import Selection
from vigil.core.store.connection import Store

MODEL = "credit-risk"
LO, HI = dt.datetime(2026, 8, 26), dt.datetime(2026, 11, 25)


@pytest.fixture(scope="module")
def summary(demo_store: Store) -> VersionSummary:
    return version_summary(demo_store, Selection(MODEL, "1.0", LO, HI))


def test_summaries_match_independent_computations(
    demo_store: Store, summary: VersionSummary
) -> None:
    with demo_store.connect() as con:
        logs = con.execute(
            "SELECT l.prediction, l.sex, b.label FROM log_credit_risk l "
            "LEFT JOIN labels b ON b.model_name = ? AND b.prediction_id = l.prediction_id "
            "WHERE l.model_version = '1.0' AND l.served_at >= ? AND l.served_at < ? "
            "AND l.status = 'ok' AND l.prediction IS NOT NULL",
            [MODEL, LO, HI],
        ).df()
        served = con.execute(  # drift compares every logged input, whatever the status
            "SELECT credit_amount FROM log_credit_risk WHERE model_version = '1.0' "
            "AND served_at >= ? AND served_at < ?",
            [LO, HI],
        ).df()
        reference = con.execute(
            "SELECT credit_amount FROM reference_credit_risk WHERE model_version = '1.0'"
        ).df()
    assert summary.notes == ()
    labelled = logs.dropna(subset=["label"])
    assert summary.performance is not None and summary.drift is not None
    auc = next(m for m in summary.performance.metrics if m.metric == "roc_auc")
    assert auc.value == pytest.approx(roc_auc_score(labelled["label"], labelled["prediction"]))
    assert summary.performance.labelled == len(labelled)
    assert summary.performance.predictions == len(logs)
    rates = (logs["prediction"] >= 0.5).groupby(logs["sex"]).mean()
    sex = next(a for a in summary.fairness if a.attribute == "sex")
    for group in sex.groups:
        assert group.selection_rate == pytest.approx(rates[group.group])
    ratio = rates.min() / rates.max()
    assert sex.demographic_parity_ratio == pytest.approx(ratio)
    ks = next(f for f in summary.drift.features if f.feature == "credit_amount")
    expected = ks_2samp(served["credit_amount"].dropna(), reference["credit_amount"])
    assert ks.test == "ks" and ks.statistic == pytest.approx(expected.statistic)
    assert ks.p_value == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12)


def test_weekly_series_cover_the_range(summary: VersionSummary) -> None:
    assert summary.drift is not None and summary.performance is not None
    starts = [p.start for p in summary.drift.share_by_window]
    assert starts == sorted(starts) and len(starts) == 14  # 13 weeks and a bit, Monday-aligned
    assert starts[0] <= LO < starts[0] + dt.timedelta(days=7)
    shares = [p.value for p in summary.drift.share_by_window if p.value is not None]
    assert all(0 <= v <= 1 for v in shares)


def test_a_failing_summary_becomes_a_note(demo_store: Store) -> None:
    empty = Selection(MODEL, "1.0", dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 8))
    result = version_summary(demo_store, empty)
    assert result.fairness == ()
    assert any(note.startswith("Fairness: ") for note in result.notes)
