"""AppTest: the Coverage page lists every requirement with where Vigil shows it; every page
and command the matrix names exists, so the matrix cannot point at nothing."""

from __future__ import annotations

from tests.app.helpers import run_page
from vigil.app.navigation import SECTIONS
from vigil.cli.main import build_parser
from vigil.core.evidence.coverage import REQUIREMENTS, Coverage
from vigil.core.store.connection import Store


def _commands() -> set[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return set(action.choices)


def test_every_location_exists() -> None:
    pages = {m.PAGE.url_path for s in SECTIONS for m in s.pages}
    commands = _commands()
    missing = [
        (r.reference, loc.kind, loc.name)
        for r in REQUIREMENTS
        for loc in r.where
        if loc.name not in (pages if loc.kind == "page" else commands)
    ]
    assert missing == []
    assert {r.regulation.split(" (")[0] for r in REQUIREMENTS} == {
        "SR 26-2",
        "PRA SS1/23",
        "EU AI Act",
    }
    references = {r.reference for r in REQUIREMENTS}
    assert {"Art. 12", "Art. 14", "Art. 26(6)", "Art. 72"} <= references
    assert all(r.covered and r.not_covered for r in REQUIREMENTS)  # both sides, honestly


def test_page_lists_the_matrix(demo_store: Store) -> None:
    at = run_page(demo_store, "coverage", user="vic")
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert list(table["reference"]) == [r.reference for r in REQUIREMENTS]
    assert list(table["coverage"]) == [r.coverage.value for r in REQUIREMENTS]
    metrics = {m.label: m.value for m in at.metric}
    for level in Coverage:
        count = sum(r.coverage is level for r in REQUIREMENTS)
        assert metrics[level.value.capitalize()] == str(count)
    at.selectbox(key="coverage_regulation").set_value(REQUIREMENTS[-1].regulation)
    at.run()
    table = at.dataframe[0].value
    assert set(table["regulation"]) == {REQUIREMENTS[-1].regulation}
    assert "Art. 26(6)" in list(table["reference"])
