"""AppTest: the Performance page shows core's numbers, labelled realised vs estimated lines."""

from __future__ import annotations

import datetime as dt

from tests.app.helpers import default_selection, run_page, texts
from vigil.core.govern.gates.live import describe
from vigil.core.monitor import estimation
from vigil.core.monitor.performance.report import performance_report
from vigil.core.store.connection import Store
from vigil.core.views.challenger import challenger_view

# The sidebar's default range: the last 30 days of the version's traffic, weekly windows.


def test_performance_page_shows_core_numbers(demo_store: Store) -> None:
    at = run_page(demo_store, "performance", user="vic")
    assert not at.exception, at.exception
    assert at.title[0].value == "Performance · credit-risk 1.0"
    report = performance_report(demo_store, default_selection(demo_store), "week")
    shown = {m.label: m.value for m in at.metric}
    assert shown["ROC AUC (whole range)"] == f"{report.overall.value('roc_auc'):.3f}"
    labelled = f"Labelled of {report.overall.predictions:,} predictions"
    assert shown[labelled] == f"{report.overall.labelled:,}"
    body = texts(at)
    assert "Estimated (CBPE)" in body and "cannot see concept drift" in body
    assert "too few labels" in body
    table = at.dataframe[0].value
    weekly = table.set_index("window")
    for window in report.windows:
        row = weekly.loc[f"{window.start:%Y-%m-%d}"]
        assert row["labelled"] == window.labelled
        assert row["status"] == window.status
        if window.value("roc_auc") is not None:
            assert row["roc_auc"] == window.value("roc_auc")
    estimates = estimation.estimate_performance(demo_store, default_selection(demo_store), "week")
    last = estimates.windows[-1]
    assert weekly.loc[f"{last.start:%Y-%m-%d}", "accuracy (estimated)"] == last.estimate("accuracy")


def test_metric_choice_and_concept_drift_section(demo_store: Store) -> None:
    at = run_page(demo_store, "performance", user="dana")
    at.selectbox(key="performance_metric").select("accuracy").run()
    assert not at.exception, at.exception
    assert "Accuracy (whole range)" in {m.label for m in at.metric}
    assert "Concept drift" in [s.value for s in at.subheader]
    concept = at.dataframe[1].value
    first = default_selection(demo_store).start
    monday = first - dt.timedelta(days=first.weekday())  # weekly windows start on Mondays
    assert concept["window"].iloc[0] == f"{monday:%Y-%m-%d}"
    assert {"verdict", "ECE", "input drift"} <= set(concept.columns)
    assert "Calibration and confusion matrix (whole range)" in [s.value for s in at.subheader]


def test_champion_against_challenger_is_the_live_gates_comparison(demo_store: Store) -> None:
    at = run_page(demo_store, "performance", user="dana")
    assert not at.exception, at.exception
    assert "Champion against challenger on live traffic" in [s.value for s in at.subheader]
    view = challenger_view(demo_store, "credit-risk", "1.0")  # the champion is picked
    assert view.live is not None and view.candidate == "1.1"
    table = at.table[-1].value.set_index("metric")
    for m in view.live.metrics:
        c = m.decision.comparison
        assert c is not None
        assert table.loc[m.label, "candidate 1.1"] == f"{c.candidate:.3f}"
        assert table.loc[m.label, "champion 1.0"] == f"{c.champion:.3f}"
    assert describe(view.live) in texts(at)
    # 1.1 already awaits approval: no second request, and the page says why
    assert any("Request promotion of 1.1:" in c.value for c in at.caption)
