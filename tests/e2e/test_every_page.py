"""Real browser, 1440 px wide: an admin opens every page of the menu on the demo. Each page
draws without an error, shows no internal name (module paths, gate or action ids, raw
`None`, microsecond ISO times, DuckDB function names), and leaves a full-page screenshot
under test-artifacts/screenshots/ (`page-<path>.png`) for a person to look at. Each page's
second visit is timed and written to test-artifacts/page-timings.json (bench/README.md
reads the figures; nothing asserts on them). The server's log holds no deprecation warning
and no traceback afterwards."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import HOMES, ROOT, screenshot, sign_in
from vigil.app.navigation import SECTIONS
from vigil.core.govern.gates.specs import Gate
from vigil.core.views.words import ACTIONS

pytestmark = pytest.mark.e2e

PAGES = [(module.PAGE.title, module.PAGE.url_path) for s in SECTIONS for module in s.pages]
INTERNAL = [
    re.compile(r"\b(?:vigil\.)?core\.[a-z_]+"),  # module paths
    re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}\.\d{3,}"),  # microsecond ISO times
    re.compile(r"\b(?:date_trunc|approx_quantile|quantile_cont|list_aggr|read_parquet)\b"),
    re.compile(r"(?:^|\t|: )None(?:$|\t|[.,;])", re.M),  # a raw None in a cell or a sentence
    re.compile(r"Traceback \(most recent call last\)"),
]
IDS = [g.value for g in Gate if "_" in g.value] + [a for a in ACTIONS if "_" in a]
WATCH_RUNS = """() => {
  const root = document.querySelector('[data-test-script-state]');
  if (!root || window.__vigilWatching) return;
  window.__vigilWatching = true;
  window.__vigilRuns = 0;
  new MutationObserver(() => {
    if (root.getAttribute('data-test-script-state') === 'notRunning') window.__vigilRuns++;
  }).observe(root, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
SETTLED = """(before) => window.__vigilRuns > before && document.querySelector(
  '[data-test-script-state]').getAttribute('data-test-script-state') === 'notRunning'"""


def _open(page, title: str) -> float:
    """Click the page in the menu; seconds until its script run has finished drawing."""
    page.evaluate(WATCH_RUNS)
    before = page.evaluate("() => window.__vigilRuns || 0")
    started = time.perf_counter()
    page.get_by_role("link", name=title, exact=True).first.click()
    page.wait_for_function(SETTLED, arg=before, timeout=180_000)
    return time.perf_counter() - started


def _elsewhere(title: str) -> str:
    """A light page other than `title`: clicking the page already shown runs nothing."""
    return "Findings" if title != "Findings" else "Coverage"


def _visible_text(page) -> str:
    """What a person reads: the main area's text, tables included (grids are canvases, so
    their cells are read through Streamlit's own accessible table copy)."""
    return page.locator("[data-testid='stMainBlockContainer']").inner_text()


def test_every_page_reads_cleanly_at_1440_px(page, server: str) -> None:
    sign_in(page, "adam")
    timings: dict[str, dict[str, float]] = {}
    problems: list[str] = []
    _open(page, _elsewhere(PAGES[0][0]))  # leave the start page: every click below changes page
    for title, path in PAGES:
        first = _open(page, title)
        page.get_by_role("heading", level=1).first.wait_for()
        text = _visible_text(page)
        for pattern in INTERNAL:
            found = pattern.search(text)
            if found:
                problems.append(f"{title}: {found.group(0)!r}")
        problems += [f"{title}: id {i!r}" for i in IDS if re.search(rf"\b{i}\b", text)]
        if page.locator("[data-testid='stException']").count():
            problems.append(f"{title}: an exception is drawn")
        screenshot(page, f"page-{path}")
        _open(page, _elsewhere(title))
        timings[title] = {"first_s": round(first, 2), "repeat_s": round(_open(page, title), 2)}
    out = ROOT / "test-artifacts" / "page-timings.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(timings, indent=2))
    log = (Path(HOMES[server]) / "server.log").read_text()
    problems += [
        f"server log: {line}"
        for line in log.splitlines()
        if re.search(r"deprecat|Traceback|Exception", line, re.I)
    ]
    assert not problems, "\n".join(problems)
