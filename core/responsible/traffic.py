"""The rows robustness checks run on: a seeded sample of recent live traffic, and the
reference data's spread and deciles per numeric input."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from vigil.core.explain.sampling import feature_select
from vigil.core.monitor.selection import log_table, reference_table
from vigil.core.registry.versions import ModelVersion, aliases
from vigil.core.store.sql import quote_ident

DECILES = [i / 10 for i in range(11)]
Stats = dict[str, tuple[float, tuple[float, ...]]]  # feature -> (std, deciles)


def traffic_sample(
    con: duckdb.DuckDBPyConnection, version: ModelVersion, *, rows: int, days: int, seed: int
) -> tuple[pd.DataFrame, str, dt.datetime, dt.datetime] | None:
    """Up to `rows` of the version's own last `days` of successful traffic, or, when it has
    served none (a candidate awaiting review), of the champion's; None if neither has."""
    table = log_table(con, version.model_name)
    champion = aliases(con, version.model_name).get("champion")
    for source in dict.fromkeys([version.model_version, champion]):
        if source is None:
            continue
        last = con.execute(
            f"SELECT max(served_at) FROM {table} WHERE model_version = ? AND status = 'ok'",
            [source],
        ).fetchone()
        if last is None or last[0] is None:
            continue
        end = last[0] + dt.timedelta(microseconds=1)
        start = end - dt.timedelta(days=days)
        frame = con.execute(
            f"SELECT prediction_id, {feature_select(version)} FROM {table} "
            "WHERE model_version = ? AND status = 'ok' AND served_at >= ? AND served_at < ? "
            "ORDER BY hash(prediction_id, ?), prediction_id LIMIT ?",
            [source, start, end, seed, rows],
        ).df()
        return frame, source, start, end
    return None


def reference_stats(con: duckdb.DuckDBPyConnection, version: ModelVersion) -> Stats:
    """Standard deviation and deciles of each numeric model input in the reference data."""
    numeric = [f for f in version.model_inputs if not f.categorical]
    if not numeric:
        return {}
    parts = ", ".join(
        f"stddev_samp({quote_ident(f.name)}), quantile_cont({quote_ident(f.name)}, {DECILES})"
        for f in numeric
    )
    row = con.execute(
        f"SELECT {parts} FROM {reference_table(con, version.model_name)} WHERE model_version = ?",
        [version.model_version],
    ).fetchone()
    stats: Stats = {}
    for i, spec in enumerate(numeric):
        std, deciles = (row[2 * i], row[2 * i + 1]) if row else (None, None)
        grid = [float(q) for q in deciles or []]
        if spec.type == "integer":
            grid = [float(round(q)) for q in grid]
        stats[spec.name] = (float(std or 0.0), tuple(sorted(set(grid))))
    return stats
