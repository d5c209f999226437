"""Per-column validation in SQL: each check gives a row's problem as text, or NULL.

The checks build temp table `checked` from `raw` (see readers): typed values plus `reason`,
NULL for a row that may be stored. Every problem in a row is named, separated by '; '.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from vigil.core import settings
from vigil.core.contract import FEATURE_TYPES, TYPE_NOUNS, FeatureSpec
from vigil.core.registry.versions import ModelTables, ModelVersion
from vigil.core.store.sql import quote_ident, quote_literal


@dataclass(frozen=True)
class TimeBounds:
    """The plausible range of a row's time stamp: outside it, a clock or a default is wrong.

    Not earlier than VIGIL_INGEST_PAST_DAYS before the version's training date (or its
    registration, if that came first: logs may be back-filled for a model registered late);
    not later than VIGIL_INGEST_FUTURE_HOURS after the ingest."""

    earliest: dict[str, dt.datetime]  # model_version -> earliest accepted time
    latest: dt.datetime

    @classmethod
    def for_versions(cls, versions: list[ModelVersion], now: dt.datetime) -> TimeBounds:
        days = dt.timedelta(days=float(settings.get("ingest_past_days")))
        hours = dt.timedelta(hours=float(settings.get("ingest_future_hours")))
        earliest = {
            v.model_version: dt.datetime.combine(
                min(v.training_date, v.registered_at.date()), dt.time()
            )
            - days
            for v in versions
        }
        return cls(earliest, (now + hours).replace(microsecond=0))

    def earliest_sql(self, version_expr: str) -> str:
        """SQL: the earliest accepted time for the version in `version_expr`."""
        if not self.earliest:
            return "NULL::TIMESTAMP"
        cases = " ".join(f"WHEN {quote_literal(v)} THEN {_ts(t)}" for v, t in self.earliest.items())
        return f"CASE {version_expr} {cases} END"

    @property
    def overall_earliest(self) -> dt.datetime | None:
        return min(self.earliest.values()) if self.earliest else None

    def check(self, column: str, value: str, raw: str, earliest: str, why_early: str) -> str:
        """SQL CASE naming a time outside the range, or NULL."""
        return (
            f"CASE WHEN {value} > {_ts(self.latest)} THEN format('{column} {{}} is later than "
            f"{self.latest:%Y-%m-%d %H:%M} UTC, the ingest time plus "
            f"{settings.get('ingest_future_hours')} h: check the producer''s clock', "
            f"{quoted(raw)}) "
            f"WHEN {value} < {earliest} THEN format('{column} {{}} is earlier than {{}}, "
            f"{why_early}', {quoted(raw)}, strftime({earliest}, '%Y-%m-%d')) END"
        )


def _ts(value: dt.datetime) -> str:
    return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S}'"


def text(expr: str) -> str:
    """A raw value as trimmed text, NULL when empty."""
    return f"NULLIF(trim(CAST({expr} AS VARCHAR)), '')"


def quoted(raw: str) -> str:
    """SQL quoting a raw value for a message, cut to 40 characters."""
    return f"'''' || left({raw}, 40) || ''''"


def timestamp_expr(columns: dict[str, str], name: str) -> str:
    """Parse to UTC: strings with an offset are converted, strings without one are UTC."""
    col = quote_ident(name)
    if columns[name] == "VARCHAR":
        return f"timezone('UTC', TRY_CAST({text(col)} AS TIMESTAMPTZ))"
    return f"timezone('UTC', TRY_CAST({col} AS TIMESTAMPTZ))"


def model_name_check(expr: str, model_name: str) -> str:
    return (
        f"CASE WHEN {expr} IS DISTINCT FROM {quote_literal(model_name)} THEN "
        f"format('model_name {{}} is not the model being ingested ({model_name})', "
        f"coalesce('''' || {expr} || '''', 'is empty and')) END"
    )


def value_check(spec: FeatureSpec, columns: dict[str, str], versions_needing: list[str]) -> str:
    """SQL CASE giving this feature's problem for a row, or NULL when the value is fine."""
    name = spec.name
    needed = (
        f"v.model_version IN ({', '.join(quote_literal(v) for v in versions_needing)})"
        if versions_needing
        else "FALSE"
    )
    if name not in columns:
        return f"CASE WHEN {needed} THEN 'column ''{name}'' is missing from the file' END"
    raw = text(quote_ident(name))
    typed = f"TRY_CAST({raw} AS {spec.sql_type})"
    problems = [
        f"WHEN {raw} IS NOT NULL AND {typed} IS NULL THEN "
        f"format('{name}: {{}} is not {TYPE_NOUNS[spec.type]}', {quoted(raw)})"
    ]
    if spec.type == "integer":
        problems.append(
            f"WHEN {raw} IS NOT NULL AND TRY_CAST({raw} AS DOUBLE) <> {typed} THEN "
            f"format('{name}: {{}} is not a whole number', {quoted(raw)})"
        )
    if spec.type == "number":
        problems.append(
            f"WHEN {typed} IS NOT NULL AND NOT isfinite({typed}) THEN "
            f"format('{name}: {{}} is not a finite number', {quoted(raw)})"
        )
    if not spec.nullable:
        problems.append(f"WHEN {raw} IS NULL AND {needed} THEN '{name} is empty'")
    return "CASE " + " ".join(problems) + " END"


def _missing(name: str) -> str:
    return f"'column ''{name}'' is missing from the file'"


