"""File locks beside the store, for what DuckDB's own file lock cannot express.

- **One ingest per model at a time** (`model_lock`). An ingest writes a file in several
  short transactions, so two ingests of one model in two processes must not interleave. The
  lock is held from before the file is read until its batch is published, so a pending batch
  whose model lock is free belongs to a process that died (`model_lock_free`).
- **Waiting readers go first** (`waiting`, `writing`). A process that finds the store busy
  holds the turn lock shared while it retries; an ingest takes it exclusively for each of its
  writes, so it lets everyone already waiting in first, and a reader sees at once (a cheap
  flock, not a 20 ms failed DuckDB open) when the writer is done.

flock(2) locks belong to an open file and the kernel drops them when their process dies, even
on kill -9; they work between threads of one process too (each call opens its own file).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from vigil.core.errors import StoreBusyError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: DuckDB's own lock still guards the file
    fcntl = None  # type: ignore[assignment]

POLL_S = 0.005


def is_lock_conflict(err: duckdb.Error) -> bool:
    """The store is open in another process (or, attached, in another instance of this one)."""
    text = str(err)
    return any(
        words in text
        for words in ("Could not set lock", "Conflicting lock", "Unique file handle conflict")
    )


def _path(home: Path, name: str) -> Path:
    folder = home / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def model_lock_path(home: Path, model_name: str) -> Path:
    digest = hashlib.sha256(model_name.encode()).hexdigest()[:16]
    return _path(home, f"ingest-{digest}.lock")


def _try(fd: int, mode: int) -> bool:
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def _opened(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        yield fd
    finally:
        os.close(fd)  # releases any flock taken on it


@contextmanager
def model_lock(home: Path, model_name: str, timeout_s: float) -> Iterator[None]:
    """Held for a whole ingest of `model_name`; waits up to `timeout_s` for another one."""
    deadline = time.monotonic() + timeout_s
    with _opened(model_lock_path(home, model_name)) as fd:
        while not _try(fd, fcntl.LOCK_EX if fcntl else 0):
            if time.monotonic() >= deadline:
                raise StoreBusyError(
                    f"Another ingest of '{model_name}' is running and did not finish within "
                    f"{timeout_s:.0f} s. Try again when it finishes, or raise VIGIL_LOCK_TIMEOUT."
                )
            time.sleep(0.05)
        yield


@contextmanager
def model_lock_free(home: Path, model_name: str) -> Iterator[bool]:
    """True (and held until the block ends) when no process is ingesting `model_name`."""
    with _opened(model_lock_path(home, model_name)) as fd:
        yield _try(fd, fcntl.LOCK_EX if fcntl else 0)


def open_turn(home: Path) -> int:
    """A descriptor of the store's turn lock, for repeated turn_busy_fd checks."""
    return os.open(_path(home, "turn.lock"), os.O_RDWR | os.O_CREAT, 0o600)


def close_turn(fd: int) -> None:
    os.close(fd)


def turn_busy_fd(fd: int) -> bool:
    """Does a process wait for the store, or an ingest write to it? (A free turn lock can be
    taken exclusively; it is released again at once.)"""
    if fcntl is None:  # pragma: no cover
        return False
    if not _try(fd, fcntl.LOCK_EX):
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def writer_has_turn(home: Path) -> bool:
    """Is an ingest about to write or writing (turn lock held exclusively)? Readers then wait
    their turn even when DuckDB would let them in (threads of the ingest's own process)."""
    if fcntl is None:  # pragma: no cover
        return False
    with _opened(_path(home, "turn.lock")) as fd:
        return not _try(fd, fcntl.LOCK_SH)


def turn_busy(home: Path) -> bool:
    fd = open_turn(home)
    try:
        return turn_busy_fd(fd)
    finally:
        close_turn(fd)


@contextmanager
def waiting(home: Path, deadline: float) -> Iterator[bool]:
    """Mark this process as waiting for the store. Yields False if an ingest's write held
    the turn until `deadline`; True once no write holds it (the caller then opens the store
    before the block ends, so the next write waits for it)."""
    with _opened(_path(home, "turn.lock")) as fd:
        while not _try(fd, fcntl.LOCK_SH if fcntl else 0):
            if time.monotonic() >= deadline:
                yield False
                return
            time.sleep(POLL_S)
        yield True


@contextmanager
def writing(home: Path, patience_s: float) -> Iterator[None]:
    """Held by an ingest around each short write: first lets waiting readers in (up to
    `patience_s`, so a steady stream of readers cannot stop the ingest for ever)."""
    deadline = time.monotonic() + patience_s
    with _opened(_path(home, "turn.lock")) as fd:
        while not _try(fd, fcntl.LOCK_EX if fcntl else 0) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        yield
