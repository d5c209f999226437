"""Migration 5: one audited table for every threshold, and the changes waiting for a second
admin.

`policy_thresholds` holds every threshold set for a model: gate thresholds (kind 'gate', name
the gate), drift test thresholds (kind 'drift', name the test, feature a column or '*') and
alert rule thresholds (kind 'alert', name the rule id). Each row names the audit record that
set it (`audit_seq`). `policy_changes` is every change asked for, with its rationale: applied
at once when it tightens, pending until a second admin confirms it when it loosens.

The rows of the former per-kind tables move here, each linked to the audit record that set
it; `gate_thresholds` and `drift_settings` remain as read-only views of their kind.
"""

VERSION = 5

SQL = """
CREATE TABLE policy_thresholds (
    model_name   VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,              -- gate | drift | alert
    name         VARCHAR NOT NULL,              -- the gate, the drift test, the alert rule id
    feature      VARCHAR NOT NULL DEFAULT '*',  -- drift: one column, or '*' for every column
    threshold    DOUBLE NOT NULL,
    set_by       VARCHAR,
    confirmed_by VARCHAR,                       -- the second admin of a loosening change
    set_at       TIMESTAMP NOT NULL,
    audit_seq    BIGINT,                        -- the audit record that set this value
    PRIMARY KEY (model_name, kind, name, feature)
);
CREATE SEQUENCE policy_change_seq START 1;
CREATE TABLE policy_changes (
    change_id          BIGINT PRIMARY KEY,
    model_name         VARCHAR NOT NULL,
    kind               VARCHAR NOT NULL,
    name               VARCHAR NOT NULL,
    feature            VARCHAR NOT NULL,
    old_threshold      DOUBLE,                  -- NULL: the default was in force
    new_threshold      DOUBLE,                  -- NULL: back to the default
    loosens            BOOLEAN NOT NULL,
    state              VARCHAR NOT NULL,        -- pending | applied | rejected
    proposed_by        VARCHAR NOT NULL,
    proposed_by_role   VARCHAR NOT NULL,
    proposed_at        TIMESTAMP NOT NULL,
    rationale          VARCHAR NOT NULL,
    proposal_seq       BIGINT NOT NULL,
    decided_by         VARCHAR,
    decided_by_role    VARCHAR,
    decided_at         TIMESTAMP,
    decision_rationale VARCHAR,
    decision_seq       BIGINT
);
INSERT INTO policy_thresholds
SELECT g.model_name, 'gate', g.gate, '*', g.threshold, g.set_by, NULL, g.set_at,
       (SELECT max(a.seq) FROM audit_log a
        WHERE a.action = 'set_gate_threshold' AND a.model_name = g.model_name
          AND json_extract_string(a.evidence, '$.gate') = g.gate)
FROM gate_thresholds g;
INSERT INTO policy_thresholds
SELECT d.model_name, 'drift', d.test, d.feature, d.threshold, a.actor, NULL,
       coalesce(a.recorded_at, now()::TIMESTAMP), a.seq
FROM drift_settings d
LEFT JOIN (
    SELECT model_name, actor, recorded_at, seq,
           json_extract_string(evidence, '$.feature') AS feature,
           json_extract_string(evidence, '$.test') AS test,
           row_number() OVER (PARTITION BY model_name, feature, test ORDER BY seq DESC) AS rn
    FROM audit_log WHERE action = 'set_drift_threshold'
) a ON a.model_name = d.model_name AND a.feature = d.feature AND a.test = d.test AND a.rn = 1;
DROP TABLE gate_thresholds;
DROP TABLE drift_settings;
CREATE VIEW gate_thresholds AS
SELECT model_name, name AS gate, threshold, set_by, set_at
FROM policy_thresholds WHERE kind = 'gate';
CREATE VIEW drift_settings AS
SELECT model_name, feature, name AS test, threshold
FROM policy_thresholds WHERE kind = 'drift';
"""
