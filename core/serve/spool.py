"""The prediction spool: append-only JSON Lines per worker, fsync'd before a request is answered.

A worker never writes the store (that would make serving wait on its lock). It appends each
request's log rows to its own open file, `spool/<stream>/<worker>-<n>.jsonl.open`, and the
request is answered only after the rows are on disk: one writer thread gathers the rows of
every request that arrived meanwhile, writes them, and fsyncs once (group commit), so a
`kill -9` loses at most the requests not yet answered. Every `rotate_s` seconds an open file is
closed (renamed to `.jsonl`), which is what the ingester takes. The writer holds an flock on
each open file; an open file whose lock can be taken belongs to a dead worker, and
`recover_orphans` closes it after cutting a torn last line.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("vigil.gateway")
OPEN_SUFFIX = ".jsonl.open"
CLOSED_SUFFIX = ".jsonl"
Done = Callable[[BaseException | None], None]


@dataclass
class _OpenFile:
    path: Path
    handle: BinaryIO
    opened: float
    size: int = 0


class Spool:
    """Group-committing writer of one worker; `submit` returns at once, `done` fires after fsync."""

    def __init__(
        self, root: Path, worker: str, *, rotate_s: float = 1.0, rotate_bytes: int = 64 << 20
    ) -> None:
        self.root = root
        self.worker = worker
        self.rotate_s = rotate_s
        self.rotate_bytes = rotate_bytes
        self._queue: queue.SimpleQueue[tuple[str, bytes, Done | None] | None] = queue.SimpleQueue()
        self._files: dict[str, _OpenFile] = {}
        self._seq = 0
        self._thread = threading.Thread(target=self._run, name="vigil-spool", daemon=True)
        self._stopped = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def submit(self, stream: str, data: bytes, done: Done | None = None) -> None:
        self._queue.put((stream, data, done))

    def close(self, timeout_s: float = 5.0) -> None:
        """Write what is queued, then close (rename) every open file."""
        self._queue.put(None)
        self._stopped.wait(timeout_s)

    def _open(self, stream: str) -> _OpenFile:
        folder = self.root / stream
        folder.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        path = folder / f"{self.worker}-{time.time_ns()}-{self._seq}{OPEN_SUFFIX}"
        # Locked before it gets its visible name, so no reader ever takes it for an orphan.
        hidden = path.with_name("." + path.name + ".new")
        handle = open(hidden, "ab")  # noqa: SIM115 (kept open across batches on purpose)
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        os.replace(hidden, path)
        opened = _OpenFile(path, handle, time.monotonic())
        self._files[stream] = opened
        return opened

    def _close(self, stream: str) -> None:
        opened = self._files.pop(stream)
        opened.handle.flush()
        os.fsync(opened.handle.fileno())
        closed = opened.path.with_name(opened.path.name[: -len(OPEN_SUFFIX)] + CLOSED_SUFFIX)
        os.replace(opened.path, closed)
        opened.handle.close()  # releases the flock after the rename

    def _write_batch(self, batch: list[tuple[str, bytes, Done | None]]) -> None:
        touched: dict[str, _OpenFile] = {}
        error: BaseException | None = None
        try:
            for stream, data, _ in batch:
                opened = self._files.get(stream) or self._open(stream)
                opened.handle.write(data)
                opened.size += len(data)
                touched[stream] = opened
            for opened in touched.values():
                opened.handle.flush()
                os.fsync(opened.handle.fileno())
        except OSError as err:
            error = err
            log.error("spool write failed: %s", err)
        for _, _, done in batch:
            if done is not None:
                done(error)

    def _rotate(self, force: bool = False) -> None:
        now = time.monotonic()
        for stream, opened in list(self._files.items()):
            if force or now - opened.opened >= self.rotate_s or opened.size >= self.rotate_bytes:
                self._close(stream)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[tuple[str, bytes, Done | None]] = []
            try:
                item = self._queue.get(timeout=min(0.2, self.rotate_s))
                while True:
                    if item is None:
                        stopping = True
                    else:
                        batch.append(item)
                    item = self._queue.get_nowait()
            except queue.Empty:
                pass
            if batch:
                self._write_batch(batch)
            try:
                self._rotate(force=stopping)
            except OSError as err:
                log.error("spool rotation failed: %s", err)
        self._stopped.set()


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
