"""Migration 12: fine-grid profiles (bounded KS and Wasserstein), and logs kept in a data lake.

reference_fine_edges holds each numeric column's fine grid: the reference's quantiles at
k/4096 plus its decile edges (core.lake.grid). profile_fine_bins holds, per (scope, day,
column), the count and the sum of the values in each fine bin; they bound KS and
Wasserstein where a day has too many distinct values to keep them all (core.lake.bounded).
profile_columns learns each numeric column's distinct values per day and whether its value
counts were kept (rows profiled before this migration kept them all: TRUE).
drift_pair_cache learns the error bound of a cached pair (0 where it is exact).

lake_datasets: a version whose logs stay in a lake (Parquet files read by DuckDB or Spark);
only their day profiles are loaded. lake_builds records every `vigil profile` run with its
counts, lake_rejections its rejected rows per reason (the rows themselves are written as
Parquet beside the data). profile_label_days holds per-day label aggregates the engine
computed by joining the lake's labels: coverage, confusion counts at the decision threshold
(binary) and error sums (regression).
"""

VERSION = 12

SQL = """
CREATE TABLE reference_fine_edges (
    model_name    VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    feature       VARCHAR NOT NULL,
    edges         DOUBLE[] NOT NULL,
    PRIMARY KEY (model_name, model_version, feature)
);
CREATE TABLE profile_fine_bins (
    model_name    VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    scope         VARCHAR NOT NULL,
    day           DATE,
    feature       VARCHAR NOT NULL,
    bin           INTEGER NOT NULL,
    n             BIGINT NOT NULL,
    total         DOUBLE NOT NULL
);
ALTER TABLE profile_columns ADD COLUMN distinct_values BIGINT;
ALTER TABLE profile_columns ADD COLUMN values_kept BOOLEAN DEFAULT TRUE;
ALTER TABLE drift_pair_cache ADD COLUMN ks_error DOUBLE DEFAULT 0;
ALTER TABLE drift_pair_cache ADD COLUMN wasserstein_error DOUBLE DEFAULT 0;
CREATE TABLE lake_datasets (
    model_name    VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    logs          VARCHAR NOT NULL,
    labels        VARCHAR,
    declared_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (model_name, model_version)
);
CREATE SEQUENCE lake_build_seq START 1;
CREATE TABLE lake_builds (
    build_id            BIGINT PRIMARY KEY,
    model_name          VARCHAR NOT NULL,
    model_version       VARCHAR NOT NULL,
    engine              VARCHAR NOT NULL,
    master              VARCHAR,
    logs                VARCHAR NOT NULL,
    labels              VARCHAR,
    files               INTEGER NOT NULL,
    rows_read           BIGINT NOT NULL,
    rows_other_versions BIGINT NOT NULL,
    rows_rejected       BIGINT NOT NULL,
    rows_profiled       BIGINT NOT NULL,
    labels_read         BIGINT,
    labels_matched      BIGINT,
    days                INTEGER NOT NULL,
    rejected_path       VARCHAR,
    started_at          TIMESTAMP NOT NULL,
    finished_at         TIMESTAMP NOT NULL
);
CREATE TABLE lake_rejections (
    build_id BIGINT NOT NULL,
    reason   VARCHAR NOT NULL,
    rows     BIGINT NOT NULL
);
CREATE TABLE profile_label_days (
    model_name         VARCHAR NOT NULL,
    model_version      VARCHAR NOT NULL,
    day                DATE NOT NULL,
    predictions        BIGINT NOT NULL,
    labelled           BIGINT NOT NULL,
    true_positives     BIGINT,
    false_positives    BIGINT,
    true_negatives     BIGINT,
    false_negatives    BIGINT,
    sum_error          DOUBLE,
    sum_squared_error  DOUBLE,
    sum_absolute_error DOUBLE,
    PRIMARY KEY (model_name, model_version, day)
);
"""
