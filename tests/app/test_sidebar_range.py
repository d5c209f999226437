"""AppTest: the sidebar opens on the whole span of the version's traffic in weekly windows,
its presets count back from the newest day with traffic, and "every N predictions" windows
reach the pages as the same windows core cuts."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from tests.app.helpers import default_selection, pick_dates, run_page, texts
from vigil.core.monitor.drift.report import drift_report
from vigil.core.monitor.selection import Selection
from vigil.core.store.connection import Store
from vigil.core.verdicts import Level
from vigil.core.views.monitoring_status import drift_line
from vigil.pages.text import plain

PRESET = "vigil_preset_credit-risk_1.0"


@pytest.fixture(scope="module")
def home(demo_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A private copy: the Drift page stores profiles, and the demo store is shared."""
    target = tmp_path_factory.mktemp("sidebar") / "home"
    shutil.copytree(demo_store.home, target)
    return Store(target)


def _predictions(store: Store, selection: Selection) -> int:
    with store.connect() as con:
        (count,) = con.execute(
            "SELECT count(*) FROM log_credit_risk WHERE model_version = ? "
            "AND served_at >= ? AND served_at < ?",
            [selection.model_version, selection.start, selection.end],
        ).fetchone()  # type: ignore[misc]
    return int(count)


def _shown_predictions(at) -> str:
    return {m.label: m.value for m in at.metric}["Predictions in range"]


def test_the_default_is_every_day_with_traffic_in_weekly_windows(home: Store) -> None:
    at = run_page(home, "overview", user="vic")
    assert not at.exception, at.exception
    everything = default_selection(home)
    assert at.sidebar.radio(key=PRESET).value == "all"
    assert at.sidebar.radio(key="vigil_granularity").value == "week"
    first, last = everything.start, everything.end - dt.timedelta(days=1)
    assert f"{first.day} {first:%b %Y} to {last.day} {last:%b %Y}" in texts(at)
    assert _shown_predictions(at) == f"{_predictions(home, everything):,}"


@pytest.mark.parametrize("preset, days", [("7", 7), ("30", 30), ("90", 90)])
def test_presets_count_back_from_the_newest_day(home: Store, preset: str, days: int) -> None:
    at = run_page(home, "overview", user="vic")
    at.sidebar.radio(key=PRESET).set_value(preset).run()
    assert not at.exception, at.exception
    everything = default_selection(home)
    start = max(everything.start, everything.end - dt.timedelta(days=days))
    expected = Selection("credit-risk", "1.0", start, everything.end)
    assert _shown_predictions(at) == f"{_predictions(home, expected):,}"


def test_picked_dates_are_inclusive(home: Store) -> None:
    at = run_page(home, "overview", user="vic")
    pick_dates(at, "1.0", dt.date(2026, 10, 1), dt.date(2026, 10, 14))
    assert not at.exception, at.exception
    expected = Selection("credit-risk", "1.0", dt.datetime(2026, 10, 1), dt.datetime(2026, 10, 15))
    assert _shown_predictions(at) == f"{_predictions(home, expected):,}"


def test_every_n_predictions_windows_reach_the_drift_page(home: Store) -> None:
    at = run_page(home, "drift", user="vic")
    at.sidebar.radio(key="vigil_granularity").set_value("predictions").run()
    at.sidebar.number_input(key="vigil_every").set_value(5000).run()
    assert not at.exception, at.exception
    report = drift_report(home, default_selection(home), granularity=5000, multivariate=False)
    drifted = sum(1 for w in report.windows if w.dataset.drifted)
    words = texts(at)
    assert (
        f"Dataset drift in {drifted} of {len(report.windows)} windows "
        "(window of 5,000 predictions)." in words
    )
    assert len(report.windows) == -(-report.overall.rows // 5000)  # ceil: the last is partial


def test_drift_below_the_dataset_share_is_watch_never_green(home: Store) -> None:
    at = run_page(home, "drift", user="vic")
    assert not at.exception, at.exception
    report = drift_report(home, default_selection(home), granularity="week")
    dataset = report.overall.dataset
    assert dataset.drifted_count > 0 and not dataset.drifted
    line = drift_line(report)  # the Overview's line: the newest window with a verdict
    assert line.level is Level.WATCH
    banner = f"**Watch** · {plain(f'{line.headline}. {line.detail}')}"
    assert [w.value for w in at.warning][:1] == [banner]
    assert f"Whole range: {dataset.sentence()}" in texts(at)
    assert not at.success


@pytest.mark.parametrize("page", ["overview", "performance", "fairness", "service"])
def test_every_page_draws_windows_of_n_predictions(home: Store, page: str) -> None:
    at = run_page(home, page, user="vic")
    at.sidebar.radio(key="vigil_granularity").set_value("predictions").run()
    at.sidebar.number_input(key="vigil_every").set_value(5000).run()
    assert not at.exception, at.exception
    assert "windows: window of 5,000 predictions" in texts(at)
