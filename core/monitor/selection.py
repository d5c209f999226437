"""What a page or a command looks at: one model version, a time range and an optional segment."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from vigil.core.errors import VigilError
from vigil.core.registry.versions import get_version, model_tables
from vigil.core.store.pending import published
from vigil.core.store.sql import quote_ident


@dataclass(frozen=True)
class Segment:
    """Rows where `column` equals `value` (any categorical column of the model)."""

    column: str
    value: str

    def label(self) -> str:
        return f"{self.column} = {self.value}"


@dataclass(frozen=True)
class Selection:
    """A model version's logs from `start` (inclusive) to `end` (exclusive), both UTC."""

    model_name: str
    model_version: str
    start: dt.datetime
    end: dt.datetime
    segment: Segment | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise VigilError(
                f"The time range is empty: it ends ({self.end:%Y-%m-%d %H:%M}) before or when it "
                f"starts ({self.start:%Y-%m-%d %H:%M})."
            )

    def where(self, alias: str = "") -> tuple[str, list[Any]]:
        """SQL condition and parameters selecting this version, range and segment."""
        prefix = f"{alias}." if alias else ""
        sql = f"{prefix}model_version = ? AND {prefix}served_at >= ? AND {prefix}served_at < ?"
        params: list[Any] = [self.model_version, self.start, self.end]
        if self.segment is not None:
            sql += f" AND CAST({prefix}{quote_ident(self.segment.column)} AS VARCHAR) = ?"
            params.append(self.segment.value)
        return sql, params


def log_table(con: duckdb.DuckDBPyConnection, model_name: str) -> str:
    """The model's published log rows, for FROM and JOIN: an ingest appends a file in slices
    and its rows stay hidden until the whole file is in (core.store.pending)."""
    return published(quote_ident(model_tables(con, model_name).log_table))


def reference_table(con: duckdb.DuckDBPyConnection, model_name: str) -> str:
    return quote_ident(model_tables(con, model_name).reference_table)


def segment_columns(
    con: duckdb.DuckDBPyConnection, model_name: str, model_version: str
) -> list[str]:
    """Columns a user may segment by: the version's categorical features."""
    version = get_version(con, model_name, model_version)
    return [f.name for f in version.features if f.categorical]


def segment_values(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    model_version: str,
    column: str,
    limit: int = 50,
) -> list[str]:
    if column not in segment_columns(con, model_name, model_version):
        raise VigilError(f"'{column}' is not a categorical column of {model_name} {model_version}.")
    rows = con.execute(
        f"SELECT CAST({quote_ident(column)} AS VARCHAR) AS v, count(*) AS n "
        f"FROM {log_table(con, model_name)} WHERE model_version = ? AND v IS NOT NULL "
        f"GROUP BY v ORDER BY n DESC LIMIT {int(limit)}",
        [model_version],
    ).fetchall()
    return [r[0] for r in rows]


def data_range(
    con: duckdb.DuckDBPyConnection, model_name: str, model_version: str | None = None
) -> tuple[dt.datetime, dt.datetime] | None:
    """First and last served_at in the logs (of one version, or all), or None if empty."""
    where, params = ("WHERE model_version = ?", [model_version]) if model_version else ("", [])
    row = con.execute(
        f"SELECT min(served_at), max(served_at) FROM {log_table(con, model_name)} {where}", params
    ).fetchone()
    return None if row is None or row[0] is None else (row[0], row[1])
