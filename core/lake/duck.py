"""The DuckDB engine: the default, for the store's own logs and for local Parquet files.

Relations are temp objects on one connection: kept steps become temp tables, the others
views, so the plan's outputs are inserted into the store straight from views (their rows
are copied once). Parquet is read where it lies, in parallel, filters pushed to the scan.
DuckDB reads local files only here: remote object storage would need its httpfs extension,
which Vigil does not download at run time (use the Spark engine for s3a:// and the like).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from vigil.core.lake.engine import ColumnClass, EngineName
from vigil.core.store.sql import quote_ident, quote_literal

_TEXT = ("VARCHAR",)
_NUMBER = (
    *("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT"),
    *("UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL"),
)
_TIME = ("TIMESTAMP", "DATE")


def column_class(duckdb_type: str) -> ColumnClass:
    """The class of a DuckDB column type ('DECIMAL(10,2)', 'TIMESTAMP WITH TIME ZONE'...)."""
    base = duckdb_type.upper().split("(")[0].strip()
    if base in _TEXT:
        return ColumnClass.TEXT
    if base in _NUMBER:
        return ColumnClass.NUMBER
    if base == "BOOLEAN":
        return ColumnClass.BOOLEAN
    if base.startswith(_TIME):
        return ColumnClass.TIME
    return ColumnClass.OTHER


class DuckDBEngine:
    """The engine over one DuckDB connection (the store's, or a private staging one)."""

    name = EngineName.DUCKDB

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._kinds: dict[str, str] = {}

    def read_parquet(self, name: str, paths: Sequence[str]) -> dict[str, ColumnClass]:
        files = "[" + ", ".join(quote_literal(p) for p in paths) + "]"
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS SELECT * FROM read_parquet("
            f"{files}, union_by_name = true, hive_partitioning = false)"
        )
        self._kinds[name] = "VIEW"
        rows = self.con.execute(f"DESCRIBE {quote_ident(name)}").fetchall()
        return {str(r[0]): column_class(str(r[1])) for r in rows}

    def create(self, name: str, sql: str, *, keep: bool) -> None:
        kind = "TABLE" if keep else "VIEW"
        self.con.execute(f"CREATE OR REPLACE TEMP {kind} {quote_ident(name)} AS {sql}")
        self._kinds[name] = kind

    def register(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)
        self._kinds[name] = "ARROW"

    def fetch(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def write_parquet(self, sql: str, folder: str) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        target = f"{folder.rstrip('/')}/part-0.parquet"
        self.con.execute(f"COPY ({sql}) TO {quote_literal(target)} (FORMAT parquet)")

    def drop(self, names: Sequence[str]) -> None:
        for name in names:
            kind = self._kinds.pop(name, None)
            if kind == "ARROW":
                self.con.unregister(name)
            elif kind is not None:
                self.con.execute(f"DROP {kind} IF EXISTS {quote_ident(name)}")
