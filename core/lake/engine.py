"""What an engine must do to run the profile plan and a lake build: six small primitives.

Everything else (validation rules, the plan, label aggregates) is SQL text in DuckDB's
dialect, written once in core.lake; an engine only names relations, runs statements,
reads Parquet, writes Parquet and hands small results back as Arrow. DuckDB
(core.lake.duck) and Spark (core.lake.spark) implement it.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

import pyarrow as pa

from vigil.core.lake.grid import Grid
from vigil.core.lake.plan import OUTPUTS, ProfilePlan


class EngineName(StrEnum):
    DUCKDB = "duckdb"
    SPARK = "spark"


class ColumnClass(StrEnum):
    """How a raw column is stored, which decides how it is checked and typed."""

    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    TIME = "time"
    OTHER = "other"  # nested, binary: refused for a contract column


class Engine(Protocol):
    name: EngineName

    def read_parquet(self, name: str, paths: Sequence[str]) -> dict[str, ColumnClass]:
        """Expose Parquet files as relation `name` (columns unioned by name); its schema."""
        ...

    def create(self, name: str, sql: str, *, keep: bool) -> None:
        """Relation `name` = `sql` (DuckDB dialect); `keep`: compute it once and keep it."""
        ...

    def register(self, name: str, table: pa.Table) -> None:
        """Expose a small Arrow table as relation `name`."""
        ...

    def fetch(self, sql: str) -> pa.Table:
        """The result of `sql` (small: aggregates) as Arrow."""
        ...

    def write_parquet(self, sql: str, folder: str) -> None:
        """Write the rows of `sql` as Parquet file(s) into a new folder."""
        ...

    def drop(self, names: Sequence[str]) -> None:
        """Forget relations made by read_parquet, create or register."""
        ...


def grid_tables(grid: Grid) -> tuple[pa.Table, pa.Table]:
    """The plan's inputs plan_fine_edges and plan_grid_map as Arrow tables."""
    names, edges = grid.edge_rows()
    fine = pa.table(
        {"feature": pa.array(names, pa.string()), "edge": pa.array(edges, pa.float64())}
    )
    features, bins, coarse = grid.map_rows()
    mapping = pa.table(
        {
            "feature": pa.array(features, pa.string()),
            "bin": pa.array(bins, pa.int32()),
            "coarse": pa.array(coarse, pa.int32()),
        }
    )
    return fine, mapping


def run_plan(engine: Engine, plan: ProfilePlan, grid: Grid) -> None:
    """Create the plan's relations on `engine`; relation `plan_logs` must exist."""
    fine, mapping = grid_tables(grid.covering([c.name for c in plan.numeric]))
    engine.register("plan_fine_edges", fine)
    engine.register("plan_grid_map", mapping)
    for step in plan.steps():
        engine.create(step.name, step.sql, keep=step.materialize)


def fetch_outputs(engine: Engine) -> dict[str, pa.Table]:
    """The plan's outputs, as Arrow tables for the store."""
    return {name: engine.fetch(f"SELECT * FROM {name}") for name in OUTPUTS}


def drop_plan(engine: Engine, plan: ProfilePlan) -> None:
    engine.drop([*(s.name for s in reversed(plan.steps())), "plan_fine_edges", "plan_grid_map"])
