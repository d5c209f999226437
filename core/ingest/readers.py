"""Reading a producer's file into DuckDB as text columns, numbered by row."""

from __future__ import annotations

from pathlib import Path

import duckdb

from vigil.core.errors import IngestError
from vigil.core.store.sql import read_source


def load_raw(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """Temp table `raw`: `_row` (1-based) plus the file's columns; returns name -> type."""
    source = read_source(path)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE raw AS "
            f"SELECT row_number() OVER () AS _row, * FROM {source}"
        )
    except duckdb.Error as err:
        raise IngestError(f"{path}: cannot be read as {path.suffix[1:]}: {err}") from err
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'raw' AND table_schema = 'main' AND table_catalog = 'temp'"
    ).fetchall()
    return {str(name): str(dtype) for name, dtype in rows if name != "_row"}
