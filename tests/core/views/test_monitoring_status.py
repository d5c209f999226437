"""The Overview's performance, drift and fairness lines agree with the reports behind them."""

from __future__ import annotations

import datetime as dt

import pytest
from sklearn.metrics import roc_auc_score

from vigil.core.alerts import records as alerts
from vigil.core.monitor.drift.report import drift_report
from vigil.core.monitor.fairness.report import fairness_report
from vigil.core.monitor.fairness.results import GroupStatus
from vigil.core.monitor.selection import Selection
from vigil.core.store.connection import Store
from vigil.core.verdicts import Level
from vigil.core.views.monitoring_status import drift_status, fairness_status, performance_status


def _selection(start: dt.date, end: dt.date) -> Selection:
    return Selection("credit-risk", "1.0", dt.datetime.combine(start, dt.time()),
                     dt.datetime.combine(end, dt.time()))  # fmt: skip


def test_performance_line_uses_the_newest_judged_week(demo_store: Store) -> None:
    status = performance_status(demo_store, _selection(dt.date(2026, 9, 1), dt.date(2026, 10, 5)))
    with demo_store.connect() as con:
        rows = con.execute(
            """
            SELECT b.label, l.prediction FROM log_credit_risk l
            JOIN labels b ON b.model_name = 'credit-risk' AND b.prediction_id = l.prediction_id
            WHERE l.model_version = '1.0' AND l.status = 'ok'
              AND l.served_at >= '2026-09-28' AND l.served_at < '2026-10-05'
            """
        ).df()
    auc = roc_auc_score(rows["label"], rows["prediction"])
    assert status.headline == f"ROC AUC {auc:.3f} in the week from 28 Sep 2026 (validation 0.722)"
    assert status.level is Level.ACT  # the concept drift: more than 0.05 below validation
    assert status.figure == pytest.approx(auc)


def test_drift_line_names_the_features_the_demo_moved(demo_store: Store) -> None:
    before = drift_status(demo_store, _selection(dt.date(2026, 9, 1), dt.date(2026, 10, 5)))
    assert (before.level, before.headline) == (
        Level.OK,
        "no feature drifted in the week from 28 Sep 2026",
    )
    selection = _selection(dt.date(2026, 11, 2), dt.date(2026, 11, 16))
    after = drift_status(demo_store, selection)
    report = drift_report(demo_store, selection, granularity="week", multivariate=False)
    latest = report.windows[-1]
    drifted = [c.feature for c in latest.features if c.drifted]
    assert sorted(drifted) == ["credit_amount", "purpose"]
    assert not latest.dataset.drifted  # below the dataset share: Watch, never OK
    assert after.level is Level.WATCH
    assert after.headline == (
        f"2 of {latest.dataset.tested} features drifted in the week from 9 Nov 2026: "
        + ", ".join(drifted)
    )
    assert after.figure == 2.0


def test_fairness_line_reports_the_four_fifths_rule(demo_store: Store) -> None:
    selection = _selection(dt.date(2026, 9, 1), dt.date(2026, 10, 1))
    status = fairness_status(demo_store, selection)
    report = fairness_report(demo_store, selection, granularity="month", resamples=0)
    ratios = {
        a.name: min(
            g.ratio_to_most_favoured
            for g in a.groups
            if g.status is not GroupStatus.TOO_SMALL and g.ratio_to_most_favoured is not None
        )
        for a in report.attributes
    }
    worst = min(ratios, key=ratios.__getitem__)
    assert status.level is Level.ACT
    assert status.headline == (
        f"below the four-fifths rule for age, sex × age (lowest group ratio "
        f"{ratios[worst]:.2f}, {worst})"
    )
    assert status.figure == pytest.approx(ratios[worst])
    assert status.detail.startswith("Approval rate for ")


def test_alerts_line_counts_the_open_alerts_of_the_range(demo_store: Store) -> None:
    from vigil.core.views.overview import alerts_status

    selection = _selection(dt.date(2026, 9, 28), dt.date(2026, 10, 12))
    open_alerts = alerts.overview_status(demo_store, "credit-risk", selection.model_version)
    overlapping = [
        a for a in open_alerts if a.window_end > selection.start and a.window_start < selection.end
    ]
    status = alerts_status(demo_store, "credit-risk", selection)
    assert status.headline.startswith(f"{len(overlapping)} open alert(s) in this range")
    older = len(open_alerts) - len(overlapping)
    assert status.detail.endswith(
        f" {older} more open alert(s) concern windows outside this range."
    )
