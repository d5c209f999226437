"""One truth on every surface: for a selection (model, version, range, windows, segment), each
verdict on the Overview is the same verdict with the same number on its own page, in `vigil
status --json` and in the evidence a decision freezes for its sign-off report.

Each page's line is built here from a report made with the page's own arguments (the Drift
page's report has the domain classifier, the Performance page's has intervals, the Fairness
page's has bootstrap resamples and the sidebar's windows), so a page that drifts from the
Overview's computation fails here.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import astuple

import pytest

from tests.app.helpers import default_selection, run_page, texts
from tests.cli.helpers import vigil
from vigil.core.govern import actions, audit
from vigil.core.govern.auth import User
from vigil.core.govern.gates.specs import DRIFT_WINDOW
from vigil.core.monitor.drift.report import drift_report
from vigil.core.monitor.fairness.report import fairness_report
from vigil.core.monitor.performance.report import performance_report
from vigil.core.monitor.selection import Segment, Selection
from vigil.core.store.connection import Store
from vigil.core.views.monitoring_status import drift_line, fairness_line, performance_line
from vigil.core.views.overview import AreaStatus
from vigil.core.views.status import overview_lines

MODEL = "credit-risk"
MONITORED = ("Performance", "Drift", "Fairness")


def _selections(store: Store) -> dict[str, tuple[Selection, str | int]]:
    everything = default_selection(store)
    recent = Selection(MODEL, "1.0", everything.end - dt.timedelta(days=14), everything.end)
    female = Selection(MODEL, "1.0", everything.start, everything.end, Segment("sex", "female"))
    return {
        "every day, weekly": (everything, "week"),
        "last 14 days, daily": (recent, "day"),
        "segment sex = female, weekly": (female, "week"),
        "every 5,000 predictions": (everything, 5000),
    }


def _page_lines(store: Store, selection: Selection, windows: str | int) -> dict[str, AreaStatus]:
    """The verdict line each page draws, from the report that page builds."""
    return {
        "Performance": performance_line(performance_report(store, selection, windows)),
        "Drift": drift_line(drift_report(store, selection, granularity=windows)),
        "Fairness": fairness_line(fairness_report(store, selection, granularity=windows)),
    }


def _same(a: AreaStatus, b: AreaStatus) -> None:
    assert (a.area, a.level, a.headline) == (b.area, b.level, b.headline)
    assert a.figure == pytest.approx(b.figure)


@pytest.mark.parametrize(
    "case",
    ["every day, weekly", "last 14 days, daily", "segment sex = female, weekly",
     "every 5,000 predictions"],
)  # fmt: skip
def test_the_overview_and_each_page_give_one_verdict(demo_store: Store, case: str) -> None:
    selection, windows = _selections(demo_store)[case]
    overview = {line.area: line for line in overview_lines(demo_store, MODEL, selection, windows)}
    for area, line in _page_lines(demo_store, selection, windows).items():
        _same(overview[area], line)


def test_the_cli_prints_the_overviews_lines(demo_store: Store) -> None:
    selection, _ = _selections(demo_store)["segment sex = female, weekly"]
    last = (selection.end - dt.timedelta(days=1)).date()
    done = vigil(
        demo_store.home, "status", "--model", MODEL, "--version", "1.0",
        "--start", f"{selection.start.date()}", "--end", f"{last}", "--segment", "sex=female",
        "--json",
    )  # fmt: skip
    assert done.returncode == 3, done.stderr  # an Act line (fairness, alerts) fails a pipeline
    printed = {line["area"]: line for line in json.loads(done.stdout)["lines"]}
    for line in overview_lines(demo_store, MODEL, selection, "week"):
        shown = printed[line.area]
        assert (shown["level"], shown["headline"], shown["detail"]) == (
            line.level.value, line.headline, line.detail,
        )  # fmt: skip
        assert shown["figure"] == pytest.approx(line.figure)


def test_the_overview_page_draws_the_same_lines(demo_store: Store) -> None:
    at = run_page(demo_store, "overview", user="vic")
    at.sidebar.selectbox(key="vigil_segment_column").select("sex").run()
    at.sidebar.selectbox(key="vigil_segment_value").select("female").run()
    assert not at.exception, at.exception
    selection, _ = _selections(demo_store)["segment sex = female, weekly"]
    shown = texts(at)
    for line in overview_lines(demo_store, MODEL, selection, "week"):
        if line.area in MONITORED:
            assert line.headline in shown.replace("\\", ""), line.area


def test_a_decision_freezes_the_overviews_lines_for_its_report(demo_copy: Store) -> None:
    actions.override(demo_copy, User("adam", "admin"), MODEL, "1.1", "Drift reviewed and accepted.")
    outcome = actions.approve(demo_copy, User("rita", "approver"), MODEL, "1.1", "Looks right.")
    with demo_copy.connect() as con:
        evidence = audit.get_record(con, outcome.audit_seqs[0])["evidence"]
    window = evidence["drift"]["window"]
    start, end = (
        dt.datetime.fromisoformat(window[k]).replace(tzinfo=None) for k in ("start", "end")
    )
    assert end - start == DRIFT_WINDOW
    for version, frozen in evidence["monitoring"].items():
        now = overview_lines(demo_copy, MODEL, Selection(MODEL, version, start, end), "week")
        expected = [astuple(line) for line in now if line.area in MONITORED]
        got = [
            (f["area"], f["level"], f["headline"], f["detail"], f["page"], f["figure"])
            for f in frozen
        ]
        assert len(got) == len(expected) == 3
        for g, e in zip(got, expected, strict=True):
            assert g[:5] == tuple(str(x) for x in e[:5])
            assert g[5] == pytest.approx(e[5])
