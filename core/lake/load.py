"""Loading the plan's outputs into the store's profile tables, whichever engine made them.

The outputs are relations named plan_* on the store's connection: the DuckDB engine's views
when it profiles the store's own logs, or Arrow tables registered under those names when an
engine profiled a lake. One insert per table either way.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa

from vigil.core.lake.plan import OUTPUTS

PROFILE_TARGETS = (
    (
        "profile_columns",
        "(model_name, model_version, scope, day, feature, rows, nulls, min_value, max_value, "
        "sum_value, sum_squares, distinct_values, values_kept)",
        "day, feature, n_rows, nulls, min_value, max_value, sum_value, sum_squares, "
        "distinct_values, values_kept",
        "plan_columns",
    ),
    ("profile_values", "", "day, feature, value, n", "plan_values"),
    ("profile_bins", "", "day, feature, bin, n", "plan_bins"),
    ("profile_categories", "", "day, feature, category, n", "plan_categories"),
    ("profile_fine_bins", "", "day, feature, bin, n, total", "plan_fine"),
)


def insert_profiles(con: duckdb.DuckDBPyConnection, key: list[str], scope: str) -> None:
    """Insert relations plan_* into the profile tables for version `key` and `scope`."""
    for table, columns, select, source in PROFILE_TARGETS:
        con.execute(
            f"INSERT INTO {table} {columns} SELECT ?, ?, ?, {select} FROM {source}",
            [*key, scope],
        )


def register_outputs(con: duckdb.DuckDBPyConnection, outputs: dict[str, pa.Table]) -> None:
    """Make an engine's Arrow outputs visible on `con` under their plan names."""
    for name in OUTPUTS:
        con.register(name, outputs[name])


def unregister_outputs(con: duckdb.DuckDBPyConnection) -> None:
    for name in OUTPUTS:
        con.unregister(name)


def replace_days(
    con: duckdb.DuckDBPyConnection,
    key: list[str],
    outputs: dict[str, pa.Table],
    rows_per_day: dict[dt.date, int],
) -> None:
    """Make `outputs` the version's day profiles for the days they hold: those days' old
    profiles, their profile_days rows and every cached drift result they fed go first.
    Lake days carry max_batch_id -1: no batch of the store's own log is behind them."""
    days = sorted(rows_per_day)
    con.execute("CREATE OR REPLACE TEMP TABLE lake_days (day DATE)")
    con.execute("INSERT INTO lake_days SELECT unnest(?::DATE[])", [days])
    for table, *_ in PROFILE_TARGETS:
        con.execute(
            f"DELETE FROM {table} WHERE model_name = ? AND model_version = ? AND scope = 'day' "
            "AND day IN (SELECT day FROM lake_days)",
            key,
        )
    con.execute(
        "DELETE FROM profile_days WHERE model_name = ? AND model_version = ? "
        "AND day IN (SELECT day FROM lake_days)",
        key,
    )
    for cache in ("drift_pair_cache", "drift_domain_cache"):
        con.execute(
            f"DELETE FROM {cache} WHERE model_name = ? AND model_version = ? AND EXISTS ("
            "SELECT 1 FROM lake_days d WHERE d.day >= CAST(window_start AS DATE) "
            "AND d.day < window_end)",
            key,
        )
    register_outputs(con, outputs)
    try:
        insert_profiles(con, key, "day")
    finally:
        unregister_outputs(con)
    con.execute(
        "INSERT INTO profile_days SELECT ?, ?, unnest(?::DATE[]), -1, unnest(?::BIGINT[]), "
        "now()::TIMESTAMP",
        [*key, days, [rows_per_day[d] for d in days]],
    )
    con.execute("DROP TABLE lake_days")


def rows_per_day(outputs: dict[str, pa.Table]) -> dict[dt.date, int]:
    """Rows profiled per day (every column of a day counts the day's rows)."""
    table = outputs["plan_columns"]
    out: dict[dt.date, int] = {}
    for day, rows in zip(
        table.column("day").to_pylist(), table.column("n_rows").to_pylist(), strict=True
    ):
        if day is not None:
            out[day] = int(rows)
    return out
