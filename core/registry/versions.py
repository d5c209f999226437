"""The model registry: versions are registered once, immutably, with their lineage and data."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb
import onnxruntime as ort

from vigil.core.contract import TYPE_NOUNS, FeatureSet, FeatureSpec, ModelMetadata
from vigil.core.errors import MetadataError, RegistryError, UnknownModelError, VersionExistsError
from vigil.core.govern import audit
from vigil.core.registry import artifacts
from vigil.core.store.connection import Store
from vigil.core.store.sql import quote_ident, read_source


class Status(StrEnum):
    """A version's place in its lifecycle (core.govern.lifecycle moves it between them)."""

    REGISTERED = "registered"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    PRODUCTION = "production"
    REJECTED = "rejected"
    ARCHIVED = "archived"
    ROLLED_BACK = "rolled_back"

    @property
    def label(self) -> str:
        """How people read it: 'Pending approval', 'Rolled back'."""
        return self.value.replace("_", " ").capitalize()


LOG_BASE_COLUMNS = {
    "prediction_id": "VARCHAR",
    "model_version": "VARCHAR",
    "served_at": "TIMESTAMP",
    "prediction": "DOUBLE",
    "predicted_label": "VARCHAR",
    "latency_ms": "DOUBLE",
    "status": "VARCHAR",
    "batch_id": "BIGINT",
    "ingested_at": "TIMESTAMP",
}


@dataclass(frozen=True)
class ModelVersion(FeatureSet):
    """One row of the inventory, as stored."""

    model_name: str
    model_version: str
    task: str
    training_date: dt.date
    owner: str
    training_data_version: str
    code_commit: str
    hyperparameters: dict[str, Any]
    validation_metrics: dict[str, dict[str, float]]
    features: tuple[FeatureSpec, ...]
    positive_label: str | None
    decision_threshold: float | None
    intended_use: str | None
    limitations: str | None
    risk_tier: str | None
    next_review_date: dt.date | None
    previous_version: str | None
    notes: str | None
    artifact_path: str
    artifact_sha256: str
    reference_rows: int
    reference_sha256: str
    status: Status
    registered_by: str
    registered_at: dt.datetime

    @property
    def status_label(self) -> str:
        return self.status.label


@dataclass(frozen=True)
class ModelTables:
    log_table: str
    reference_table: str
    task: str


def table_slug(model_name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", model_name.lower()).strip("_")


JSON_COLUMNS = ("hyperparameters", "validation_metrics")


def _row_to_version(row: dict[str, Any]) -> ModelVersion:
    fields = {name: row[name] for name in ModelVersion.__dataclass_fields__ if name != "features"}
    fields.update({name: json.loads(row[name]) for name in JSON_COLUMNS})
    fields["status"] = Status(row["status"])
    features = tuple(FeatureSpec(**f) for f in json.loads(row["feature_schema"]))
    return ModelVersion(**fields, features=features)


def _fetch_dicts(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def list_versions(
    con: duckdb.DuckDBPyConnection, model_name: str | None = None
) -> list[ModelVersion]:
    where, params = ("WHERE model_name = ?", [model_name]) if model_name else ("", [])
    rows = _fetch_dicts(
        con, f"SELECT * FROM model_versions {where} ORDER BY model_name, registered_at", params
    )
    return [_row_to_version(r) for r in rows]


def list_model_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0] for r in con.execute("SELECT model_name FROM models ORDER BY model_name").fetchall()
    ]


def get_version(
    con: duckdb.DuckDBPyConnection, model_name: str, model_version: str
) -> ModelVersion:
    rows = _fetch_dicts(
        con,
        "SELECT * FROM model_versions WHERE model_name = ? AND model_version = ?",
        [model_name, model_version],
    )
    if not rows:
        known = [v.model_version for v in list_versions(con, model_name)]
        if not known:
            raise UnknownModelError(f"Model '{model_name}' is not registered.")
        raise UnknownModelError(
            f"Model '{model_name}' has no version '{model_version}' "
            f"(registered: {', '.join(known)})."
        )
    return _row_to_version(rows[0])


def model_tables(con: duckdb.DuckDBPyConnection, model_name: str) -> ModelTables:
    row = con.execute(
        "SELECT log_table, reference_table, task FROM models WHERE model_name = ?", [model_name]
    ).fetchone()
    if row is None:
        known = list_model_names(con)
        raise UnknownModelError(
            f"Model '{model_name}' is not registered"
            + (f" (registered models: {', '.join(known)})." if known else "; register it first.")
        )
    return ModelTables(*row)


