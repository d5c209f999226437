"""The profile plan: raw log rows to per-day profiles, written once as SQL for every engine.

The plan is a short list of SELECT statements in DuckDB's dialect. DuckDB runs them as they
are; Spark runs the same text transpiled by sqlglot (core.lake.dialect). Each statement reads
earlier ones by name, plus three inputs an engine provides:

- `plan_logs`: one row per log (or reference) row: `day` (a DATE; NULL for the reference) and the
  columns the profiled expressions read (features by name, `prediction`);
- `plan_fine_edges` (feature, edge): each numeric column's interior fine-grid edges (core.lake.grid:
  reference quantiles, a superset of the reference's decile edges);
- `plan_grid_map` (feature, bin, coarse): the decile bin each fine bin lies in.

What it computes per (day, column), the rows core.monitor.profiles stores:
- `plan_columns`: rows, nulls, min, max, sum and sum of squares of the non-null values, the
  number of distinct values, and whether the values are kept (numeric columns);
- `plan_values`: numeric value counts (value, n) of the (day, column)s with at most
  `exact_max_distinct` distinct values (all of them when None): exact KS and Wasserstein;
- `plan_fine`: counts and sums of values per fine bin: bounded KS and Wasserstein above it;
- `plan_bins`: counts per decile bin (PSI, histograms), summed from the fine bins;
- `plan_categories`: category counts.

Bins are found without a per-row search over the edges (4,096 comparisons per value would
cost more than the rest of the plan): a column's (day, value) counts and its edges are sorted
together once, and a value's bin is the running count of edges at or below it, which is
core.stats.psi's rule (bin i holds edges[i-1] <= v < edges[i]). Every day's counts are
binned in that one sort: no edges repeated per day, and no distinct values binned apart and
joined back (at 10M rows that DISTINCT and join made the step 1.5x slower). A window function
and UNION ALL are plain SQL in every engine, where a range or as-of join is not.

Sums are of value * n over distinct values, as the stored profiles always were; engines add
them in different orders, so they agree to rounding (about 1e-15 relative), counts exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from vigil.core.stats.drift_tests import ColumnKind
from vigil.core.store.sql import quote_literal

OUTPUTS = ("plan_columns", "plan_values", "plan_fine", "plan_bins", "plan_categories")


class PlanColumn(Protocol):
    """A profiled column (core.monitor.profiles.ProfiledColumn has this shape)."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> ColumnKind: ...

    @property
    def value_sql(self) -> str: ...


@dataclass(frozen=True)
class Step:
    """One named SELECT; `materialize`: engines keep its result (it is read more than once)."""

    name: str
    sql: str
    materialize: bool


