"""A version's fine grid, made once from its reference data, with the fine bins it needs.

New references get their grid while their profile is built. A version profiled before the
grid existed (migration 12) kept every value count of its reference and days, so its fine
bins are derived from those stored counts here, once: the same plan step, over
profile_values instead of raw rows, with no pass over the logs.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from vigil.core.lake.duck import DuckDBEngine
from vigil.core.lake.engine import grid_tables
from vigil.core.lake.grid import Grid, compute_fine_edges, load_grid, store_fine_edges
from vigil.core.lake.plan import FINE_SQL, PlanColumn


def fine_edges(
    con: duckdb.DuckDBPyConnection,
    numeric: Sequence[PlanColumn],
    source: str,
    coarse: dict[str, tuple[float, ...]],
) -> dict[str, tuple[float, ...]]:
    """Each numeric column's fine edges from reference rows `source` (a table expression)."""
    return {
        c.name: compute_fine_edges(con, c.value_sql, source, coarse.get(c.name, ()))
        for c in numeric
    }


def _backfill_fine_bins(con: duckdb.DuckDBPyConnection, key: list[str], grid: Grid) -> None:
    """Fine bins of every stored profile of the version, from its stored value counts."""
    engine = DuckDBEngine(con)
    fine, mapping = grid_tables(grid)
    engine.register("plan_fine_edges", fine)
    engine.register("plan_grid_map", mapping)
    con.execute("DELETE FROM profile_fine_bins WHERE model_name = ? AND model_version = ?", key)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE plan_grouped AS SELECT day, feature, value, n "
        "FROM profile_values WHERE model_name = ? AND model_version = ?",
        key,
    )
    con.execute(
        "INSERT INTO profile_fine_bins SELECT ?, ?, CASE WHEN day IS NULL THEN 'reference' "
        f"ELSE 'day' END, day, feature, bin, n, total FROM ({FINE_SQL})",
        key,
    )
    con.execute("DROP TABLE plan_grouped")
    engine.drop(["plan_fine_edges", "plan_grid_map"])


def ensure_grid(
    con: duckdb.DuckDBPyConnection,
    key: list[str],
    numeric: Sequence[PlanColumn],
    source: str,
) -> Grid:
    """The version's grid over its numeric columns; computed now (from reference rows
    `source`) and its stored profiles' fine bins derived, if it has none yet."""
    grid = load_grid(con, key[0], key[1])
    names = [c.name for c in numeric]
    if all(name in grid.fine for name in names):
        return grid.covering(names)
    grid = Grid(fine_edges(con, numeric, source, grid.coarse), grid.coarse).covering(names)
    store_fine_edges(con, key[0], key[1], grid.fine)
    _backfill_fine_bins(con, key, grid)
    return grid
