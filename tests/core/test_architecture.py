"""Layering rules that keep core testable and pages thin."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_streamlit_or_the_app() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & {"streamlit", "app", "pages"})
        for path in (ROOT / "core").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_pages_do_not_talk_to_duckdb_directly() -> None:
    """SQL and statistics belong in core; pages only call core and draw."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "pages").glob("*.py")
        if {"duckdb", "scipy", "sklearn", "fairlearn", "shap"} & _imports(path)
    ]
    assert offenders == []
