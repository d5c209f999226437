"""Governance writes in one transaction, retried from a fresh read on a write conflict.

The retry re-checks every rule against what the other writer committed, so the loser of a
race gets the rule's own message ("already approved by omar …"), never a raw DuckDB error. If
the conflict persists, a ConcurrentChangeError says nothing was changed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import duckdb

from vigil.core.errors import RegistryError
from vigil.core.store.connection import Store

T = TypeVar("T")
WRITE_ATTEMPTS = 5


class ConcurrentChangeError(RegistryError):
    """Another change was recorded at the same moment; this one was not made."""


def write(store: Store, what: str, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run `work` in one transaction; on a write conflict, run it again from a fresh read."""
    last: Exception | None = None
    for attempt in range(WRITE_ATTEMPTS):
        try:
            with store.transaction() as con:
                return work(con)
        except (duckdb.TransactionException, duckdb.ConstraintException) as err:
            last = err
            time.sleep(0.02 * (attempt + 1) * (1 + random.random()))
    raise ConcurrentChangeError(
        f"{what}: another change to the registry was being recorded at the same moment, and "
        "this one could not be completed. Nothing was changed; reload and try again."
    ) from last
