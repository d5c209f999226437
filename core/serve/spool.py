"""The prediction spool: append-only JSON Lines per worker, written before a request is answered.

A worker never writes the store (that would make serving wait on its lock). It appends each
request's log rows to its own open file, `spool/<stream>/<worker>-<n>.jsonl.open`, and the
request is answered only after its rows are written (one `os.write`, no user-space buffer:
they are the kernel's), so a `kill -9` loses at most requests not yet answered. One fsync
thread makes durable everything written so far at least every SYNC_EVERY_S, and at once for
requests that wait for it (VIGIL_GATEWAY_FSYNC=request): once for all the requests that
arrived meanwhile (group commit), waking each waiting event loop once per round.
Every `rotate_s` seconds an open file is closed (renamed to `.jsonl`), which is what the
ingester takes. The writer holds an flock on each open file; an open file whose lock can be
taken belongs to a dead worker, and `recover_orphans` closes it after cutting a torn line.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("vigil.gateway")
OPEN_SUFFIX = ".jsonl.open"
CLOSED_SUFFIX = ".jsonl"
SYNC_EVERY_S = 0.2  # written rows nobody waits for are fsync'd at least this often
Waiter = asyncio.Future[BaseException | None]


@dataclass
class _OpenFile:
    path: Path
    fd: int
    opened: float
    size: int = 0
    dirty: bool = False


@dataclass
class _Round:
    """Requests waiting for the next fsync, grouped by their event loop."""

    waiters: dict[asyncio.AbstractEventLoop, list[Waiter]] = field(default_factory=dict)
    callbacks: list[Callable[[BaseException | None], None]] = field(default_factory=list)


def _settle(futures: list[Waiter], error: BaseException | None) -> None:
    for future in futures:
        if not future.done():
            future.set_result(error)


class Spool:
    """One worker's spool: `write` appends at once; `durable` resolves after the fsync."""

    def __init__(
        self, root: Path, worker: str, *, rotate_s: float = 1.0, rotate_bytes: int = 64 << 20
    ) -> None:
        self.root = root
        self.worker = worker
        self.rotate_s = rotate_s
        self.rotate_bytes = rotate_bytes
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._files: dict[str, _OpenFile] = {}
        self._round = _Round()
        self._seq = 0
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="vigil-spool", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def write(self, stream: str, data: bytes) -> None:
        """Append rows to the stream's open file (not yet durable); OSError if it cannot."""
        with self._lock:
            opened = self._files.get(stream) or self._open(stream)
            view = memoryview(data)
            while view:
                view = view[os.write(opened.fd, view) :]
            opened.size += len(data)
            opened.dirty = True

    def durable(self, loop: asyncio.AbstractEventLoop) -> Waiter:
        """A future resolved (with None, or the fsync's error) once all written rows are on disk."""
        future: Waiter = loop.create_future()
        with self._lock:
            self._round.waiters.setdefault(loop, []).append(future)
            self._wake.notify()
        return future

    def on_durable(self, callback: Callable[[BaseException | None], None]) -> None:
        """For callers without an event loop (tests, metrics): called from the fsync thread."""
        with self._lock:
            self._round.callbacks.append(callback)
            self._wake.notify()

    def close(self, timeout_s: float = 5.0) -> None:
        """Make everything durable, then close (rename) every open file."""
        with self._lock:
            self._closing = True
            self._wake.notify()
        self._thread.join(timeout_s)

    def _open(self, stream: str) -> _OpenFile:
        folder = self.root / stream
        folder.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        path = folder / f"{self.worker}-{time.time_ns()}-{self._seq}{OPEN_SUFFIX}"
        # Locked before it gets its visible name, so no reader ever takes it for an orphan.
        hidden = path.with_name("." + path.name + ".new")
        fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.replace(hidden, path)
        opened = _OpenFile(path, fd, time.monotonic())
        self._files[stream] = opened
        return opened

    def _sync(self) -> tuple[_Round, BaseException | None]:
        """fsync every file written since the last round; returns that round's waiters."""
        with self._lock:
            done, self._round = self._round, _Round()
            dirty = [f for f in self._files.values() if f.dirty]
            for opened in dirty:
                opened.dirty = False
        error: BaseException | None = None
        for opened in dirty:
            try:
                os.fsync(opened.fd)
            except OSError as err:
                error = err
                log.error("spool fsync failed: %s", err)
        return done, error

    def _rotate(self, force: bool) -> None:
        now = time.monotonic()
        with self._lock:
            for stream, opened in list(self._files.items()):
                if (
                    force
                    or now - opened.opened >= self.rotate_s
                    or opened.size >= self.rotate_bytes
                ):
                    del self._files[stream]
                    os.fsync(opened.fd)
                    closed = opened.path.with_name(
                        opened.path.name[: -len(OPEN_SUFFIX)] + CLOSED_SUFFIX
                    )
                    os.replace(opened.path, closed)
                    os.close(opened.fd)  # releases the flock after the rename

    def _run(self) -> None:
        while True:
            with self._lock:
                if not (self._round.waiters or self._round.callbacks or self._closing):
                    self._wake.wait(timeout=min(SYNC_EVERY_S, self.rotate_s))
                closing = self._closing
            done, error = self._sync()
            for loop, futures in done.waiters.items():
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                    loop.call_soon_threadsafe(_settle, futures, error)
            for callback in done.callbacks:
                callback(error)
            try:
                self._rotate(force=closing)
            except OSError as err:
                log.error("spool rotation failed: %s", err)
            if closing:
                return


def recover_orphans(root: Path) -> list[Path]:
    """Close open files of workers that died: cut a torn last line, rename to `.jsonl`."""
    recovered = []
    for path in sorted(root.glob(f"*/*{OPEN_SUFFIX}")):
        try:
            handle = open(path, "r+b")  # noqa: SIM115 (closed in finally)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live worker owns it
            if not path.exists():
                continue  # closed by its worker between the glob and the lock
            data = handle.read()
            keep = data.rfind(b"\n") + 1
            if keep < len(data):
                handle.truncate(keep)
                handle.flush()
                os.fsync(handle.fileno())
            closed = path.with_name(path.name[: -len(OPEN_SUFFIX)] + CLOSED_SUFFIX)
            os.replace(path, closed)
            recovered.append(closed)
        finally:
            handle.close()
    return recovered
