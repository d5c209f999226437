"""Checking lake rows against the version's contract, in SQL every engine runs.

The rules are ingest's (core.ingest.checks) where a lake allows them: a prediction id; the
model's name; a parseable, plausible time stamp (TimeBounds: not long before the version was
trained, not after the build plus VIGIL_INGEST_FUTURE_HOURS); every feature of its declared
type, finite if a number, whole if an integer, present unless nullable; a numeric, finite
prediction (in [0, 1] for a binary classifier, present when status is ok); a non-negative
latency. Rows of another model_version are this version's neighbours in a shared folder:
counted and skipped, not rejected.

Not checked, unlike ingest: a prediction id seen twice (that is a global shuffle of the
whole lake on every build; the lake is the system of record for its ids) and conflicts with
stored rows (a lake version has none). Reasons are fixed sentences naming the column and the
rule, so both engines give the same reason for the same row; the rejected rows are written
whole beside them, so the offending value is there to see.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from vigil.core.contract import FEATURE_TYPES, TYPE_NOUNS, FeatureSpec
from vigil.core.errors import VigilError
from vigil.core.lake.engine import ColumnClass
from vigil.core.registry.versions import ModelVersion
from vigil.core.store.sql import quote_ident, quote_literal

REQUIRED = ("prediction_id", "timestamp", "prediction")
MAX_WHOLE = 9.0e15  # integers beyond this are not exact as doubles
MAX_FINITE = "1.7976931348623157e308"  # NaN and infinities compare above it in both engines


class LakeSchemaError(VigilError):
    """A lake dataset lacks a column the contract needs, or holds one of an unusable type."""


@dataclass(frozen=True)
class Rules:
    """What rows are checked against: one version, its time bounds, the file's columns."""

    version: ModelVersion
    earliest: dt.datetime
    latest: dt.datetime
    columns: dict[str, ColumnClass]


def _text(name: str, columns: dict[str, ColumnClass]) -> str:
    """A raw value: text trimmed and empty as NULL; other classes as they are."""
    if name not in columns:
        return "CAST(NULL AS VARCHAR)"
    if columns[name] is ColumnClass.TEXT:
        return f"NULLIF(trim({quote_ident(name)}), '')"
    return quote_ident(name)


def _number(raw: str) -> str:
    return f"TRY_CAST({raw} AS DOUBLE)"


def _finite(expr: str) -> str:
    return f"abs({expr}) <= {MAX_FINITE}"


def _ts(value: dt.datetime) -> str:
    return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S}'"


def check_schema(rules: Rules) -> None:
    """Refuse a dataset without the columns every row needs, or with nested ones."""
    columns = rules.columns
    needed = [*REQUIRED, *(f.name for f in rules.version.features if not f.nullable)]
    missing = [c for c in needed if c not in columns]
    if missing:
        raise LakeSchemaError(
            f"The lake dataset has no column {', '.join(missing)}, which every row of "
            f"{rules.version.model_name} {rules.version.model_version} needs; "
            "add it to the files or fix the path."
        )
    wanted = ["model_name", "model_version", *REQUIRED, "latency_ms", "status"]
    wanted += [f.name for f in rules.version.features]
    unusable = [c for c in wanted if columns.get(c) is ColumnClass.OTHER]
    if columns["timestamp"] not in (ColumnClass.TEXT, ColumnClass.TIME):
        unusable.append("timestamp")
    if unusable:
        raise LakeSchemaError(
            f"Columns {', '.join(unusable)} of the lake dataset hold values of an unusable type "
            "(nested, binary, or a time stamp that is neither text nor a timestamp); the "
            "contract needs plain numbers, text, booleans, and timestamp as text or a timestamp."
        )


def _feature(spec: FeatureSpec, columns: dict[str, ColumnClass]) -> tuple[str, str]:
    """(typed value, problem or NULL) of one feature."""
    raw, name = _text(spec.name, columns), spec.name
    empty = f"WHEN {raw} IS NULL THEN {quote_literal(f'{name} is empty')} "
    missing = "" if spec.nullable else empty
    noun = TYPE_NOUNS[spec.type]
    if spec.type in ("number", "integer"):
        number = _number(raw)
        typed = number
        problems = (
            f"WHEN {raw} IS NOT NULL AND {number} IS NULL THEN "
            f"{quote_literal(f'{name} is not {noun}')} "
            f"WHEN {number} IS NOT NULL AND NOT {_finite(number)} THEN "
            f"{quote_literal(f'{name} is not a finite number')} "
        )
        if spec.type == "integer":
            whole = f"abs({number}) <= {MAX_WHOLE!r} AND {number} = round({number})"
            typed = f"CASE WHEN {whole} THEN CAST({number} AS BIGINT) END"
            problems += (
                f"WHEN {number} IS NOT NULL AND NOT ({whole}) THEN "
                f"{quote_literal(f'{name} is not a whole number')} "
            )
    else:
        typed = f"TRY_CAST({raw} AS {FEATURE_TYPES[spec.type]})"
        problems = (
            f"WHEN {raw} IS NOT NULL AND {typed} IS NULL THEN "
            f"{quote_literal(f'{name} is not {noun}')} "
        )
    return typed, f"CASE {missing}{problems}END"


