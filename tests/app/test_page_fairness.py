"""AppTest: the Fairness page shows the core report's exact numbers and plain verdicts."""

from __future__ import annotations

import pytest

from tests.app.helpers import default_selection, run_page, texts
from vigil.core.monitor.fairness.report import fairness_report
from vigil.core.monitor.fairness.results import GroupStatus
from vigil.core.store.connection import Store
from vigil.core.views.monitoring_status import fairness_status
from vigil.pages.text import plain

# The sidebar's default: every day of the champion's traffic, weekly windows.


@pytest.fixture(scope="module")
def expected(demo_store: Store):
    return fairness_report(demo_store, default_selection(demo_store), granularity="week")


def test_the_page_opens_on_the_worst_attribute_with_the_overviews_line(
    demo_store: Store, expected
) -> None:
    at = run_page(demo_store, "fairness", user="vic")
    assert not at.exception
    ratios = {
        a.name: min(
            g.ratio_to_most_favoured
            for g in a.groups
            if g.status is not GroupStatus.TOO_SMALL and g.ratio_to_most_favoured is not None
        )
        for a in expected.attributes
    }
    assert at.radio(key="fairness_attribute").value == min(ratios, key=ratios.__getitem__)
    line = fairness_status(demo_store, default_selection(demo_store))  # the Overview's line
    said = f"{line.headline}. {line.detail}"
    assert next(e.value for e in at.error) == f"**Act** · {plain(said[:1].upper() + said[1:])}"
    worst = expected.attribute(min(ratios, key=ratios.__getitem__))
    lowest = min(
        (g for g in worst.groups if g.status is not GroupStatus.TOO_SMALL),
        key=lambda g: g.ratio_to_most_favoured,
    )
    assert line.detail.startswith(f"Approval rate for {lowest.group} is ")  # the worst group


def test_viewer_sees_groups_verdicts_and_charts(demo_store: Store, expected) -> None:
    at = run_page(demo_store, "fairness", user="vic")
    at.radio(key="fairness_attribute").set_value("sex").run()
    assert not at.exception
    assert at.title[0].value == "Fairness"
    sex = expected.attribute("sex")
    table = at.dataframe[0].value
    assert list(table["Group"]) == [g.group for g in sex.groups]
    assert list(table["Predictions"]) == [g.rows for g in sex.groups]
    assert list(table["Selection rate"]) == pytest.approx([g.selection_rate for g in sex.groups])
    outcomes = at.dataframe[1].value  # labelled predictions only
    assert list(outcomes["TPR"]) == pytest.approx([g.tpr for g in sex.groups])
    shown = texts(at)
    for line in sex.statements:
        assert plain(line) in shown  # user text (group values) escaped, shown as typed
    assert plain(sex.validation.text) in shown
    assert "Selection rates and demographic parity use every served prediction" in shown
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Demographic parity ratio"] == f"{sex.disparities.demographic_parity_ratio:.3f}"


def test_switching_to_age_shows_the_failing_band(demo_store: Store, expected) -> None:
    at = run_page(demo_store, "fairness", user="rita")
    at.radio(key="fairness_attribute").set_value("age").run()
    assert not at.exception
    age = expected.attribute("age")
    assert list(at.dataframe[0].value["Group"]) == [g.group for g in age.groups]
    failing = [line for line in age.statements if "below the 0.8 rule" in line]
    assert failing and [e.value for e in at.error][1:] == [plain(line) for line in failing]
    at.selectbox(key="fairness_metric").set_value("fpr").run()
    assert not at.exception


def test_user_text_is_escaped_for_markdown_elements() -> None:
    """Group values and labels come from data: markdown in them must print as typed."""
    hostile = "**bold** _x_ [link](http://e.com) #1 :red[alarm] $x$ `code` <b>"
    escaped = plain(hostile)
    assert "**" not in escaped.replace("\\*", "")
    assert all(escaped[i - 1] == "\\" for i, ch in enumerate(escaped) if ch in "*_[]()#:$`<>")
    assert escaped.replace("\\", "") == hostile.replace("\\", "")
