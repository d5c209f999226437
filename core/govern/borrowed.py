"""A Store whose units of work run on a connection the caller already holds.

Gate runs and decision evidence happen inside the decision's transaction. Reports written
against a Store (fairness, performance) would open a second connection there: it would not
see the transaction's own writes, and on an encrypted store a second open in the same process
waits for the first. Handing them this Store runs them on the caller's connection instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

from vigil.core.store.connection import Store


@dataclass(frozen=True)
class BorrowedStore(Store):
    con: duckdb.DuckDBPyConnection | None = None

    @contextmanager
    def connect(self, timeout_s: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """The caller's connection; left open, its transaction left to the caller."""
        assert self.con is not None, "BorrowedStore needs the caller's connection"
        yield self.con

    @contextmanager
    def transaction(self, timeout_s: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """Already inside the caller's transaction: the same connection."""
        with self.connect(timeout_s) as con:
            yield con
