"""The gateway's control loop, in a process beside the workers: publish state changes, ingest
the spool.

Two parts, each in its own process (ControlProcess), so a long ingest never delays a swap.
The publisher checks the audit log's head every `poll_s` (waiting at most a second for the
lock) and republishes when it moved; a busy or missing store only means "try again next
round" (workers keep the last published state). The ingester closes dead workers' files and
ingests closed spool files every second (or `poll_s`, if longer).
"""

from __future__ import annotations

import enum
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from vigil.core import settings
from vigil.core.alerts.evaluate import refresh_after_ingest
from vigil.core.errors import StoreBusyError, StoreError, VigilError
from vigil.core.serve import ingester, snapshot
from vigil.core.store import locks
from vigil.core.store.connection import Store

log = logging.getLogger("vigil.gateway")
PUBLISH_LOCK_TIMEOUT_S = 1.0
ALERTS_EVERY_S = 60.0
FINAL_INGEST_S = 20.0  # a stop ingests the spool's backlog for at most this long (serve: 45 s)
YIELD_POLL_S = 0.02
_depth = threading.local()


class YieldingStore(Store):
    """The store for background work made of many short units (alert rules after gateway
    traffic): before each outermost unit it waits while another process waits for the store.

    Such work opens the store dozens of times in a row with milliseconds between; a dashboard
    page retrying every 50 ms rarely lands in a gap and gave up after its 2 s (the sign-in page
    failed on it in the gateway journey). Waiting here hands the store over after the current
    unit instead. Bounded by the lock timeout, so a steady stream of waiters only slows it."""

    @contextmanager
    def connect(self, timeout_s: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        depth = getattr(_depth, "n", 0)
        if depth == 0:  # a nested unit must not wait for a waiter its outer unit blocks
            limit = timeout_s if timeout_s is not None else settings.lock_timeout_s()
            deadline = time.monotonic() + limit
            while locks.turn_busy(self.home) and time.monotonic() < deadline:
                time.sleep(YIELD_POLL_S)
        _depth.n = depth + 1
        try:
            with super().connect(timeout_s) as con:
                yield con
        finally:
            _depth.n = depth


class Role(enum.Enum):
    PUBLISH = "publish"
    INGEST = "ingest"


class ControlLoop:
    def __init__(
        self, store: Store, poll_s: float, roles: tuple[Role, ...] = (Role.PUBLISH, Role.INGEST)
    ) -> None:
        self.store = store
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._pending_alerts: set[str] = set()
        self._generation = -1
        self._alerted: dict[str, float] = {}
        # Ingesting takes the store for longer: at most once a second leaves it to others too.
        steps = {Role.PUBLISH: (self.publish_once, poll_s),
                 Role.INGEST: (self.ingest_once, max(poll_s, 1.0))}  # fmt: skip
        self._threads = [
            threading.Thread(target=self._loop, args=steps[role], name=f"vigil-{role.value}",
                             daemon=True)
            for role in roles
        ]  # fmt: skip

    def _store_is_there(self) -> bool:
        """Never create a store by opening a missing one (it would publish "no models")."""
        return self.store.db_path.is_file()

    def _publish_soon(self) -> snapshot.ServingState:
        """Publish, retrying the store's lock every 50 ms (the store's own exponential backoff
        may sleep half a second past the moment the approver's transaction ends)."""
        deadline = time.monotonic() + PUBLISH_LOCK_TIMEOUT_S
        while True:
            try:
                return snapshot.publish(self.store, timeout_s=0.0)
            except StoreBusyError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def publish_once(self) -> None:
        if not self._store_is_there():
            return
        try:
            asked = time.monotonic()
            state = self._publish_soon()
            if state.generation != self._generation:
                self._generation = state.generation
                served = ", ".join(f"{n} {m.champion.version}" for n, m in state.models.items())
                log.info("published state %d (audit record %d) in %.2f s: %s", state.generation,
                         state.audit_seq, time.monotonic() - asked, served or "no champion")  # fmt: skip
        except StoreBusyError:
            log.info("store busy; will publish on the next round")
            pass  # someone holds the store; workers keep serving what they have
        except (StoreError, duckdb.Error) as err:
            log.warning("cannot read the store, serving the last published state: %s", err)

    def ingest_once(self) -> bool:
        """One round; True when closed spool files still wait (a round takes a bounded batch
        per model), so the next round starts at once instead of after the interval."""
        if not self._store_is_there():
            return False
        try:
            results = ingester.ingest_spool(self.store)
        except StoreBusyError:
            return False
        except VigilError as err:
            log.error("spool ingest failed (will retry): %s", err)
            return False
        self._pending_alerts.update(r.model_name for r in results if r.stored)
        self._refresh_alerts()
        return ingester.backlog(self.store)

    def _refresh_alerts(self) -> None:
        """Re-evaluate alert rules of models that got traffic, at most once per ALERTS_EVERY_S
        each (as `vigil ingest` does after every file, but a gateway ingests every second)."""
        now = time.monotonic()
        for model in sorted(self._pending_alerts):
            if now - self._alerted.get(model, -ALERTS_EVERY_S) < ALERTS_EVERY_S:
                continue
            try:
                refresh_after_ingest(YieldingStore(self.store.home), model)
            except StoreBusyError:
                continue
            except VigilError as err:
                log.error("alert rules of %s not re-evaluated: %s", model, err)
            self._alerted[model] = now
            self._pending_alerts.discard(model)

    def _loop(self, step: Callable[[], bool | None], interval_s: float) -> None:
        """`step` every `interval_s`, and again at once while it says more work waits."""
        while not self._stop.wait(interval_s):
            try:
                while step() and not self._stop.is_set():
                    pass
            except Exception:  # the loop must outlive any one failure
                log.exception("gateway control step failed")

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, *, final_ingest: bool = True) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        if final_ingest:  # round after round: what is left waits for the next start
            deadline = time.monotonic() + FINAL_INGEST_S
            while self.ingest_once() and time.monotonic() < deadline:
                pass


def _control_main(home: str, poll_s: float, stop: Any, parent: int, role: str) -> None:
    """A control process: runs its part of the loop until told to stop or its parent is gone."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if role == Role.INGEST.value:
        os.nice(10)  # background work: the publisher and the workers come first
    loop = ControlLoop(Store(Path(home)), poll_s, (Role(role),))
    loop.start()
    while not stop.wait(1.0) and os.getppid() == parent:
        pass
    loop.stop(final_ingest=role == Role.INGEST.value)


class ControlProcess:
    """The publisher and the ingester, each in a process of its own: ingesting (DuckDB, pandas)
    never takes the GIL or event loop of a process that answers requests, and a long ingest
    holds the store's lock against the publisher only as another process does (with retries),
    never as a second handle on the same file in one process, which DuckDB refuses outright."""

    def __init__(self, store: Store, poll_s: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._processes = [
            context.Process(
                target=_control_main,
                args=(str(store.home), poll_s, self._stop, os.getpid(), role.value),
                name=f"vigil-gateway-{role.value}",
            )
            for role in Role
        ]

    def start(self) -> None:
        for process in self._processes:
            process.start()

    def stop(self, timeout_s: float = 60) -> None:
        """Stop after a last ingest of what the workers closed on their way out."""
        self._stop.set()
        for process in self._processes:
            process.join(timeout_s)
            if process.is_alive():
                process.terminate()
                process.join(5)
