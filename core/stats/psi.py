"""The population stability index, defined once for the Drift page, the gates and the alerts.

Numeric values fall into bins cut at the reference's interior edges: bin i holds
edges[i-1] <= v < edges[i] (a value on an edge goes up), the same rule in SQL (`bin_sql`) and
in numpy (`bin_of`); a missing value (NULL in SQL, NaN in numpy) gets MISSING_INDEX from both.
Categorical values are their own bins. Missing values form one more bin, so a column that
starts arriving empty moves PSI. Shares below PSI_EPSILON count as
PSI_EPSILON, so an empty bin gives a large but finite index.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

PSI_EPSILON = 1e-4
MISSING_BIN = "(missing)"
MISSING_INDEX = -1  # what bin_of and bin_sql give a missing value
# Conventional reading of PSI in credit risk: below 0.1 stable, 0.1-0.25 some shift, above
# 0.25 a major shift. The gate's default threshold is the upper one.
PSI_MAJOR_SHIFT = 0.25


def bin_of(values: npt.ArrayLike, edges: Sequence[float]) -> npt.NDArray[np.int64]:
    """Bin index of each value: the number of edges at or below it (MISSING_INDEX for NaN)."""
    array = np.asarray(values, dtype=float)
    bins = np.searchsorted(np.asarray(edges, dtype=float), array, "right").astype(np.int64)
    bins[np.isnan(array)] = MISSING_INDEX
    return bins


def bin_sql(value_sql: str, edges_sql: str) -> str:
    """DuckDB expression for `bin_of`: `edges_sql` is a DOUBLE[] expression or literal."""
    return (
        f"CASE WHEN {value_sql} IS NULL THEN {MISSING_INDEX} "
        f"ELSE len(list_filter({edges_sql}, lambda e: e <= {value_sql})) END"
    )


def edges_literal(edges: Sequence[float]) -> str:
    """A DOUBLE[] literal for `bin_sql` (repr keeps every digit of each float)."""
    return "[" + ", ".join(repr(float(e)) for e in edges) + "]::DOUBLE[]"


def psi(reference: Mapping[Hashable, float], current: Mapping[Hashable, float]) -> float:
    """PSI = sum over bins of (c - r) * ln(c / r), r and c the bins' shares on each side.

    Bins are the union of both sides' keys; a bin absent on one side has share 0 there.
    NaN when either side is empty."""
    keys = list(dict.fromkeys([*reference, *current]))
    ref = np.array([float(reference.get(k, 0.0)) for k in keys])
    cur = np.array([float(current.get(k, 0.0)) for k in keys])
    if ref.sum() <= 0 or cur.sum() <= 0:
        return math.nan
    r = np.clip(ref / ref.sum(), PSI_EPSILON, None)
    c = np.clip(cur / cur.sum(), PSI_EPSILON, None)
    return float(np.sum((c - r) * np.log(c / r)))


def binned_counts(bin_counts: Sequence[float], missing: float = 0.0) -> dict[Hashable, float]:
    """Counts per numeric bin index, plus the missing bin when there are missing values."""
    counts: dict[Hashable, float] = {i: float(n) for i, n in enumerate(bin_counts)}
    if missing:
        counts[MISSING_BIN] = float(missing)
    return counts
