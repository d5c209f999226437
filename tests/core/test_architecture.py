"""Layering rules that keep core testable, pages thin and the installed names unique."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("core", "app", "pages", "vigil/cli")


def _sources(*dirs: str) -> list[Path]:
    """Our own files: hidden folders (a benchmark's own virtual environment) are not ours."""
    return [
        path
        for d in dirs
        for path in (ROOT / d).rglob("*.py")
        if not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
    ]


def _imports(path: Path) -> set[str]:
    """Every module a file imports, as dotted names."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _offenders(paths: list[Path], banned: tuple[str, ...]) -> dict[str, list[str]]:
    found = {
        str(path.relative_to(ROOT)): sorted(
            name
            for name in _imports(path)
            if name.split(".")[0] in banned
            or name in banned
            or any(name.startswith(b + ".") for b in banned)
        )
        for path in paths
    }
    return {k: v for k, v in found.items() if v}


def test_core_never_imports_streamlit_the_app_or_the_cli() -> None:
    banned = ("streamlit", "vigil.app", "vigil.pages", "vigil.cli", "argparse")
    assert _offenders(_sources("core"), banned) == {}


def test_pages_do_not_talk_to_duckdb_directly() -> None:
    """SQL and statistics belong in core; pages only call core and draw."""
    banned = ("duckdb", "scipy", "sklearn", "fairlearn", "shap")
    assert _offenders(_sources("pages", "app"), banned) == {}


def test_nothing_imports_a_generic_top_level_name() -> None:
    """Installed, only `vigil` exists: `core`, `app` and `pages` are vigil.core, vigil.app, ..."""
    banned = ("core", "app", "pages", "cli")
    assert _offenders(_sources(*SOURCE_DIRS, "tests", "bench"), banned) == {}


def test_no_import_time_discovery() -> None:
    """Pages, commands, migrations and metrics are listed explicitly, never found by scanning."""
    banned = ("importlib", "pkgutil")
    assert _offenders(_sources(*SOURCE_DIRS), banned) == {}


def test_the_package_links_to_the_source_folders() -> None:
    for name in ("core", "app", "pages"):
        link = ROOT / "vigil" / name
        assert link.is_symlink() and link.resolve() == (ROOT / name).resolve()
