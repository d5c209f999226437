"""The fine grid: each numeric column's reference quantiles at k/4096, fixed once per version.

Fine bins are where KS and Wasserstein are computed when a day has too many distinct values
to keep them all (core.lake.bounded). Quantile bins put about 1/4096 of the reference in
each bin, which is what bounds the KS error; the grid also holds the reference's decile
edges (core.monitor.profiles.REFERENCE_QUANTILES), so every decile bin is a union of fine
bins and the plan derives the decile histograms from the fine ones instead of binning twice.

The grid is computed in DuckDB from the stored reference, kept in reference_fine_edges, and
handed to any engine as two small relations (edges, and fine bin -> decile bin).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from vigil.core import settings
from vigil.core.errors import VigilError

FINE_BINS = 4096
FINE_QUANTILES = tuple(k / FINE_BINS for k in range(1, FINE_BINS))


def exact_max_distinct() -> int | None:
    """VIGIL_EXACT_MAX_DISTINCT: above this many distinct values in a day, a numeric column's
    KS and Wasserstein come from fine bins with an error bound; None (empty): always exact."""
    raw = settings.get("exact_max_distinct").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise VigilError(
            f"VIGIL_EXACT_MAX_DISTINCT={raw!r} is not a whole number >= 0; set e.g. 10000, "
            "or leave it empty to keep every value (exact statistics, slower cold reports)."
        )
    return value


@dataclass(frozen=True)
class Grid:
    """Per numeric column: the fine edges (sorted, distinct) and the decile edges they hold."""

    fine: dict[str, tuple[float, ...]]
    coarse: dict[str, tuple[float, ...]]

    def covering(self, numeric: list[str]) -> Grid:
        """The grid with every numeric column present, its fine edges holding its decile
        edges, so the plan bins every value and derives the decile bins right."""
        coarse = {name: self.coarse.get(name, ()) for name in numeric}
        fine = {name: merge_edges(list(self.fine.get(name, ())), coarse[name]) for name in numeric}
        return Grid(fine, coarse)

    def edge_rows(self) -> tuple[list[str], list[float]]:
        """(feature, edge) columns of the plan's `plan_fine_edges` input."""
        names = [f for f, edges in self.fine.items() for _ in edges]
        return names, [e for edges in self.fine.values() for e in edges]

    def map_rows(self) -> tuple[list[str], list[int], list[int]]:
        """(feature, fine bin, decile bin) columns of the plan's `plan_grid_map` input.

        Fine bin j starts at fine edge j-1; its decile bin is the number of decile edges at
        or below that start (no decile edge falls inside it: they are fine edges too)."""
        names: list[str] = []
        bins: list[int] = []
        coarse: list[int] = []
        for feature, edges in self.fine.items():
            starts = np.array([-np.inf, *edges])
            cuts = np.array(self.coarse.get(feature, ()), dtype=float)
            names += [feature] * len(starts)
            bins += list(range(len(starts)))
            coarse += np.searchsorted(cuts, starts, side="right").tolist()
        return names, bins, coarse


def merge_edges(quantiles: list[float | None], coarse: tuple[float, ...]) -> tuple[float, ...]:
    """Sorted distinct finite edges: the fine quantiles plus the decile edges."""
    values = {float(q) for q in quantiles if q is not None} | {float(c) for c in coarse}
    return tuple(sorted(v for v in values if np.isfinite(v)))


def compute_fine_edges(
    con: duckdb.DuckDBPyConnection, value_sql: str, source: str, coarse: tuple[float, ...]
) -> tuple[float, ...]:
    """The fine edges of one column: quantiles of `value_sql` over table expression `source`."""
    quantiles = "[" + ", ".join(repr(q) for q in FINE_QUANTILES) + "]"
    row = con.execute(f"SELECT quantile_cont({value_sql}, {quantiles}) FROM {source}").fetchone()
    found = [] if row is None or row[0] is None else list(row[0])
    return merge_edges(found, coarse)


def load_grid(con: duckdb.DuckDBPyConnection, model_name: str, model_version: str) -> Grid:
    """The stored grid of a version (empty when its reference was profiled before it)."""
    key = [model_name, model_version]
    fine = con.execute(
        "SELECT feature, edges FROM reference_fine_edges WHERE model_name = ? "
        "AND model_version = ? ORDER BY feature",
        key,
    ).fetchall()
    coarse = con.execute(
        "SELECT feature, edges FROM reference_bins WHERE model_name = ? AND model_version = ?",
        key,
    ).fetchall()
    return Grid({f: tuple(e) for f, e in fine}, {f: tuple(e) for f, e in coarse})


def store_fine_edges(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    model_version: str,
    fine: dict[str, tuple[float, ...]],
) -> None:
    """Record a version's fine edges (replacing any)."""
    con.execute(
        "DELETE FROM reference_fine_edges WHERE model_name = ? AND model_version = ?",
        [model_name, model_version],
    )
    for feature, edges in fine.items():
        con.execute(
            "INSERT INTO reference_fine_edges VALUES (?, ?, ?, ?)",
            [model_name, model_version, feature, list(edges)],
        )
