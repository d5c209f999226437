"""Migration 1: the foundation's tables (registry, logs' side tables, quarantine, users, audit)."""

VERSION = 1

SQL = """
CREATE TABLE models (
    model_name      VARCHAR PRIMARY KEY,
    task            VARCHAR NOT NULL,
    log_table       VARCHAR NOT NULL UNIQUE,
    reference_table VARCHAR NOT NULL UNIQUE,
    created_at      TIMESTAMP NOT NULL
);
CREATE TABLE model_versions (
    model_name            VARCHAR NOT NULL,
    model_version         VARCHAR NOT NULL,
    task                  VARCHAR NOT NULL,
    training_date         DATE NOT NULL,
    owner                 VARCHAR NOT NULL,
    training_data_version VARCHAR NOT NULL,
    code_commit           VARCHAR NOT NULL,
    hyperparameters       JSON NOT NULL,
    validation_metrics    JSON NOT NULL,
    feature_schema        JSON NOT NULL,
    positive_label        VARCHAR,
    decision_threshold    DOUBLE,
    intended_use          VARCHAR,
    limitations           VARCHAR,
    risk_tier             VARCHAR,
    next_review_date      DATE,
    previous_version      VARCHAR,
    notes                 VARCHAR,
    artifact_path         VARCHAR NOT NULL,
    artifact_sha256       VARCHAR NOT NULL,
    reference_rows        BIGINT NOT NULL,
    reference_sha256      VARCHAR NOT NULL,
    status                VARCHAR NOT NULL,
    registered_by         VARCHAR NOT NULL,
    registered_at         TIMESTAMP NOT NULL,
    PRIMARY KEY (model_name, model_version)
);
CREATE TABLE aliases (
    model_name    VARCHAR NOT NULL,
    alias         VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    set_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (model_name, alias)
);
CREATE TABLE labels (
    model_name      VARCHAR NOT NULL,
    prediction_id   VARCHAR NOT NULL,
    label           DOUBLE NOT NULL,
    label_timestamp TIMESTAMP,
    batch_id        BIGINT NOT NULL,
    ingested_at     TIMESTAMP NOT NULL
);
CREATE SEQUENCE batch_seq START 1;
CREATE TABLE ingest_batches (
    batch_id        BIGINT PRIMARY KEY,
    kind            VARCHAR NOT NULL,
    model_name      VARCHAR NOT NULL,
    source_file     VARCHAR NOT NULL,
    file_sha256     VARCHAR NOT NULL,
    rows_read       BIGINT NOT NULL,
    rows_stored     BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    rows_already_present BIGINT NOT NULL,
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP NOT NULL
);
CREATE TABLE quarantine (
    batch_id     BIGINT NOT NULL,
    kind         VARCHAR NOT NULL,
    model_name   VARCHAR NOT NULL,
    source_file  VARCHAR NOT NULL,
    file_sha256  VARCHAR NOT NULL,
    row_number   BIGINT NOT NULL,
    prediction_id VARCHAR,
    reason       VARCHAR NOT NULL,
    raw          JSON,
    quarantined_at TIMESTAMP NOT NULL
);
CREATE TABLE users (
    username      VARCHAR PRIMARY KEY,
    role          VARCHAR NOT NULL,
    password_hash VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  TIMESTAMP
);
CREATE TABLE audit_log (
    seq           BIGINT PRIMARY KEY,
    recorded_at   TIMESTAMP NOT NULL,
    actor         VARCHAR NOT NULL,
    actor_role    VARCHAR NOT NULL,
    action        VARCHAR NOT NULL,
    model_name    VARCHAR,
    model_version VARCHAR,
    from_status   VARCHAR,
    to_status     VARCHAR,
    alias         VARCHAR,
    rationale     VARCHAR NOT NULL,
    evidence      JSON NOT NULL,
    prev_hash     VARCHAR NOT NULL,
    hash          VARCHAR NOT NULL
);
"""
