"""The dashboard keeps DuckDB's instance open between units of work, briefly: never while
another process waits, and never with committed data only in the write-ahead log."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from vigil.core.store import linger
from vigil.core.store.connection import Store

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _released() -> Iterator[None]:
    yield
    linger.release_all()


def test_the_next_open_finds_the_same_instance(store: Store) -> None:
    page = Store(store.home, linger=True)
    with page.connect() as con:
        con.execute("SET GLOBAL memory_limit = '321MB'")  # lives as long as the instance
    with page.connect() as con:
        kept = con.execute("SELECT current_setting('memory_limit')").fetchone()
    linger.release_all()
    with page.connect() as con:
        fresh = con.execute("SELECT current_setting('memory_limit')").fetchone()
    assert kept != fresh
    assert kept is not None and kept[0].startswith("30")  # 321 MB in MiB


def test_another_process_gets_the_store_at_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(linger, "LINGER_S", 60.0)  # it would hold the file for a minute
    page = Store(store.home, linger=True)
    with page.connect() as con:
        con.execute("SELECT 1").fetchone()
    assert page.db_path in linger._kept  # the attack: the file is held
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from vigil.core.store.connection import Store
        asked = time.monotonic()
        with Store(Path({str(store.home)!r})).connect(timeout_s=30):
            print(time.monotonic() - asked)
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr
    assert float(child.stdout) < 5  # released when it started waiting, not after 60 s
    assert page.db_path not in linger._kept


def test_a_copy_of_the_file_holds_what_was_committed(store: Store, tmp_path: Path) -> None:
    page = Store(store.home, linger=True)
    with page.transaction() as con:
        con.execute(
            "INSERT INTO users (username, role, password_hash, created_at) "
            "VALUES ('kept', 'viewer', 'x', now()::TIMESTAMP)"
        )
    assert page.db_path in linger._kept
    copy = tmp_path / "copy.duckdb"
    shutil.copy(page.db_path, copy)  # the file alone, as a backup script would take it
    assert not os.path.exists(str(copy) + ".wal")
    with duckdb.connect(str(copy)) as con:
        assert con.execute("SELECT count(*) FROM users WHERE username = 'kept'").fetchone() == (1,)
