"""Small helpers for building DuckDB SQL safely from names and paths."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from vigil.core.errors import IngestError, StoreError

READERS = {
    ".csv": "read_csv({path}, all_varchar = true, header = true)",
    ".parquet": "read_parquet({path})",
    ".jsonl": "read_json({path}, format = 'newline_delimited')",
    ".ndjson": "read_json({path}, format = 'newline_delimited')",
    ".json": "read_json({path}, format = 'newline_delimited')",
}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def read_source(path: Path) -> str:
    """A DuckDB table expression reading a CSV, Parquet or JSON Lines file by its extension."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise IngestError(
            f"{path}: unsupported file type '{path.suffix}'; use .parquet, .csv or .jsonl"
        )
    if not path.is_file():
        raise IngestError(f"{path}: file not found")
    return reader.format(path=quote_literal(str(path)))


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> Any:
    """The first value of the first row: for count(*), max(...) and friends."""
    row = con.execute(sql, list(params)).fetchone()
    if row is None:
        raise StoreError(f"Query returned no row: {sql[:80]}")
    return row[0]