@dataclass(frozen=True)
class PredictionRules:
    """What a prediction row is checked against: the model's versions and their features."""

    tables: ModelTables
    model_name: str
    versions: list[str]
    specs: dict[str, FeatureSpec]
    needing: dict[str, list[str]]  # feature -> versions that need a value for it
    bounds: TimeBounds
    unit: str  # how rows are located in this file: 'line' or 'row'


def _prediction_checks(rules: PredictionRules, columns: dict[str, str]) -> list[str]:
    """One SQL expression per rule, over CTE `v` of the prediction query."""
    tables, model_name, versions = rules.tables, rules.model_name, rules.versions
    version_list = ", ".join(quote_literal(v) for v in versions)
    checks: list[str] = []
    if "prediction_id" not in columns:
        checks.append(_missing("prediction_id"))
    else:
        checks.append("CASE WHEN v.id IS NULL THEN 'prediction_id is empty' END")
    if "model_name" in columns:
        checks.append(model_name_check("v.model_name_raw", model_name))
    if "model_version" not in columns:
        checks.append(_missing("model_version"))
    else:
        checks.append(
            "CASE WHEN v.model_version IS NULL THEN 'model_version is empty' "
            f"WHEN v.model_version NOT IN ({version_list}) THEN format('model_version ''{{}}'' "
            f"is not registered for {model_name} (registered: {', '.join(versions)})', "
            "v.model_version) END"
        )
    if "timestamp" not in columns:
        checks.append(_missing("timestamp"))
    else:
        checks.append(
            "CASE WHEN v.ts_raw IS NULL THEN 'timestamp is empty' "
            "WHEN v.served_at IS NULL THEN format('timestamp {} is not a date-time', "
            f"{quoted('v.ts_raw')}) END"
        )
        checks.append(
            rules.bounds.check(
                "timestamp",
                "v.served_at",
                "v.ts_raw",
                rules.bounds.earliest_sql("v.model_version"),
                "a year before its version was trained or registered (VIGIL_INGEST_PAST_DAYS)",
            )
        )
    for spec in rules.specs.values():
        checks.append(value_check(spec, columns, rules.needing[spec.name]))
    if "prediction" not in columns:
        checks.append(_missing("prediction"))
    else:
        in_unit = (
            "WHEN v.prediction < 0 OR v.prediction > 1 THEN format('prediction {} is outside "
            "[0, 1]; a binary classifier logs the positive-class probability', v.prediction) "
            if tables.task == "binary_classification"
            else ""
        )
        checks.append(
            "CASE WHEN v.prediction_raw IS NOT NULL AND v.prediction IS NULL THEN "
            f"format('prediction: {{}} is not a number', {quoted('v.prediction_raw')}) "
            "WHEN v.prediction IS NOT NULL AND NOT isfinite(v.prediction) THEN "
            "'prediction is not a finite number' "
            "WHEN v.prediction IS NULL AND v.status = 'ok' THEN "
            f"'prediction is empty on a row with status ok' {in_unit}END"
        )
    checks.append(
        "CASE WHEN v.latency_raw IS NOT NULL AND v.latency_ms IS NULL THEN "
        f"format('latency_ms: {{}} is not a number', {quoted('v.latency_raw')}) "
        "WHEN v.latency_ms < 0 THEN 'latency_ms is negative' END"
    )
    return checks


def check_predictions(
    con: duckdb.DuckDBPyConnection, rules: PredictionRules, columns: dict[str, str]
) -> None:
    """Build temp table `checked`: typed values plus `reason` (NULL for a good row)."""

    def col(name: str) -> str:
        return text(quote_ident(name)) if name in columns else "NULL"

    specs = rules.specs
    checks = _prediction_checks(rules, columns)
    typed_features = ", ".join(
        f"TRY_CAST({col(s.name)} AS {FEATURE_TYPES[s.type]}) AS {quote_ident(s.name)}"
        for s in specs.values()
    )
    raw_features = ", ".join(quote_ident(s.name) for s in specs.values() if s.name in columns)
    ts_expr = timestamp_expr(columns, "timestamp") if "timestamp" in columns else "NULL"
    where = "on line" if rules.unit == "line" else "in row"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE checked AS
        WITH v AS (
            SELECT _row, _nested,
                   {col("prediction_id")} AS id,
                   {col("model_name")} AS model_name_raw,
                   {col("model_version")} AS model_version,
                   {col("timestamp")} AS ts_raw,
                   {ts_expr}::TIMESTAMP AS served_at,
                   {col("prediction")} AS prediction_raw,
                   TRY_CAST({col("prediction")} AS DOUBLE) AS prediction,
                   {col("predicted_label")} AS predicted_label,
                   {col("latency_ms")} AS latency_raw,
                   TRY_CAST({col("latency_ms")} AS DOUBLE) AS latency_ms,
                   coalesce({col("status")}, 'ok') AS status
                   {", " + raw_features if raw_features else ""}
            FROM raw
        ),
        reasons AS (
            SELECT v.*, coalesce(v._nested, NULLIF(concat_ws('; ', {", ".join(checks)}), ''))
                   AS own_reason
            FROM v
        ),
        ranked AS (
            SELECT *, min(_row) OVER (PARTITION BY id) AS first_row FROM reasons
        )
        SELECT _row, id, model_version AS v_model_version, served_at, prediction,
               predicted_label, latency_ms, status,
               {typed_features + "," if typed_features else ""}
               CASE
                   WHEN own_reason IS NOT NULL THEN own_reason
                   WHEN id IS NOT NULL AND _row > first_row THEN
                       format('duplicate prediction_id ''{{}}'' (first {where} {{}})', id, first_row)
               END AS reason
        FROM ranked
        """
    )
