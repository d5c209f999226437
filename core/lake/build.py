"""`vigil profile`: day profiles of a version whose logs stay in a data lake.

The engine reads the Parquet files where they are, checks every row against the version's
contract (core.lake.validate), writes the rejected rows with their reasons beside the data,
runs the profile plan over the good rows (core.lake.plan) and joins the lake's labels; only
those aggregates come back and are loaded into the store. The store is held only for two
short transactions (before: the version, its grid; after: the aggregates), never while the
engine reads the lake. A rebuild replaces the profiles of every day it finds, so running
it again on the same files changes nothing, and on a day's corrected files fixes that day.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from vigil.core.errors import VigilError
from vigil.core.ingest.checks import TimeBounds
from vigil.core.lake import labels as lake_labels
from vigil.core.lake import load
from vigil.core.lake.dataset import LakeDataset, LakeDatasetError, resolve
from vigil.core.lake.engine import Engine, EngineName, drop_plan, fetch_outputs, run_plan
from vigil.core.lake.grid import Grid, exact_max_distinct
from vigil.core.lake.plan import ProfilePlan
from vigil.core.lake.reference import ensure_grid
from vigil.core.lake.spark import DEFAULT_MASTER
from vigil.core.lake.validate import Rules, check_schema, checked_sql, logs_sql
from vigil.core.monitor.profiles import ensure_reference_profile, profiled_columns
from vigil.core.monitor.selection import reference_table
from vigil.core.registry.versions import ModelVersion, get_version, model_tables
from vigil.core.stats.drift_tests import ColumnKind
from vigil.core.store.connection import Store, limit_memory
from vigil.core.store.sql import quote_ident, quote_literal, scalar
from vigil.core.store.staging import staging


class LakeVersionError(VigilError):
    """The version's logs are in the store: its profiles come from there."""


@dataclass(frozen=True)
class Rejection:
    reason: str
    rows: int


@dataclass(frozen=True)
class BuildResult:
    """What a build read, rejected, profiled and loaded."""

    build_id: int
    model_name: str
    model_version: str
    engine: EngineName
    master: str | None
    files: int
    rows_read: int
    rows_other_versions: int
    rows_rejected: int
    rows_profiled: int
    days: tuple[dt.date, ...]
    reasons: tuple[Rejection, ...]
    rejected_path: str | None
    labels_read: int | None
    labels_matched: int | None
    seconds: float


@dataclass(frozen=True)
class _Prepared:
    version: ModelVersion
    grid: Grid
    build_id: int
    started: dt.datetime
    bounds: TimeBounds


@dataclass(frozen=True)
class _Computed:
    counts: dict[str, int]
    reasons: tuple[Rejection, ...]
    rejected_path: str | None
    outputs: dict[str, pa.Table]
    label_days: pa.Table | None
    labels_read: int | None


@contextmanager
def open_engine(
    name: EngineName, master: str, store: Store, spark: Any | None = None
) -> Iterator[Engine]:
    """DuckDB in a private staging database (memory-capped), or Spark: the caller's session
    if given, else one opened for this build and stopped after it."""
    if name is EngineName.DUCKDB:
        from vigil.core.lake.duck import DuckDBEngine

        with staging(store) as con:
            yield DuckDBEngine(con)
        return
    from vigil.core.lake.spark import SparkEngine, session

    if spark is not None:
        yield SparkEngine(spark)
        return
    with session(master) as started:
        yield SparkEngine(started)


