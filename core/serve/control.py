"""The gateway's control loop, beside the workers: publish state changes, ingest the spool.

Two threads, so a long ingest never delays a swap. The publisher checks the audit log's head
every `poll_s` with a short lock timeout and republishes when it moved; a busy or missing
store only means "try again next round" (workers keep the last published state). The
ingester closes dead workers' files and ingests closed spool files every second (or `poll_s`, if longer).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import duckdb

from vigil.core.errors import StoreBusyError, StoreError, VigilError
from vigil.core.serve import ingester, snapshot
from vigil.core.store.connection import Store

log = logging.getLogger("vigil.gateway")
PUBLISH_LOCK_TIMEOUT_S = 0.25


class ControlLoop:
    def __init__(self, store: Store, poll_s: float) -> None:
        self.store = store
        self.poll_s = poll_s
        self._stop = threading.Event()
        # Ingesting takes the store for longer: at most once a second leaves it to others too.
        self._threads = [
            threading.Thread(target=self._loop, args=(self.publish_once, poll_s),
                             name="vigil-publisher", daemon=True),
            threading.Thread(target=self._loop, args=(self.ingest_once, max(poll_s, 1.0)),
                             name="vigil-ingester", daemon=True),
        ]  # fmt: skip

    def _store_is_there(self) -> bool:
        """Never create a store by opening a missing one (it would publish "no models")."""
        return self.store.db_path.is_file()

    def publish_once(self) -> None:
        if not self._store_is_there():
            return
        try:
            snapshot.publish(self.store, timeout_s=PUBLISH_LOCK_TIMEOUT_S)
        except StoreBusyError:
            pass  # someone holds the store; workers keep serving what they have
        except (StoreError, duckdb.Error) as err:
            log.warning("cannot read the store, serving the last published state: %s", err)

    def ingest_once(self) -> None:
        if not self._store_is_there():
            return
        try:
            ingester.ingest_spool(self.store)
        except StoreBusyError:
            pass
        except VigilError as err:
            log.error("spool ingest failed (will retry): %s", err)

    def _loop(self, step: Callable[[], None], interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                step()
            except Exception:  # the loop must outlive any one failure
                log.exception("gateway control step failed")

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, *, final_ingest: bool = True) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        if final_ingest:
            self.ingest_once()
