"""Migration 3: per-model alert rules (edited by analysts and admins, audited) and fired alerts.

A rule compares one registered metric, per window of a granularity, with a threshold; the
threshold is absolute, or an offset from the version's validation metric when
`relative_to` is 'validation'. `min_age_days` limits a rule to windows that ended at least
that long before the latest traffic (label coverage needs time to arrive). An alert is one
failing (rule, version, window); it is resolved when a later evaluation finds it passing.
"""

VERSION = 3

SQL = """
CREATE SEQUENCE alert_rule_seq START 1;
CREATE TABLE alert_rules (
    rule_id       BIGINT PRIMARY KEY,
    model_name    VARCHAR NOT NULL,
    metric        VARCHAR NOT NULL,
    comparison    VARCHAR NOT NULL,
    threshold     DOUBLE NOT NULL,
    relative_to   VARCHAR,
    granularity   VARCHAR NOT NULL,
    min_age_days  INTEGER NOT NULL DEFAULT 0,
    severity      VARCHAR NOT NULL,
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    description   VARCHAR,
    created_by    VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_by    VARCHAR,
    updated_at    TIMESTAMP
);
CREATE SEQUENCE alert_seq START 1;
CREATE TABLE alerts (
    alert_id      BIGINT PRIMARY KEY,
    rule_id       BIGINT NOT NULL,
    model_name    VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    metric        VARCHAR NOT NULL,
    comparison    VARCHAR NOT NULL,
    threshold     DOUBLE NOT NULL,
    value         DOUBLE NOT NULL,
    granularity   VARCHAR NOT NULL,
    window_start  TIMESTAMP NOT NULL,
    window_end    TIMESTAMP NOT NULL,
    severity      VARCHAR NOT NULL,
    fired_at      TIMESTAMP NOT NULL,
    last_seen_at  TIMESTAMP NOT NULL,
    resolved_at   TIMESTAMP,
    UNIQUE (rule_id, model_version, window_start)
);
"""