def aliases(con: duckdb.DuckDBPyConnection, model_name: str) -> dict[str, str]:
    """alias -> version, e.g. {'champion': '1'}."""
    rows = con.execute(
        "SELECT alias, model_version FROM aliases WHERE model_name = ?", [model_name]
    ).fetchall()
    return dict(rows)


def _existing_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
        [table],
    ).fetchall()
    return dict(rows)


def _ensure_model_tables(con: duckdb.DuckDBPyConnection, meta: ModelMetadata) -> ModelTables:
    """Create the model's log and reference tables, or add this version's new feature columns."""
    row = con.execute("SELECT task FROM models WHERE model_name = ?", [meta.model_name]).fetchone()
    if row is None:
        slug = table_slug(meta.model_name)
        tables = ModelTables(f"log_{slug}", f"reference_{slug}", meta.task)
        taken = con.execute(
            "SELECT model_name FROM models WHERE log_table = ?", [tables.log_table]
        ).fetchone()
        if taken:
            raise RegistryError(
                f"Model name '{meta.model_name}' is too similar to '{taken[0]}' (both store as "
                f"'{tables.log_table}'); choose a more distinct name."
            )
        con.execute(
            "INSERT INTO models VALUES (?, ?, ?, ?, now()::TIMESTAMP)",
            [meta.model_name, meta.task, tables.log_table, tables.reference_table],
        )
        base = ", ".join(f"{quote_ident(n)} {t}" for n, t in LOG_BASE_COLUMNS.items())
        con.execute(f"CREATE TABLE {quote_ident(tables.log_table)} ({base})")
        con.execute(
            f"CREATE TABLE {quote_ident(tables.reference_table)} (model_version VARCHAR, "
            "row_number BIGINT, prediction DOUBLE, label DOUBLE)"
        )
    else:
        tables = model_tables(con, meta.model_name)
        if row[0] != meta.task:
            raise MetadataError(
                f"Model '{meta.model_name}' is a {row[0]} model; version {meta.model_version} "
                f"declares task {meta.task}. Register it under a new model name."
            )
    for table in (tables.log_table, tables.reference_table):
        existing = _existing_columns(con, table)
        for spec in meta.features:
            if spec.name not in existing:
                con.execute(
                    f"ALTER TABLE {quote_ident(table)} ADD COLUMN {quote_ident(spec.name)} "
                    f"{spec.sql_type}"
                )
            elif existing[spec.name] != spec.sql_type:
                raise MetadataError(
                    f"Feature '{spec.name}' is stored as {existing[spec.name]} for earlier "
                    f"versions of '{meta.model_name}', but version {meta.model_version} declares "
                    f"type {spec.type} ({spec.sql_type}). Keep the type, or use a new feature name."
                )
    return tables


def _load_reference(
    con: duckdb.DuckDBPyConnection,
    meta: ModelMetadata,
    tables: ModelTables,
    reference: Path,
    session: ort.InferenceSession,
) -> int:
    """Validate the reference data strictly (it is the drift baseline) and store it."""
    source = read_source(reference)
    con.execute(f"CREATE OR REPLACE TEMP TABLE ref_raw AS SELECT * FROM {source}")
    columns = set(_existing_columns(con, "ref_raw"))
    missing = [f.name for f in meta.features if f.name not in columns]
    if missing:
        raise MetadataError(f"{reference}: reference data lacks column(s) {', '.join(missing)}")
    if "label" not in columns:
        raise MetadataError(
            f"{reference}: reference data needs a 'label' column (the outcome the model predicts)"
        )
    for spec in (*meta.features, FeatureSpec("label", "number", False)):
        name = quote_ident(spec.name)
        bad = con.execute(
            f"SELECT rn, {name}::VARCHAR FROM (SELECT row_number() OVER () AS rn, {name} "
            f"FROM ref_raw) WHERE ({name} IS NOT NULL AND TRY_CAST({name} AS {spec.sql_type}) IS NULL)"
            + ("" if spec.nullable else f" OR {name} IS NULL")
            + " ORDER BY rn LIMIT 1"
        ).fetchone()
        if bad:
            problem = (
                "is empty" if bad[1] is None else f"has {bad[1]!r}, not {TYPE_NOUNS[spec.type]}"
            )
            raise MetadataError(f"{reference}: row {bad[0]}, column '{spec.name}' {problem}")
    frame = con.execute("SELECT * FROM ref_raw").df()
    if "prediction" not in frame.columns:
        frame["prediction"] = artifacts.score(session, frame, meta.features)
    frame["model_version"] = meta.model_version
    frame["row_number"] = range(1, len(frame) + 1)
    keep = ["model_version", "row_number", "prediction", "label", *(f.name for f in meta.features)]
    con.register("ref_frame", frame[keep])
    casts = ", ".join(
        f"CAST({quote_ident(c)} AS {t}) AS {quote_ident(c)}"
        for c, t in [
            ("model_version", "VARCHAR"),
            ("row_number", "BIGINT"),
            ("prediction", "DOUBLE"),
            ("label", "DOUBLE"),
            *((f.name, f.sql_type) for f in meta.features),
        ]
    )
    con.execute(
        f"INSERT INTO {quote_ident(tables.reference_table)} BY NAME SELECT {casts} FROM ref_frame"
    )
    con.unregister("ref_frame")
    con.execute("DROP TABLE ref_raw")
    return len(frame)