def _time(rules: Rules) -> tuple[str, str]:
    """(served_at as a UTC TIMESTAMP, problem or NULL)."""
    column = quote_ident("timestamp")
    if rules.columns["timestamp"] is ColumnClass.TIME:
        typed = f"CAST({column} AS TIMESTAMP)"
    else:
        typed = f"CAST(TRY_CAST({_text('timestamp', rules.columns)} AS TIMESTAMPTZ) AS TIMESTAMP)"
    raw = _text("timestamp", rules.columns)
    late = f"timestamp is later than {rules.latest:%Y-%m-%d %H:%M} UTC, the build time plus "
    late += "VIGIL_INGEST_FUTURE_HOURS: check the producer's clock"
    early = f"timestamp is earlier than {rules.earliest:%Y-%m-%d}, a year before its version "
    early += "was trained or registered (VIGIL_INGEST_PAST_DAYS)"
    problem = (
        f"CASE WHEN {raw} IS NULL THEN 'timestamp is empty' "
        f"WHEN {typed} IS NULL THEN 'timestamp is not a date-time' "
        f"WHEN {typed} > {_ts(rules.latest)} THEN {quote_literal(late)} "
        f"WHEN {typed} < {_ts(rules.earliest)} THEN {quote_literal(early)} END"
    )
    return typed, problem


def _prediction(rules: Rules, status: str) -> tuple[str, str]:
    raw = _text("prediction", rules.columns)
    typed = _number(raw)
    unit = (
        f"WHEN {typed} < 0 OR {typed} > 1 THEN 'prediction is outside [0, 1]; a binary "
        "classifier logs the positive-class probability' "
        if rules.version.task == "binary_classification"
        else ""
    )
    problem = (
        f"CASE WHEN {raw} IS NOT NULL AND {typed} IS NULL THEN 'prediction is not a number' "
        f"WHEN {typed} IS NOT NULL AND NOT {_finite(typed)} THEN "
        "'prediction is not a finite number' "
        f"WHEN {typed} IS NULL AND {status} = 'ok' THEN "
        f"'prediction is empty on a row with status ok' {unit}END"
    )
    return typed, problem


def _identity(rules: Rules) -> tuple[str, list[str]]:
    """(is this row another version's, problems of prediction_id, model_name, model_version)."""
    version = rules.version
    raw_version = _text("model_version", rules.columns)
    other = "FALSE"
    problems = [
        f"CASE WHEN {_text('prediction_id', rules.columns)} IS NULL THEN 'prediction_id is empty' END"
    ]
    if "model_name" in rules.columns:
        name = _text("model_name", rules.columns)
        problems.append(
            f"CASE WHEN {name} IS NULL OR {name} <> {quote_literal(version.model_name)} THEN "
            f"{quote_literal(f'model_name is not {version.model_name}')} END"
        )
    if "model_version" in rules.columns:
        other = f"coalesce({raw_version} <> {quote_literal(version.model_version)}, FALSE)"
        problems.append(f"CASE WHEN {raw_version} IS NULL THEN 'model_version is empty' END")
    return other, problems


def checked_sql(rules: Rules, raw: str) -> str:
    """SELECT over relation `raw`: every raw column, then `_other_version`, `_reason` (NULL
    for a good row), and the typed log columns prefixed `_v_`."""
    columns = rules.columns
    status = f"coalesce({_text('status', columns)}, 'ok')"
    other, problems = _identity(rules)
    served_at, time_problem = _time(rules)
    prediction, prediction_problem = _prediction(rules, status)
    latency = _number(_text("latency_ms", columns))
    latency_problem = (
        f"CASE WHEN {_text('latency_ms', columns)} IS NOT NULL AND {latency} IS NULL THEN "
        f"'latency_ms is not a number' WHEN {latency} < 0 THEN 'latency_ms is negative' END"
    )
    typed = [
        f"CAST({_text('prediction_id', columns)} AS VARCHAR) AS _v_prediction_id",
        f"{served_at} AS _v_served_at",
        f"{prediction} AS _v_prediction",
        f"{status} AS _v_status",
        f"{latency} AS _v_latency_ms",
    ]
    problems += [time_problem, prediction_problem, latency_problem]
    for spec in rules.version.features:
        value, problem = _feature(spec, columns)
        typed.append(f"{value} AS {quote_ident('_v_' + spec.name)}")
        problems.append(problem)
    reason = f"NULLIF(concat_ws('; ', {', '.join(problems)}), '')"
    return (
        f"SELECT *, {other} AS _other_version, {reason} AS _reason, {', '.join(typed)} FROM {raw}"
    )


def logs_sql(version: ModelVersion, checked: str) -> str:
    """The plan's `plan_logs`: good rows of the version, as the store's log table names them."""
    features = "".join(
        f", {quote_ident('_v_' + f.name)} AS {quote_ident(f.name)}" for f in version.features
    )
    return (
        "SELECT CAST(date_trunc('day', _v_served_at) AS DATE) AS day, "
        "_v_prediction_id AS prediction_id, _v_served_at AS served_at, "
        f"_v_prediction AS prediction, _v_status AS status{features} "
        f"FROM {checked} WHERE _reason IS NULL AND NOT _other_version"
    )
