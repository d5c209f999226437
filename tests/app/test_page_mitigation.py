"""AppTest: the Mitigation what-if page shows core's numbers per option and group, says
which options use the sensitive attribute at decision time, and offers the evidence."""

from __future__ import annotations

import json

import pytest

from tests.app.helpers import default_selection, run_page, texts
from vigil.core.responsible import mitigation
from vigil.core.responsible.mitigation import Option
from vigil.core.results import to_jsonable
from vigil.core.store.connection import Store


def _table(at, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_options_per_attribute_with_core_numbers(demo_store: Store) -> None:
    at = run_page(demo_store, "mitigation", user="vic")
    assert not at.exception
    assert at.title[0].value == "Mitigation what-if"
    assert at.selectbox(key="mitigation_attribute").value == "sex"
    at.selectbox(key="mitigation_attribute").select("age").run()
    assert not at.exception
    expected = mitigation.mitigation_what_if(
        demo_store, default_selection(demo_store), attribute="age"
    )
    summary = _table(at, "Option")
    assert list(summary["Option"]) == [o.title for o in expected.options]
    assert list(summary["Uses the attribute at decision time"]) == ["No", "No", "Yes", "Yes"]
    assert list(summary["Accuracy"]) == pytest.approx([o.accuracy for o in expected.options])
    assert list(summary["Lowest ÷ highest selection rate"]) == pytest.approx(
        [o.demographic_parity_ratio for o in expected.options]
    )
    groups = [d.value for d in at.dataframe if "Group" in d.value.columns]
    assert len(groups) == len(Option)
    current = expected.option(Option.CURRENT)
    assert list(groups[0]["Group"]) == [g.group for g in current.groups]
    assert list(groups[0]["TPR"]) == pytest.approx([g.tpr for g in current.groups])
    shown = texts(at)
    assert "nothing is deployed or changed" in shown
    assert "Regulation B" in shown  # the legal note on group-specific thresholds
    assert f"{expected.rows:,} labelled predictions" in shown


def test_evidence_downloads(demo_store: Store) -> None:
    at = run_page(demo_store, "mitigation", user="rita")
    buttons = at.get("download_button")
    labels = [b.proto.label for b in buttons]
    assert labels == ["Download as JSON (evidence)", "Download as CSV"]
    expected = mitigation.mitigation_what_if(
        demo_store, default_selection(demo_store), attribute="sex"
    )
    assert json.loads(json.dumps(to_jsonable(expected)))["attribute"] == "sex"