def register_version(
    store: Store,
    meta: ModelMetadata,
    *,
    artifact: Path,
    reference: Path,
    registered_by: str,
    registered_by_role: str,
) -> ModelVersion:
    """Register one immutable version: artifact copied and hashed, reference stored, audited."""
    artifact_bytes = Path(artifact).read_bytes() if Path(artifact).is_file() else None
    if artifact_bytes is None:
        raise MetadataError(f"{artifact}: artifact file not found")
    session = artifacts.open_session(artifact_bytes, str(artifact))
    artifacts.check_inputs(session, meta.features, str(artifact))
    if not Path(reference).is_file():
        raise MetadataError(f"{reference}: reference data file not found")
    with store.transaction() as con:
        exists = con.execute(
            "SELECT status FROM model_versions WHERE model_name = ? AND model_version = ?",
            [meta.model_name, meta.model_version],
        ).fetchone()
        if exists:
            raise VersionExistsError(
                f"{meta.model_name} version {meta.model_version} is already registered "
                f"(status: {Status(exists[0]).label}). Versions are immutable: register the "
                "change as a new version."
            )
        if meta.previous_version is not None:
            get_version(con, meta.model_name, meta.previous_version)
        tables = _ensure_model_tables(con, meta)
        rows = _load_reference(con, meta, tables, Path(reference), session)
        stored_path, sha = artifacts.copy_into_store(
            Path(artifact), store.artifacts_dir, meta.model_name, meta.model_version
        )
        con.execute(
            """
            INSERT INTO model_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)
            """,
            [
                meta.model_name,
                meta.model_version,
                meta.task,
                meta.training_date,
                meta.owner,
                meta.training_data_version,
                meta.code_commit,
                json.dumps(meta.hyperparameters, sort_keys=True),
                json.dumps(meta.validation_metrics, sort_keys=True),
                meta.feature_schema_json(),
                meta.positive_label,
                meta.decision_threshold,
                meta.intended_use,
                meta.limitations,
                meta.risk_tier,
                meta.next_review_date,
                meta.previous_version,
                meta.notes,
                str(stored_path),
                sha,
                rows,
                artifacts.sha256_file(Path(reference)),
                Status.REGISTERED,
                registered_by,
            ],
        )
        audit.append(
            con,
            actor=registered_by,
            actor_role=registered_by_role,
            action="register",
            model_name=meta.model_name,
            model_version=meta.model_version,
            to_status="registered",
            rationale=meta.notes or "Registered a new version.",
            evidence={
                "artifact_sha256": sha,
                "reference_rows": rows,
                "training_data_version": meta.training_data_version,
                "code_commit": meta.code_commit,
                "validation_metrics": meta.validation_metrics,
            },
        )
        return get_version(con, meta.model_name, meta.model_version)


def load_model(store: Store, version: ModelVersion) -> ort.InferenceSession:
    """An onnxruntime session for the version, after checking the artifact's SHA-256."""
    path = store.home / version.artifact_path
    data = artifacts.verified_bytes(path, version.artifact_sha256)
    return artifacts.open_session(data, str(path))
