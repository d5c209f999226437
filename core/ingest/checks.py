"""Per-column validation in SQL: each check gives a row's problem as text, or NULL.

The checks build temp table `checked` from `raw` (see readers): typed values plus `reason`,
NULL for a row that may be stored. Every problem in a row is named, separated by '; '.
"""

from __future__ import annotations

import duckdb

from vigil.core.contract import FEATURE_TYPES, TYPE_NOUNS, FeatureSpec
from vigil.core.registry.versions import ModelTables
from vigil.core.store.sql import quote_ident, quote_literal


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


def _prediction_checks(
    tables: ModelTables,
    model_name: str,
    versions: list[str],
    specs: dict[str, FeatureSpec],
    needing: dict[str, list[str]],
    columns: dict[str, str],
) -> list[str]:
    """One SQL expression per rule, over CTE `v` of the prediction query."""
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
    for spec in specs.values():
        checks.append(value_check(spec, columns, needing[spec.name]))
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
    con: duckdb.DuckDBPyConnection,
    tables: ModelTables,
    model_name: str,
    versions: list[str],
    specs: dict[str, FeatureSpec],
    needing: dict[str, list[str]],
    columns: dict[str, str],
) -> None:
    """Build temp table `checked`: typed values plus `reason` (NULL for a good row)."""

    def col(name: str) -> str:
        return text(quote_ident(name)) if name in columns else "NULL"

    checks = _prediction_checks(tables, model_name, versions, specs, needing, columns)
    typed_features = ", ".join(
        f"TRY_CAST({col(s.name)} AS {FEATURE_TYPES[s.type]}) AS {quote_ident(s.name)}"
        for s in specs.values()
    )
    raw_features = ", ".join(quote_ident(s.name) for s in specs.values() if s.name in columns)
    ts_expr = timestamp_expr(columns, "timestamp") if "timestamp" in columns else "NULL"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE checked AS
        WITH v AS (
            SELECT _row,
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
            SELECT v.*, NULLIF(concat_ws('; ', {", ".join(checks)}), '') AS own_reason
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
                       format('duplicate prediction_id ''{{}}'' (first in row {{}})', id, first_row)
               END AS reason
        FROM ranked
        """
    )


def check_labels(
    con: duckdb.DuckDBPyConnection, tables: ModelTables, model_name: str, columns: dict[str, str]
) -> None:
    """Build temp table `checked` for a label file, joining stored predictions and labels."""
    binary = tables.task == "binary_classification"
    has_ts = "label_timestamp" in columns
    label_ts = timestamp_expr(columns, "label_timestamp") if has_ts else "NULL"
    ts_raw = text('"label_timestamp"') if has_ts else "NULL"
    model_check = (
        model_name_check(text("model_name"), model_name) if "model_name" in columns else "NULL"
    )
    not_binary = (
        "WHEN label NOT IN (0, 1) THEN format('label {} is not 0 or 1', label_raw)"
        if binary
        else ""
    )
    log = quote_ident(tables.log_table)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE checked AS
        WITH v AS (
            SELECT _row, {text("prediction_id")} AS id,
                   {text("label")} AS label_raw,
                   TRY_CAST({text("label")} AS DOUBLE) AS label,
                   {ts_raw} AS ts_raw,
                   {label_ts}::TIMESTAMP AS label_timestamp,
                   {model_check} AS model_problem
            FROM raw
        ),
        joined AS (
            SELECT v.*, p.prediction_id IS NOT NULL AS known,
                   l.label AS stored_label,
                   min(_row) OVER (PARTITION BY id) AS first_row
            FROM v
            LEFT JOIN (SELECT DISTINCT prediction_id FROM {log}) p ON p.prediction_id = v.id
            LEFT JOIN (SELECT prediction_id, label FROM labels
                       WHERE model_name = {quote_literal(model_name)}) l
                   ON l.prediction_id = v.id
        )
        SELECT _row, id, label, label_timestamp, stored_label,
               NULLIF(concat_ws('; ',
                   model_problem,
                   CASE WHEN id IS NULL THEN 'prediction_id is empty' END,
                   CASE WHEN label_raw IS NULL THEN 'label is empty'
                        WHEN label IS NULL THEN format('label: {{}} is not a number',
                             {quoted("label_raw")})
                        WHEN NOT isfinite(label) THEN 'label is not a finite number'
                        {not_binary}
                   END,
                   CASE WHEN ts_raw IS NOT NULL AND label_timestamp IS NULL THEN
                        format('label_timestamp: {{}} is not a date-time', {quoted("ts_raw")})
                   END,
                   CASE WHEN id IS NOT NULL AND NOT known THEN
                        format('no prediction with id ''{{}}'' has been ingested for {model_name}',
                               id) END,
                   CASE WHEN id IS NOT NULL AND _row > first_row THEN
                        format('duplicate prediction_id ''{{}}'' (first in row {{}})',
                               id, first_row) END,
                   CASE WHEN stored_label IS NOT NULL AND label IS NOT NULL
                             AND stored_label <> label THEN
                        format('a label for ''{{}}'' is already recorded ({{}}); corrections are '
                               'not accepted', id, stored_label) END
               ), '') AS reason
        FROM joined
        """
    )