def _prepare(
    store: Store, model_name: str, model_version: str, logs: str, labels: str | None
) -> _Prepared:
    """The version, its reference profile and grid; the dataset declared; a build id."""
    with store.transaction() as con:
        limit_memory(con, store.home)
        version = get_version(con, model_name, model_version)
        log = quote_ident(model_tables(con, model_name).log_table)
        stored = scalar(con, f"SELECT count(*) FROM {log} WHERE model_version = ?", [model_version])
        if stored:
            raise LakeVersionError(
                f"{model_name} {model_version} has {stored:,} log rows in the store; its profiles "
                "are built from them. Register a new version for logs kept in a lake."
            )
        ensure_reference_profile(con, version)
        numeric = [c for c in profiled_columns(version) if c.kind == ColumnKind.NUMERIC]
        source = f"{reference_table(con, model_name)} WHERE model_version = "
        source += quote_literal(model_version)
        grid = ensure_grid(con, [model_name, model_version], numeric, source)
        con.execute(
            "INSERT OR REPLACE INTO lake_datasets VALUES (?, ?, ?, ?, now()::TIMESTAMP)",
            [model_name, model_version, logs, labels],
        )
        build_id = int(scalar(con, "SELECT nextval('lake_build_seq')"))
        now = scalar(con, "SELECT now()::TIMESTAMP")
    return _Prepared(version, grid, build_id, now, TimeBounds.for_versions([version], now))


def _count(engine: Engine, sql: str) -> dict[str, int]:
    row = engine.fetch(sql).to_pylist()[0]
    return {k: int(v or 0) for k, v in row.items()}


def _check(engine: Engine, prepared: _Prepared, dataset: LakeDataset) -> dict[str, Any]:
    """Read and check the rows: counts, reasons and the rejected rows beside the data."""
    version = prepared.version
    columns = engine.read_parquet("lake_raw", dataset.paths)
    rules = Rules(
        version, prepared.bounds.earliest[version.model_version], prepared.bounds.latest, columns
    )
    check_schema(rules)
    engine.create("lake_checked", checked_sql(rules, "lake_raw"), keep=True)
    counts = _count(
        engine,
        "SELECT count(*) AS rows_read, "
        "sum(CASE WHEN _other_version THEN 1 ELSE 0 END) AS rows_other_versions, "
        "sum(CASE WHEN NOT _other_version AND _reason IS NOT NULL THEN 1 ELSE 0 END) "
        "AS rows_rejected FROM lake_checked",
    )
    rows = engine.fetch(
        "SELECT _reason AS reason, count(*) AS n FROM lake_checked WHERE NOT _other_version "
        "AND _reason IS NOT NULL GROUP BY _reason ORDER BY n DESC, reason"
    ).to_pylist()
    reasons = tuple(Rejection(str(r["reason"]), int(r["n"])) for r in rows)
    folder = None
    if counts["rows_rejected"]:
        folder = dataset.rejected_folder(
            version.model_name, version.model_version, prepared.build_id, prepared.started
        )
        raw = ", ".join(quote_ident(c) for c in columns)
        engine.write_parquet(
            f"SELECT {raw}, _reason AS vigil_reason FROM lake_checked "
            "WHERE NOT _other_version AND _reason IS NOT NULL",
            folder,
        )
    return {"counts": counts, "reasons": reasons, "rejected_path": folder}


def _labels(engine: Engine, version: ModelVersion, labels: str) -> tuple[pa.Table, int]:
    columns = engine.read_parquet("lake_labels_raw", resolve(labels).paths)
    missing = [c for c in ("prediction_id", "label") if c not in columns]
    if missing:
        raise LakeDatasetError(
            f"The lake labels {labels!r} have no column {', '.join(missing)}; a label file "
            "holds prediction_id and label."
        )
    engine.create(
        "lake_labels", lake_labels.good_labels_sql(version, columns, "lake_labels_raw"), keep=True
    )
    read = _count(engine, "SELECT count(*) AS n FROM lake_labels_raw")["n"]
    days = engine.fetch(lake_labels.label_days_sql(version, "plan_logs", "lake_labels"))
    engine.drop(["lake_labels", "lake_labels_raw"])
    return days, read


def _compute(
    engine: Engine, prepared: _Prepared, dataset: LakeDataset, labels: str | None
) -> _Computed:
    """Everything the engine does, outside the store's lock."""
    checked = _check(engine, prepared, dataset)
    version = prepared.version
    engine.create("plan_logs", logs_sql(version, "lake_checked"), keep=False)
    plan = ProfilePlan(profiled_columns(version), exact_max_distinct())
    run_plan(engine, plan, prepared.grid)
    outputs = fetch_outputs(engine)
    label_days, labels_read = None, None
    if labels is not None:
        label_days, labels_read = _labels(engine, version, labels)
    drop_plan(engine, plan)
    engine.drop(["plan_logs", "lake_checked", "lake_raw"])
    return _Computed(
        checked["counts"],
        checked["reasons"],
        checked["rejected_path"],
        outputs,
        label_days,
        labels_read,
    )


