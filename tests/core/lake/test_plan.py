"""The plan's fine and decile bins on DuckDB against numpy, on data full of ties: values equal
to edges, the same value on several days, values below the first and above the last edge,
the reference (no day) beside the days. The lake tests check continuous data; here the rule
bin i holds edges[i-1] <= v < edges[i] is attacked where it can go wrong."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.core.lake.duck import DuckDBEngine
from vigil.core.lake.engine import drop_plan, run_plan
from vigil.core.lake.grid import Grid, merge_edges
from vigil.core.lake.plan import ProfilePlan
from vigil.core.monitor.profiles import ColumnRole, ProfiledColumn
from vigil.core.stats.drift_tests import ColumnKind

COLUMNS = tuple(
    ProfiledColumn(name, ColumnKind.NUMERIC, ColumnRole.FEATURE, name) for name in ("a", "b")
)
DAY0 = dt.date(2026, 1, 1)


def _run(frame: pd.DataFrame, grid: Grid) -> dict[str, pd.DataFrame]:
    con = duckdb.connect()
    con.register("rows", frame)
    engine = DuckDBEngine(con)
    engine.create("plan_logs", "SELECT day, a, b FROM rows", keep=False)
    plan = ProfilePlan(COLUMNS, 3)  # most days keep fine bins only; the bins are the same
    run_plan(engine, plan, grid)
    out = {name: con.sql(f"SELECT * FROM {name}").df() for name in ("plan_fine", "plan_bins")}
    drop_plan(engine, plan)
    return out


def _as_counts(frame: pd.DataFrame) -> dict[tuple[object, str, int], int]:
    days = [None if pd.isna(d) else pd.Timestamp(d).date() for d in frame.day]
    return {
        (d, f, int(b)): int(n)
        for d, f, b, n in zip(days, frame.feature, frame.bin, frame.n, strict=True)
    }


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.tuples(st.integers(0, 3), st.integers(-2, 12), st.integers(-2, 12)),
        min_size=1,
        max_size=120,
    ),
    edges_a=st.lists(st.integers(0, 10), max_size=8),
    deciles=st.lists(st.integers(0, 10), max_size=3),
)
def test_fine_and_decile_bins_follow_the_edge_rule(
    values: list[tuple[int, int, int]], edges_a: list[int], deciles: list[int]
) -> None:
    """day 0 is the reference (no day); b has no fine edges of its own, only its deciles."""
    frame = pd.DataFrame(values, columns=["k", "a", "b"]).astype({"a": float, "b": float})
    frame["day"] = [None if k == 0 else DAY0 + dt.timedelta(days=int(k)) for k in frame.k]
    coarse = tuple(float(c) for c in sorted(set(deciles)))
    grid = Grid({"a": merge_edges([float(e) for e in edges_a], coarse)}, {"a": coarse, "b": coarse})
    got = _run(frame[["day", "a", "b"]], grid.covering(["a", "b"]))
    fine: dict[tuple[object, str, int], int] = {}
    decile: dict[tuple[object, str, int], int] = {}
    for name in ("a", "b"):
        edges = np.asarray(grid.covering(["a", "b"]).fine[name], dtype=float)
        for day, column in frame.groupby(frame.day.astype(object), dropna=False)[name]:
            key = None if pd.isna(day) else day
            for b in np.searchsorted(edges, column.to_numpy(), side="right"):
                fine[(key, name, int(b))] = fine.get((key, name, int(b)), 0) + 1
            for b in np.searchsorted(np.asarray(coarse), column.to_numpy(), side="right"):
                decile[(key, name, int(b))] = decile.get((key, name, int(b)), 0) + 1
    assert _as_counts(got["plan_fine"]) == fine
    assert _as_counts(got["plan_bins"]) == decile
    totals = got["plan_fine"].groupby("feature").total.sum().to_dict()
    assert totals == {name: frame[name].sum() for name in ("a", "b")}
