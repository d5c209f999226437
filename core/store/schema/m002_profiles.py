"""Migration 2: mergeable per-day and reference profiles for drift, and per-model drift settings.

Profiles are stored at the finest grain (a UTC day) and merged into weeks, months or any
range by summing, so a page never rescans raw logs it has already summarised. `scope` is
'reference' (the version's reference data; day is NULL) or 'day'.
drift_pair_cache keeps the exact KS / Wasserstein of whole-day windows against the version's
reference data (they cost a pass over value counts), and drift_domain_cache the domain
classifier's AUC for whole-day ranges; a refresh drops the windows it touches.
"""

VERSION = 2

SQL = """
CREATE TABLE profile_days (
    model_name    VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    day           DATE NOT NULL,
    max_batch_id  BIGINT NOT NULL,
    rows          BIGINT NOT NULL,
    profiled_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (model_name, model_version, day)
);
CREATE TABLE profile_references (
    model_name    VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    rows          BIGINT NOT NULL,
    profiled_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (model_name, model_version)
);
CREATE TABLE reference_bins (
    model_name    VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    feature       VARCHAR NOT NULL,
    edges         DOUBLE[] NOT NULL,
    PRIMARY KEY (model_name, model_version, feature)
);
CREATE TABLE profile_columns (
    model_name    VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    scope         VARCHAR NOT NULL,
    day           DATE,
    feature       VARCHAR NOT NULL,
    rows          BIGINT NOT NULL,
    nulls         BIGINT NOT NULL,
    min_value     DOUBLE,
    max_value     DOUBLE,
    sum_value     DOUBLE,
    sum_squares   DOUBLE
);
CREATE TABLE profile_values (
    model_name    VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    scope         VARCHAR NOT NULL,
    day           DATE,
    feature       VARCHAR NOT NULL,
    value         DOUBLE NOT NULL,
    n             BIGINT NOT NULL
);
CREATE TABLE profile_bins (
    model_name    VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    scope         VARCHAR NOT NULL,
    day           DATE,
    feature       VARCHAR NOT NULL,
    bin           INTEGER NOT NULL,
    n             BIGINT NOT NULL
);
CREATE TABLE profile_categories (
    model_name    VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    scope         VARCHAR NOT NULL,
    day           DATE,
    feature       VARCHAR NOT NULL,
    category      VARCHAR NOT NULL,
    n             BIGINT NOT NULL
);
CREATE TABLE drift_pair_cache (
    model_name    VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    window_start  TIMESTAMP NOT NULL,
    window_end    TIMESTAMP NOT NULL,
    feature       VARCHAR NOT NULL,
    ks            DOUBLE NOT NULL,
    wasserstein   DOUBLE NOT NULL,
    n_cur         BIGINT NOT NULL,
    mean_cur      DOUBLE,
    std_cur       DOUBLE
);
CREATE TABLE drift_domain_cache (
    model_name    VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    window_start  TIMESTAMP NOT NULL,
    window_end    TIMESTAMP NOT NULL,
    sample        BIGINT NOT NULL,
    auc           DOUBLE,
    auc_std       DOUBLE,
    reference_n   BIGINT NOT NULL,
    current_n     BIGINT NOT NULL,
    folds         INTEGER NOT NULL
);
CREATE TABLE drift_settings (
    model_name VARCHAR NOT NULL,
    feature    VARCHAR NOT NULL DEFAULT '*',
    test       VARCHAR NOT NULL,
    threshold  DOUBLE NOT NULL,
    PRIMARY KEY (model_name, feature, test)
);
"""
