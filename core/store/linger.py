"""Keep DuckDB's instance of the store alive between a process's units of work, briefly.

Opening the store costs 20-80 ms when no connection of the process has it open (DuckDB
reads the catalog) and ~1 ms when one has. A dashboard rerun opens it once or more, and a
page like Review a dozen times, so the dashboard keeps one idle connection for LINGER_S
after each unit of work. Holding it keeps the file locked for other processes, so it is given
up at once (within POLL_S) when one of them waits for the store or an ingest writes: both
show on the turn lock (core.store.locks). Each unit of work checkpoints before it lets go, so
the file itself is as complete as when every connection closed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from vigil.core.store import locks

LINGER_S = 0.5
POLL_S = 0.01


@dataclass
class _Kept:
    con: duckdb.DuckDBPyConnection
    until: float
    turn: int  # an open descriptor of the store's turn lock


_kept: dict[Path, _Kept] = {}
_lock = threading.Lock()
_reaper: list[threading.Thread] = []


def keep(con: duckdb.DuckDBPyConnection, db_path: Path, home: Path) -> None:
    """Called before a unit of work closes `con`: checkpoint, and keep the instance open."""
    with contextlib.suppress(duckdb.Error):  # another unit of the process is writing
        con.execute("CHECKPOINT")
    with _lock:
        kept = _kept.get(db_path)
        if kept is not None:
            kept.until = time.monotonic() + LINGER_S
            return
        if locks.turn_busy(home):
            return  # someone waits for the store: do not hold it a moment longer
        try:
            idle = duckdb.connect(str(db_path))  # the unit's instance is alive: ~1 ms
        except duckdb.Error:
            return
        _kept[db_path] = _Kept(idle, time.monotonic() + LINGER_S, locks.open_turn(home))
        if not _reaper:
            thread = threading.Thread(target=_reap, name="vigil-store-linger", daemon=True)
            _reaper.append(thread)
            thread.start()


def release_all() -> None:
    """Close every kept connection now (tests, and a process about to hand the store over)."""
    with _lock:
        for path in list(_kept):
            _close(path)


def _close(path: Path) -> None:
    kept = _kept.pop(path)
    kept.con.close()
    locks.close_turn(kept.turn)


def _reap() -> None:
    while True:
        time.sleep(POLL_S)
        with _lock:
            now = time.monotonic()
            for path, kept in list(_kept.items()):
                if now >= kept.until or locks.turn_busy_fd(kept.turn):
                    _close(path)
            if not _kept:
                _reaper.clear()
                return