@dataclass(frozen=True)
class ProfilePlan:
    """The plan for a set of columns; `exact_max_distinct` None keeps every value count."""

    columns: tuple[PlanColumn, ...]
    exact_max_distinct: int | None = None

    @property
    def numeric(self) -> tuple[PlanColumn, ...]:
        return tuple(c for c in self.columns if c.kind == ColumnKind.NUMERIC)

    @property
    def categorical(self) -> tuple[PlanColumn, ...]:
        return tuple(c for c in self.columns if c.kind == ColumnKind.CATEGORICAL)

    def steps(self) -> tuple[Step, ...]:
        """Every statement, in the order an engine runs them."""
        return (
            Step("plan_counts", self._counts(), True),
            Step("plan_grouped", self._grouped(), True),
            Step("plan_stats", _STATS, True),
            Step("plan_fine", FINE_SQL, True),
            Step("plan_columns", self._columns(), False),
            Step("plan_values", self._values(), False),
            Step("plan_bins", _BINS, False),
            Step("plan_categories", self._categories(), False),
        )

    def _counts(self) -> str:
        present = "".join(f", count({c.value_sql}) AS c{i}" for i, c in enumerate(self.columns))
        return f"SELECT day, count(*) AS n_rows{present} FROM plan_logs GROUP BY day"

    def _grouped(self) -> str:
        """Numeric value counts per (day, column): the one pass over the rows that matters."""
        selects = [
            f"SELECT day, {quote_literal(c.name)} AS feature, {c.value_sql} AS value, "
            f"count(*) AS n FROM plan_logs WHERE {c.value_sql} IS NOT NULL GROUP BY day, {c.value_sql}"
            for c in self.numeric
        ]
        empty = (
            "SELECT CAST(NULL AS DATE) AS day, CAST(NULL AS VARCHAR) AS feature, "
            "CAST(NULL AS DOUBLE) AS value, CAST(0 AS BIGINT) AS n FROM plan_counts WHERE 1 = 0"
        )
        return " UNION ALL ".join(selects) if selects else empty

    def _columns(self) -> str:
        """Rows and nulls per column from plan_counts, with the numeric columns' moments."""
        kept = (
            "TRUE"
            if self.exact_max_distinct is None
            else f"s.distinct_values <= {int(self.exact_max_distinct)}"
        )
        per_column = " UNION ALL ".join(
            f"SELECT day, {quote_literal(c.name)} AS feature, n_rows, n_rows - c{i} AS nulls, "
            f"{'TRUE' if c.kind == ColumnKind.NUMERIC else 'FALSE'} AS is_numeric "
            "FROM plan_counts"
            for i, c in enumerate(self.columns)
        )
        return f"""
            SELECT k.day, k.feature, k.n_rows AS n_rows, k.nulls, s.lo AS min_value,
                   s.hi AS max_value, s.total AS sum_value, s.squares AS sum_squares,
                   CASE WHEN k.is_numeric THEN coalesce(s.distinct_values, 0) END
                     AS distinct_values,
                   CASE WHEN k.is_numeric THEN coalesce({kept}, TRUE) END AS values_kept
            FROM ({per_column}) k
            LEFT JOIN plan_stats s
              ON s.feature = k.feature AND s.day IS NOT DISTINCT FROM k.day
        """

    def _values(self) -> str:
        if self.exact_max_distinct is None:
            return "SELECT day, feature, value, n FROM plan_grouped"
        return f"""
            SELECT g.day, g.feature, g.value, g.n FROM plan_grouped g
            JOIN plan_stats s ON s.feature = g.feature AND s.day IS NOT DISTINCT FROM g.day
            WHERE s.distinct_values <= {int(self.exact_max_distinct)}
        """

    def _categories(self) -> str:
        selects = [
            f"SELECT day, {quote_literal(c.name)} AS feature, {c.value_sql} AS category, "
            f"count(*) AS n FROM plan_logs WHERE {c.value_sql} IS NOT NULL "
            f"GROUP BY day, {c.value_sql}"
            for c in self.categorical
        ]
        empty = (
            "SELECT CAST(NULL AS DATE) AS day, CAST(NULL AS VARCHAR) AS feature, "
            "CAST(NULL AS VARCHAR) AS category, CAST(0 AS BIGINT) AS n "
            "FROM plan_counts WHERE 1 = 0"
        )
        return " UNION ALL ".join(selects) if selects else empty


_STATS = """
    SELECT day, feature, min(value) AS lo, max(value) AS hi, sum(value * n) AS total,
           sum(value * value * n) AS squares, count(*) AS distinct_values
    FROM plan_grouped GROUP BY day, feature
"""

# A value's fine bin: the number of edges at or below it (edges sort before equal values).
# One sort per column over every day's counts and the edges; edge rows carry no day and n 0.
FINE_SQL = """
    WITH binned AS (
        SELECT day, feature, value, n, is_edge,
               sum(is_edge) OVER (PARTITION BY feature ORDER BY value, is_edge DESC
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS bin
        FROM (
            SELECT day, feature, value, n, 0 AS is_edge FROM plan_grouped
            UNION ALL
            SELECT CAST(NULL AS DATE) AS day, e.feature, e.edge AS value, CAST(0 AS BIGINT) AS n,
                   1 AS is_edge
            FROM plan_fine_edges e WHERE e.feature IN (SELECT feature FROM plan_grouped)
        ) merged
    )
    SELECT day, feature, CAST(bin AS INTEGER) AS bin, CAST(sum(n) AS BIGINT) AS n,
           sum(value * n) AS total
    FROM binned WHERE is_edge = 0
    GROUP BY day, feature, bin
"""

_BINS = """
    SELECT f.day, f.feature, m.coarse AS bin, CAST(sum(f.n) AS BIGINT) AS n
    FROM plan_fine f JOIN plan_grid_map m ON m.feature = f.feature AND m.bin = f.bin
    GROUP BY f.day, f.feature, m.coarse
"""
