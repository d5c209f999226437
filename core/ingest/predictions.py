"""Ingestion of prediction logs and delayed labels: validate every row in DuckDB, store the
good ones, quarantine the rest with file, row and reason, and count every row.

Every run satisfies read = stored + quarantined + already_present. Re-ingesting a file
changes nothing: stored ids are skipped (already present), and a row quarantined before is
not quarantined twice (it is counted as quarantined again, but no new record is written).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from vigil.core.contract import (
    CONTRACT_COLUMNS,
    FEATURE_TYPES,
    LABEL_COLUMNS,
    TYPE_NOUNS,
    FeatureSpec,
)
from vigil.core.errors import IngestError
from vigil.core.registry.artifacts import sha256_file
from vigil.core.registry.versions import ModelTables, list_versions, model_tables
from vigil.core.store.connection import Store, limit_memory
from vigil.core.store.sql import quote_ident, quote_literal, read_source

# One writer per process at a time: DuckDB's optimistic transactions would let two threads
# insert the same prediction_id, since log tables carry no unique index (it costs too much
# memory at 10M+ rows); ingestion enforces uniqueness itself.
_ingest_lock = threading.Lock()


@dataclass(frozen=True)
class IngestResult:
    """What happened to every row of one file."""

    file: str
    kind: str
    model_name: str
    batch_id: int
    read: int
    stored: int
    quarantined: int
    already_present: int
    new_quarantine_records: int
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        payload = asdict(self)
        payload["top_reasons"] = [{"reason": r, "rows": n} for r, n in self.top_reasons]
        return payload


def _text(expr: str) -> str:
    return f"NULLIF(trim(CAST({expr} AS VARCHAR)), '')"


def _present(columns: dict[str, str], name: str) -> bool:
    return name in columns


def _timestamp_expr(columns: dict[str, str], name: str) -> str:
    """Parse to UTC: strings with an offset are converted, strings without one are UTC."""
    col = quote_ident(name)
    if columns[name] == "VARCHAR":
        return f"timezone('UTC', TRY_CAST({_text(col)} AS TIMESTAMPTZ))"
    return f"timezone('UTC', TRY_CAST({col} AS TIMESTAMPTZ))"


def _value_checks(spec: FeatureSpec, columns: dict[str, str], versions_needing: list[str]) -> str:
    """SQL CASE giving this column's problem for a row, or NULL when the value is fine."""
    name = spec.name
    needed = (
        f"v.model_version IN ({', '.join(quote_literal(v) for v in versions_needing)})"
        if versions_needing
        else "FALSE"
    )
    if not _present(columns, name):
        return f"CASE WHEN {needed} THEN 'column ''{name}'' is missing from the file' END"
    raw = _text(quote_ident(name))
    typed = f"TRY_CAST({raw} AS {spec.sql_type})"
    problems = [
        f"WHEN {raw} IS NOT NULL AND {typed} IS NULL THEN "
        f"format('{name}: {{}} is not {TYPE_NOUNS[spec.type]}', {_quoted(raw)})"
    ]
    if spec.type == "integer":
        problems.append(
            f"WHEN {raw} IS NOT NULL AND TRY_CAST({raw} AS DOUBLE) <> {typed} THEN "
            f"format('{name}: {{}} is not a whole number', {_quoted(raw)})"
        )
    if spec.type == "number":
        problems.append(
            f"WHEN {typed} IS NOT NULL AND NOT isfinite({typed}) THEN "
            f"format('{name}: {{}} is not a finite number', {_quoted(raw)})"
        )
    if not spec.nullable:
        problems.append(f"WHEN {raw} IS NULL AND {needed} THEN '{name} is empty'")
    return "CASE " + " ".join(problems) + " END"


def _quoted(raw: str) -> str:
    return f"'''' || left({raw}, 40) || ''''"


def _load_raw(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    source = read_source(path)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE raw AS SELECT row_number() OVER () AS _row, * FROM {source}"
        )
    except duckdb.Error as err:
        raise IngestError(f"{path}: cannot be read as {path.suffix[1:]}: {err}") from err
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'raw' AND table_schema = 'main' AND table_catalog = 'temp'"
    ).fetchall()
    return {name: dtype for name, dtype in rows if name != "_row"}


