"""Work on big inputs outside the store's lock, then attach the store for short writes.

DuckDB lets one process at a time open the store, so a unit of work that holds it for a
minute makes every page and command wait a minute. An ingest therefore reads, parses and
checks its file in a private in-memory database (spilling to VIGIL_HOME/staging/<pid>-…,
never to the store's own spill folder), and attaches the store only for what needs it, in
short transactions (core.store.slices): copying the stored rows it compares with, appending
its rows slice by slice, publishing its batch.
"""

from __future__ import annotations

import os
import random
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from vigil.core import settings
from vigil.core.errors import StoreBusyError, StoreError
from vigil.core.store import encryption, locks
from vigil.core.store.connection import Store
from vigil.core.store.locks import is_lock_conflict
from vigil.core.store.sql import quote_literal

STORE_ALIAS = "vigil_store"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_dead_staging(store: Store) -> None:
    """Remove staging folders whose process is gone (a killed ingest leaves its spill)."""
    root = store.home / "staging"
    if not root.is_dir():
        return
    for folder in root.iterdir():
        pid = folder.name.split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def staging(store: Store) -> Iterator[duckdb.DuckDBPyConnection]:
    """A private in-memory database with the store's memory cap and its own spill folder."""
    clean_dead_staging(store)
    folder = store.home / "staging" / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        limit = settings.get("memory_limit").strip().replace("'", "")
        if limit:
            con.execute(f"SET memory_limit = '{limit}'")
        con.execute(f"SET temp_directory = {quote_literal(str(folder))}")
        if encryption.store_key(store.home) is not None:
            encryption.enable_writing(con)
            con.execute("SET temp_file_encryption = true")
        yield con
    finally:
        con.close()
        shutil.rmtree(folder, ignore_errors=True)


# How long an ingest lets readers that are waiting for the store go first, per write.
READER_PATIENCE_S = 2.0


def _attach(store: Store, con: duckdb.DuckDBPyConnection, timeout_s: float) -> None:
    key = encryption.store_key(store.home)
    option = f" (ENCRYPTION_KEY {quote_literal(key)})" if key else ""
    deadline, delay = time.monotonic() + timeout_s, 0.01
    while True:
        try:
            con.execute(f"ATTACH {quote_literal(str(store.db_path))} AS {STORE_ALIAS}{option}")
            return
        except duckdb.Error as err:
            if not is_lock_conflict(err):
                raise StoreError(f"Cannot attach the store {store.db_path}: {err}") from err
            if time.monotonic() >= deadline:
                raise StoreBusyError(
                    f"The store {store.db_path} stayed in use by another process for "
                    f"{timeout_s:.0f} s. Try again when it finishes, or raise VIGIL_LOCK_TIMEOUT."
                ) from err
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.05)


@contextmanager
def attached(store: Store, con: duckdb.DuckDBPyConnection) -> Iterator[float]:
    """The store attached to `con` as its default catalog, inside one transaction; yields
    when the lock was taken (time.monotonic()). Readers already waiting go first (see
    core.store.locks); then it waits like Store.connect for a busy store."""
    timeout_s = settings.lock_timeout_s()
    with locks.writing(store.home, READER_PATIENCE_S):
        _attach(store, con, timeout_s)
        taken = time.monotonic()
        con.execute(f"USE {STORE_ALIAS}")
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                yield taken
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.execute("USE memory")
            con.execute(f"DETACH {STORE_ALIAS}")
