"""AppTest: the Drift page on the demo — heat map, verdict in words, drill-down, ranking."""

from __future__ import annotations

import shutil

import pytest

from tests.app.helpers import run_page, texts
from vigil.core.store.connection import Store

FACTS, BINS, RANKING, PREDICTION = range(4)  # tables in page order (AppTest drops their keys)


@pytest.fixture(scope="module")
def drift_home(demo_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A private copy: the page stores profiles, and the demo store is shared read-only."""
    target = tmp_path_factory.mktemp("drift-page") / "home"
    shutil.copytree(demo_store.home, target)
    return Store(target)


def test_drift_page_shows_verdict_heatmap_and_ranking(drift_home: Store) -> None:
    at = run_page(drift_home, "drift", user="vic")
    assert not at.exception, at.exception
    words = texts(at)
    # default sidebar: the last 30 days, weekly windows; drift began 2026-10-25
    assert "2 of 9 features drifted (22 %), not above the 50 % dataset threshold." in words
    ranking = at.dataframe[RANKING].value
    assert set(ranking["feature"][:2]) == {"purpose", "credit_amount"}  # ranked first
    assert set(ranking.loc[ranking["status"] == "drift", "feature"]) == {"purpose", "credit_amount"}
    assert "Domain classifier ROC AUC" in words


def test_drill_down_by_selectboxes(drift_home: Store) -> None:
    at = run_page(drift_home, "drift", user="vic")
    at.selectbox(key="drift_feature").select("credit_amount").run()
    windows = at.selectbox(key="drift_window").options
    at.selectbox(key="drift_window").select(windows[-1]).run()
    assert not at.exception
    bins = at.dataframe[BINS].value
    assert len(bins) == 10  # the reference's decile bins
    assert bins["current share"].sum() == pytest.approx(1.0)
    facts = at.dataframe[FACTS].value
    assert facts.loc["p-value", "value"] != "–"


def test_reference_window_choice(drift_home: Store) -> None:
    at = run_page(drift_home, "drift", user="vic")
    at.radio(key="drift_reference_kind").set_value("window").run()
    assert not at.exception, at.exception
    assert "Compared with logs" in texts(at)