def _record(
    con: Any, prepared: _Prepared, result: BuildResult, logs: str, labels: str | None
) -> None:
    con.execute(
        "INSERT INTO lake_builds VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "now()::TIMESTAMP)",
        [
            result.build_id, result.model_name, result.model_version, result.engine.value,
            result.master, logs, labels, result.files, result.rows_read,
            result.rows_other_versions, result.rows_rejected, result.rows_profiled,
            result.labels_read, result.labels_matched, len(result.days), result.rejected_path,
            prepared.started,
        ],
    )  # fmt: skip
    for r in result.reasons:
        con.execute(
            "INSERT INTO lake_rejections VALUES (?, ?, ?)", [result.build_id, r.reason, r.rows]
        )


def _load_label_days(con: Any, key: list[str], table: pa.Table) -> None:
    """Replace the label aggregates of the days `table` holds."""
    con.register("lake_label_days", table)
    try:
        con.execute(
            "DELETE FROM profile_label_days WHERE model_name = ? AND model_version = ? "
            "AND day IN (SELECT day FROM lake_label_days)",
            key,
        )
        con.execute(
            "INSERT INTO profile_label_days SELECT ?, ?, day, predictions, labelled, "
            "true_positives, false_positives, true_negatives, false_negatives, sum_error, "
            "sum_squared_error, sum_absolute_error FROM lake_label_days",
            key,
        )
    finally:
        con.unregister("lake_label_days")


def build_profiles(
    store: Store,
    model_name: str,
    model_version: str,
    logs: str,
    *,
    labels: str | None = None,
    engine: EngineName = EngineName.DUCKDB,
    master: str = DEFAULT_MASTER,
    spark: Any | None = None,
) -> BuildResult:
    """Profile a version's lake logs (and labels) on `engine` and load the day profiles.
    `spark`: a running SparkSession to use (and leave running) instead of a new one."""
    started = time.perf_counter()
    if spark is not None:
        master = str(spark.sparkContext.master)
    dataset = resolve(logs)
    if dataset.remote and engine is EngineName.DUCKDB:
        raise LakeDatasetError(
            f"{logs!r} is remote: DuckDB reads local files here (Vigil downloads no extension "
            "at run time). Use --engine spark, whose connectors read object storage."
        )
    prepared = _prepare(store, model_name, model_version, logs, labels)
    with open_engine(engine, master, store, spark) as running:
        computed = _compute(running, prepared, dataset, labels)
    per_day = load.rows_per_day(computed.outputs)
    key = [model_name, model_version]
    matched = None
    if computed.label_days is not None:
        matched = sum(int(n) for n in computed.label_days.column("labelled").to_pylist())
    counts = computed.counts
    result = BuildResult(
        build_id=prepared.build_id,
        model_name=model_name,
        model_version=model_version,
        engine=engine,
        master=master if engine is EngineName.SPARK else None,
        files=len(dataset.paths),
        rows_read=counts["rows_read"],
        rows_other_versions=counts["rows_other_versions"],
        rows_rejected=counts["rows_rejected"],
        rows_profiled=sum(per_day.values()),
        days=tuple(sorted(per_day)),
        reasons=computed.reasons,
        rejected_path=computed.rejected_path,
        labels_read=computed.labels_read,
        labels_matched=matched,
        seconds=time.perf_counter() - started,
    )
    with store.transaction() as con:
        if per_day:
            load.replace_days(con, key, computed.outputs, per_day)
        if computed.label_days is not None and computed.label_days.num_rows:
            _load_label_days(con, key, computed.label_days)
        _record(con, prepared, result, logs, labels)
    return result