def _quarantine_and_count(
    con: duckdb.DuckDBPyConnection,
    *,
    kind: str,
    model_name: str,
    source: str,
    sha: str,
    batch_id: int,
) -> tuple[int, int, list[tuple[str, int]]]:
    """Write new quarantine records for rows in `checked` with a reason; skip ones seen before."""
    quarantined = con.execute("SELECT count(*) FROM checked WHERE reason IS NOT NULL").fetchone()[0]
    before = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    con.execute(
        """
        INSERT INTO quarantine
        SELECT ?, ?, ?, ?, ?, c._row, c.id, c.reason, to_json(r), now()::TIMESTAMP
        FROM checked c JOIN raw r USING (_row)
        WHERE c.reason IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM quarantine q
            WHERE q.kind = ? AND q.model_name = ? AND q.file_sha256 = ? AND q.row_number = c._row
        )
        """,
        [batch_id, kind, model_name, source, sha, kind, model_name, sha],
    )
    new_records = con.execute("SELECT count(*) FROM quarantine").fetchone()[0] - before
    reasons = con.execute(
        """
        SELECT regexp_replace(reason, '''[^'']*''', '…', 'g') AS kind, count(*) AS n
        FROM checked WHERE reason IS NOT NULL GROUP BY 1 ORDER BY n DESC, kind LIMIT 10
        """
    ).fetchall()
    return quarantined, new_records, [(r, n) for r, n in reasons]


def _record_batch(con: duckdb.DuckDBPyConnection, result: IngestResult, sha: str) -> None:
    con.execute(
        "INSERT INTO ingest_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, "
        "now()::TIMESTAMP)",
        [
            result.batch_id,
            result.kind,
            result.model_name,
            result.file,
            sha,
            result.read,
            result.stored,
            result.quarantined,
            result.already_present,
        ],
    )


def _finish(
    con: duckdb.DuckDBPyConnection,
    *,
    kind: str,
    model_name: str,
    source: str,
    sha: str,
    batch_id: int,
    read: int,
    stored: int,
    ignored: list[str],
) -> IngestResult:
    """Quarantine the rejected rows of `checked`, record the batch, and count every row."""
    quarantined, new_records, reasons = _quarantine_and_count(
        con, kind=kind, model_name=model_name, source=source, sha=sha, batch_id=batch_id
    )
    result = IngestResult(
        file=source,
        kind=kind,
        model_name=model_name,
        batch_id=batch_id,
        read=read,
        stored=stored,
        quarantined=quarantined,
        already_present=read - stored - quarantined,
        new_quarantine_records=new_records,
        top_reasons=reasons,
        ignored_columns=ignored,
    )
    _record_batch(con, result, sha)
    con.execute("DROP TABLE raw; DROP TABLE checked")
    return result


def _feature_union(
    con: duckdb.DuckDBPyConnection, model_name: str
) -> tuple[dict[str, FeatureSpec], dict[str, list[str]]]:
    """Every feature any version declares, and which versions need a value for it."""
    specs: dict[str, FeatureSpec] = {}
    needing: dict[str, list[str]] = {}
    for version in list_versions(con, model_name):
        for spec in version.features:
            specs.setdefault(spec.name, spec)
            needing.setdefault(spec.name, [])
            if not spec.nullable:
                needing[spec.name].append(version.model_version)
    return specs, needing


