"""The drift gate's numbers: the champion's recent traffic and PSI per feature against the
candidate's reference data, with the one PSI of core.stats.psi.

Bins are the Drift page's: numeric values are cut at the candidate's reference profile edges
(core.monitor.profiles, the reference deciles; a value on an edge goes up), categories are
their values, and missing values are a bin of their own. Counting runs in SQL; only the
counts per bin leave DuckDB.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable

import duckdb

from vigil.core.govern.gates.results import DriftWindow, FeatureKind, FeaturePSI
from vigil.core.govern.gates.specs import DRIFT_WINDOW
from vigil.core.monitor.profiles import (
    ProfiledColumn,
    ensure_reference_profile,
    profiled_columns,
    reference_edges,
)
from vigil.core.monitor.selection import log_table, reference_table
from vigil.core.registry.versions import ModelVersion
from vigil.core.stats.psi import MISSING_BIN, bin_sql, edges_literal, psi

_MISSING = "__vigil_missing__"  # stands in for NULL inside SQL; becomes MISSING_BIN in Python


def drift_window(
    con: duckdb.DuckDBPyConnection, model_name: str, champion_version: str
) -> DriftWindow | None:
    """The champion's last 30 days of traffic, ending at its latest logged prediction.

    Anchored on the data rather than the clock, so the gate means the same thing whether it
    runs the day after the last batch or a week later.
    """
    logs = log_table(con, model_name)
    row = con.execute(
        f"SELECT max(served_at) FROM {logs} WHERE model_version = ?", [champion_version]
    ).fetchone()
    if row is None or row[0] is None:
        return None
    end = row[0] + dt.timedelta(microseconds=1)
    start = end - DRIFT_WINDOW
    counted = con.execute(
        f"SELECT count(*) FROM {logs} WHERE model_version = ? AND served_at >= ? AND served_at < ?",
        [champion_version, start, end],
    ).fetchone()
    return DriftWindow(champion_version, start, end, int(counted[0]) if counted else 0)


def _bin_expression(column: ProfiledColumn, edges: tuple[float, ...]) -> str:
    """SQL giving each row its bin: the edge count for numbers, the value for categories."""
    value = column.value_sql
    if column.kind == "num":
        inner = f"CAST({bin_sql(value, edges_literal(edges))} AS VARCHAR)"
    else:
        inner = value
    return f"CASE WHEN {value} IS NULL THEN '{_MISSING}' ELSE {inner} END"


def _counts(
    con: duckdb.DuckDBPyConnection, source: str, bin_expr: str, params: list[object]
) -> dict[Hashable, float]:
    rows = con.execute(
        f"SELECT {bin_expr} AS bin, count(*) FROM {source} GROUP BY bin", params
    ).fetchall()
    out: dict[Hashable, float] = {}
    for key, n in rows:
        out[MISSING_BIN if key == _MISSING else key] = float(n)
    return out


def feature_psi(
    con: duckdb.DuckDBPyConnection,
    candidate: ModelVersion,
    *,
    current_version: str,
    start: dt.datetime,
    end: dt.datetime,
) -> tuple[FeaturePSI, ...]:
    """PSI per feature: the candidate's reference rows vs `current_version`'s logged traffic
    in [start, end). Features with no rows on either side are left out."""
    ensure_reference_profile(con, candidate)
    edges = reference_edges(con, candidate)
    reference = f"{reference_table(con, candidate.model_name)} WHERE model_version = ?"
    traffic = (
        f"{log_table(con, candidate.model_name)} WHERE model_version = ? "
        "AND served_at >= ? AND served_at < ?"
    )
    out = []
    for column in profiled_columns(candidate):
        if column.role != "feature":
            continue
        expression = _bin_expression(column, edges.get(column.name, ()))
        expected = _counts(con, reference, expression, [candidate.model_version])
        actual = _counts(con, traffic, expression, [current_version, start, end])
        if not expected or not actual:
            continue
        out.append(
            FeaturePSI(
                feature=column.name,
                kind=FeatureKind.NUMERIC if column.kind == "num" else FeatureKind.CATEGORICAL,
                psi=psi(expected, actual),
                reference_rows=int(sum(expected.values())),
                current_rows=int(sum(actual.values())),
            )
        )
    return tuple(out)
