"""One SQL text, two engines: the plan is written in DuckDB's dialect and sqlglot transpiles
it for Spark.

Why sqlglot: the plan is SQL already (it was DuckDB SQL before there was a second engine),
sqlglot is a pure-Python transpiler that is already a dependency, and it leaves one text to
read and review. Ibis would express the plan as Python expressions compiled per backend (a
second language for the same logic, and not installed here); SQLFrame imitates the PySpark
DataFrame API on DuckDB, the reverse of what is needed. The plan sticks to constructs both
engines share (GROUP BY, UNION ALL, LEFT JOIN, window sums, CASE, CAST, TRY_CAST, NULLIF,
CONCAT_WS, IS NOT DISTINCT FROM); the conformance tests run it on both and compare results.
"""

from __future__ import annotations

from functools import lru_cache

from vigil.core.errors import VigilError


class DialectError(VigilError):
    """A statement of the plan has no Spark equivalent sqlglot knows (a bug in the plan)."""


@lru_cache(maxsize=256)
def to_spark(sql: str) -> str:
    """The DuckDB statement `sql` in Spark SQL (sqlglot is imported here: only the Spark
    engine needs it)."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        (statement,) = sqlglot.transpile(
            sql, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE
        )
    except (SqlglotError, ValueError) as err:
        raise DialectError(f"Cannot translate a profile statement to Spark SQL: {err}") from err
    return statement