def ingest_predictions(
    store: Store, model_name: str, path: Path, *, source_name: str | None = None
) -> IngestResult:
    """Validate and store one prediction-log file for a registered model.

    `source_name` is what the records name the file by (e.g. an upload's own name)."""
    path = Path(path)
    source = source_name or str(path)
    read_source(path)  # fail fast on a missing file or unknown type, before taking the lock
    sha = sha256_file(path)
    with _ingest_lock, store.transaction() as con:
        limit_memory(con, store.home)
        tables = model_tables(con, model_name)
        versions = [v.model_version for v in list_versions(con, model_name)]
        specs, needing = _feature_union(con, model_name)
        columns = _load_raw(con, path)
        batch_id = con.execute("SELECT nextval('batch_seq')").fetchone()[0]
        _check_predictions(con, tables, model_name, versions, specs, needing, columns)
        known = {*CONTRACT_COLUMNS, *specs}
        ignored = sorted(c for c in columns if c not in known)
        read = con.execute("SELECT count(*) FROM checked").fetchone()[0]
        log = quote_ident(tables.log_table)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE fresh AS
            SELECT c.* FROM checked c
            WHERE c.reason IS NULL AND NOT EXISTS (
                SELECT 1 FROM {log} l WHERE l.prediction_id = c.id)
            """
        )
        stored = con.execute("SELECT count(*) FROM fresh").fetchone()[0]
        feature_cols = ", ".join(quote_ident(n) for n in specs)
        con.execute(
            f"""
            INSERT INTO {log} BY NAME
            SELECT id AS prediction_id, v_model_version AS model_version, served_at,
                   prediction, predicted_label, latency_ms, status,
                   {batch_id}::BIGINT AS batch_id, now()::TIMESTAMP AS ingested_at,
                   {feature_cols}
            FROM fresh ORDER BY served_at
            """
        )
        con.execute("DROP TABLE fresh")
        return _finish(
            con, kind="prediction", model_name=model_name, source=source, sha=sha,
            batch_id=batch_id, read=read, stored=stored, ignored=ignored,
        )  # fmt: skip


def _check_predictions(
    con: duckdb.DuckDBPyConnection,
    tables: ModelTables,
    model_name: str,
    versions: list[str],
    specs: dict[str, FeatureSpec],
    needing: dict[str, list[str]],
    columns: dict[str, str],
) -> None:
    """Build temp table `checked`: typed values plus `reason` (NULL for a good row)."""

    def col(name: str, default: str = "NULL") -> str:
        return _text(quote_ident(name)) if name in columns else default

    version_list = ", ".join(quote_literal(v) for v in versions)
    checks: list[str] = []
    if "prediction_id" not in columns:
        checks.append("'column ''prediction_id'' is missing from the file'")
    else:
        checks.append("CASE WHEN v.id IS NULL THEN 'prediction_id is empty' END")
    if "model_name" in columns:
        checks.append(
            f"CASE WHEN v.model_name_raw IS DISTINCT FROM {quote_literal(model_name)} THEN "
            f"format('model_name {{}} is not the model being ingested ({model_name})', "
            "coalesce('''' || v.model_name_raw || '''', 'is empty and'))"
            " END"
        )
    if "model_version" not in columns:
        checks.append("'column ''model_version'' is missing from the file'")
    else:
        checks.append(
            "CASE WHEN v.model_version IS NULL THEN 'model_version is empty' "
            f"WHEN v.model_version NOT IN ({version_list}) THEN format('model_version ''{{}}'' "
            f"is not registered for {model_name} (registered: {', '.join(versions)})', "
            "v.model_version) END"
        )
    if "timestamp" not in columns:
        checks.append("'column ''timestamp'' is missing from the file'")
    else:
        checks.append(
            "CASE WHEN v.ts_raw IS NULL THEN 'timestamp is empty' "
            "WHEN v.served_at IS NULL THEN format('timestamp {} is not a date-time', "
            "'''' || left(v.ts_raw, 40) || '''') END"
        )
    for spec in specs.values():
        checks.append(_value_checks(spec, columns, needing[spec.name]))
    status_expr = f"coalesce({col('status')}, 'ok')"
    if "prediction" not in columns:
        checks.append("'column ''prediction'' is missing from the file'")
    else:
        checks.append(
            "CASE WHEN v.prediction_raw IS NOT NULL AND v.prediction IS NULL THEN "
            "format('prediction: {} is not a number', '''' || left(v.prediction_raw, 40) || '''') "
            "WHEN v.prediction IS NOT NULL AND NOT isfinite(v.prediction) THEN "
            "'prediction is not a finite number' "
            "WHEN v.prediction IS NULL AND v.status = 'ok' THEN "
            "'prediction is empty on a row with status ok' "
            + (
                "WHEN v.prediction < 0 OR v.prediction > 1 THEN format('prediction {} is outside "
                "[0, 1]; a binary classifier logs the positive-class probability', v.prediction) "
                if tables.task == "binary_classification"
                else ""
            )
            + "END"
        )
    checks.append(
        "CASE WHEN v.latency_raw IS NOT NULL AND v.latency_ms IS NULL THEN "
        "format('latency_ms: {} is not a number', '''' || left(v.latency_raw, 40) || '''') "
        "WHEN v.latency_ms < 0 THEN 'latency_ms is negative' END"
    )
    typed_features = ", ".join(
        f"TRY_CAST({col(s.name)} AS {FEATURE_TYPES[s.type]}) AS {quote_ident(s.name)}"
        for s in specs.values()
    )
    raw_features = ", ".join(f"{quote_ident(s.name)}" for s in specs.values() if s.name in columns)
    ts_expr = _timestamp_expr(columns, "timestamp") if "timestamp" in columns else "NULL"
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
                   {status_expr} AS status
                   {", " + raw_features if raw_features else ""}
            FROM raw
        ),
        reasons AS (
            SELECT v.*, NULLIF(concat_ws('; ', {", ".join(checks)}), '') AS own_reason
            FROM v
        ),
        ranked AS (
            SELECT *,
                   min(_row) OVER (PARTITION BY id) AS first_row
            FROM reasons
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


def ingest_labels(
    store: Store, model_name: str, path: Path, *, source_name: str | None = None
) -> IngestResult:
    """Validate and store one feedback file; labels join predictions by prediction_id."""
    path = Path(path)
    source = source_name or str(path)
    read_source(path)
    sha = sha256_file(path)
    with _ingest_lock, store.transaction() as con:
        limit_memory(con, store.home)
        tables = model_tables(con, model_name)
        columns = _load_raw(con, path)
        batch_id = con.execute("SELECT nextval('batch_seq')").fetchone()[0]
        log = quote_ident(tables.log_table)
        missing = [c for c in ("prediction_id", "label") if c not in columns]
        if missing:
            raise IngestError(
                f"{path}: a label file needs columns prediction_id and label; "
                f"missing: {', '.join(missing)}"
            )
        binary = tables.task == "binary_classification"
        label_ts = (
            _timestamp_expr(columns, "label_timestamp") if "label_timestamp" in columns else "NULL"
        )
        ts_raw = _text('"label_timestamp"') if "label_timestamp" in columns else "NULL"
        model_check = (
            f"CASE WHEN {_text('model_name')} IS DISTINCT FROM {quote_literal(model_name)} THEN "
            f"format('model_name {{}} is not the model being ingested ({model_name})', "
            f"coalesce('''' || {_text('model_name')} || '''', 'is empty and')) END"
            if "model_name" in columns
            else "NULL"
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE checked AS
            WITH v AS (
                SELECT _row, {_text("prediction_id")} AS id,
                       {_text("label")} AS label_raw,
                       TRY_CAST({_text("label")} AS DOUBLE) AS label,
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
                                 '''' || left(label_raw, 40) || '''')
                            WHEN NOT isfinite(label) THEN 'label is not a finite number'
                            {"WHEN label NOT IN (0, 1) THEN format('label {} is not 0 or 1', label_raw)" if binary else ""}
                       END,
                       CASE WHEN ts_raw IS NOT NULL AND label_timestamp IS NULL THEN
                            format('label_timestamp: {{}} is not a date-time',
                                   '''' || left(ts_raw, 40) || '''') END,
                       CASE WHEN id IS NOT NULL AND NOT known THEN
                            format('no prediction with id ''{{}}'' has been ingested for {model_name}', id) END,
                       CASE WHEN id IS NOT NULL AND _row > first_row THEN
                            format('duplicate prediction_id ''{{}}'' (first in row {{}})', id, first_row) END,
                       CASE WHEN stored_label IS NOT NULL AND label IS NOT NULL
                                 AND stored_label <> label THEN
                            format('a label for ''{{}}'' is already recorded ({{}}); corrections are '
                                   'not accepted', id, stored_label) END
                   ), '') AS reason
            FROM joined
            """
        )
        read = con.execute("SELECT count(*) FROM checked").fetchone()[0]
        stored = con.execute(
            "SELECT count(*) FROM checked WHERE reason IS NULL AND stored_label IS NULL"
        ).fetchone()[0]
        con.execute(
            """
            INSERT INTO labels
            SELECT ?, id, label, label_timestamp, ?, now()::TIMESTAMP
            FROM checked WHERE reason IS NULL AND stored_label IS NULL
            """,
            [model_name, batch_id],
        )
        ignored = sorted(c for c in columns if c not in {*LABEL_COLUMNS, "model_name"})
        return _finish(
            con, kind="label", model_name=model_name, source=source, sha=sha,
            batch_id=batch_id, read=read, stored=stored, ignored=ignored,
        )  # fmt: skip
