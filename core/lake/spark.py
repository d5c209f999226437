"""The Spark engine: the same statements, transpiled (core.lake.dialect), run where the data is.

A session is opened for one build and stopped after it: `local[N]` runs in this process's
JVM (tests, one machine); any other master URL (spark://, yarn, k8s://) runs the work on a
cluster next to the data, and only aggregates come back to the driver, as Arrow. Kept steps
are persisted for the build. The session runs in UTC, so a day is a UTC day in both engines,
and with ANSI SQL on (Spark 4's default) so a bad cast is NULL under TRY_CAST, never a
silent truncation.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from vigil.core.errors import VigilError
from vigil.core.lake.dialect import to_spark
from vigil.core.lake.engine import ColumnClass, EngineName

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DEFAULT_MASTER = "local[*]"
LOCAL_TASKS_PER_CORE = 2  # shuffle partitions per local core: Spark's default of 200 tasks
# per shuffle costs more than it saves on one machine; on a cluster adaptive execution sizes them


class SparkUnavailable(VigilError):
    """PySpark or a Java runtime is missing, or the master cannot be reached."""


def local_cores(master: str) -> int | None:
    """Cores of a local master ('local', 'local[2]', 'local[*]'); None for a cluster."""
    if not master.startswith("local"):
        return None
    inside = master.partition("[")[2].partition("]")[0].split(",")[0].strip()
    if inside == "*":
        return os.cpu_count() or 1
    return int(inside) if inside.isdigit() else 1


def _builder(master: str, app_name: str) -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:
        raise SparkUnavailable(
            "The Spark engine needs PySpark: pip install pyspark (and a Java 17+ runtime)."
        ) from err
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    cores = local_cores(master)
    if cores is not None:
        builder = builder.config("spark.sql.shuffle.partitions", str(cores * LOCAL_TASKS_PER_CORE))
    return builder


@contextmanager
def session(
    master: str = DEFAULT_MASTER, app_name: str = "vigil-profile"
) -> Iterator[SparkSession]:
    """A Spark session for one unit of work, stopped afterwards."""
    try:
        spark = _builder(master, app_name).getOrCreate()
    except Exception as err:  # py4j and Java errors share no base class worth naming
        raise SparkUnavailable(
            f"Cannot start Spark with master {master!r}: {str(err).splitlines()[0][:300]}. "
            "Check that Java 17+ is installed (java -version) and the master URL is right."
        ) from err
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        spark.stop()


def column_class(spark_type: str) -> ColumnClass:
    """The class of a Spark type name ('string', 'bigint', 'decimal(10,2)', 'timestamp_ntz')."""
    base = spark_type.lower().split("(")[0]
    if base in ("string", "varchar", "char"):
        return ColumnClass.TEXT
    if base in ("byte", "short", "integer", "long", "float", "double", "decimal"):
        return ColumnClass.NUMBER
    if base in ("tinyint", "smallint", "int", "bigint"):
        return ColumnClass.NUMBER
    if base == "boolean":
        return ColumnClass.BOOLEAN
    if base.startswith("timestamp") or base == "date":
        return ColumnClass.TIME
    return ColumnClass.OTHER


class SparkEngine:
    """The engine over one Spark session."""

    name = EngineName.SPARK

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self._kept: dict[str, DataFrame] = {}
        self._views: set[str] = set()

    def _view(self, name: str, frame: DataFrame) -> None:
        frame.createOrReplaceTempView(name)
        self._views.add(name)

    def read_parquet(self, name: str, paths: Sequence[str]) -> dict[str, ColumnClass]:
        frame = self.spark.read.option("mergeSchema", "true").parquet(*paths)
        self._view(name, frame)
        return {f.name: column_class(f.dataType.typeName()) for f in frame.schema.fields}

    def create(self, name: str, sql: str, *, keep: bool) -> None:
        frame = self.spark.sql(to_spark(sql))
        if keep:
            frame = frame.persist()
            self._kept[name] = frame
        self._view(name, frame)

    def register(self, name: str, table: pa.Table) -> None:
        self._view(name, self.spark.createDataFrame(table))

    def fetch(self, sql: str) -> pa.Table:
        table: pa.Table = self.spark.sql(to_spark(sql)).toArrow()
        return table

    def write_parquet(self, sql: str, folder: str) -> None:
        self.spark.sql(to_spark(sql)).write.mode("errorifexists").parquet(folder)

    def drop(self, names: Sequence[str]) -> None:
        for name in names:
            kept = self._kept.pop(name, None)
            if kept is not None:
                kept.unpersist()
            if name in self._views:
                self._views.discard(name)
                self.spark.catalog.dropTempView(name)
