"""The dashboard shell: no deprecated Streamlit argument in app/ or the Alerts and Overview
pages (the server log stays clean), and the menu lists every page once."""

from __future__ import annotations

import ast
from pathlib import Path

from vigil.app.navigation import SECTIONS

ROOT = Path(__file__).resolve().parents[2]
DEPRECATED = {"use_container_width"}


def test_no_deprecated_streamlit_arguments() -> None:
    files = [*(ROOT / "app").glob("*.py"), ROOT / "pages/alerts.py", ROOT / "pages/overview.py"]
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno} {kw.arg}"
        for path in files
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg in DEPRECATED
    ]
    assert found == []


def test_every_page_is_in_the_menu_once() -> None:
    listed = [page.PAGE.url_path for section in SECTIONS for page in section.pages]
    files = {p.stem for p in (ROOT / "pages").glob("*.py")} - {"__init__"}
    assert len(listed) == len(set(listed))
    assert {page.__name__.rsplit(".", 1)[1] for s in SECTIONS for page in s.pages} <= files
