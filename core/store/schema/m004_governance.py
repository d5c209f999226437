"""Governance: promotion requests (with a row version), gate results and per-model gate thresholds.

A promotion request is the unit a reviewer decides on. `row_version` goes up on every change,
so a reviewer acting on a page loaded before someone else's decision is refused instead of
overwriting it. Versions that were already pending approval before this migration get their
request back-filled from the audit log, so every pending version has exactly one open request.
The inventory fields the gates need (owner, intended use, limitations, risk tier, next review
date) are already columns of model_versions, so none are added here.
"""

VERSION = 4

SQL = """
CREATE SEQUENCE promotion_request_seq START 1;
CREATE TABLE promotion_requests (
    request_id          BIGINT PRIMARY KEY,
    model_name          VARCHAR NOT NULL,
    model_version       VARCHAR NOT NULL,
    state               VARCHAR NOT NULL,   -- pending | approved | rejected | withdrawn
    requested_by        VARCHAR NOT NULL,
    requested_by_role   VARCHAR NOT NULL,
    requested_at        TIMESTAMP NOT NULL,
    request_rationale   VARCHAR NOT NULL,
    request_seq         BIGINT,             -- audit record of the request
    decided_by          VARCHAR,
    decided_by_role     VARCHAR,
    decided_at          TIMESTAMP,
    decision_rationale  VARCHAR,
    decision_seq        BIGINT,             -- audit record of the decision
    override_by         VARCHAR,
    override_at         TIMESTAMP,
    override_rationale  VARCHAR,
    override_gates      JSON,               -- names of the failed gates the admin overrode
    override_seq        BIGINT,
    row_version         INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE gate_results (
    request_id  BIGINT NOT NULL,
    phase       VARCHAR NOT NULL,            -- request | approval
    checked_at  TIMESTAMP NOT NULL,
    gate        VARCHAR NOT NULL,
    outcome     VARCHAR NOT NULL,            -- pass | fail | n/a
    observed    DOUBLE,
    threshold   DOUBLE,
    detail      VARCHAR NOT NULL
);
CREATE TABLE gate_thresholds (
    model_name  VARCHAR NOT NULL,
    gate        VARCHAR NOT NULL,
    threshold   DOUBLE NOT NULL,
    set_by      VARCHAR NOT NULL,
    set_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (model_name, gate)
);
INSERT INTO promotion_requests (
    request_id, model_name, model_version, state, requested_by, requested_by_role,
    requested_at, request_rationale, request_seq
)
SELECT nextval('promotion_request_seq'), a.model_name, a.model_version, 'pending', a.actor,
       a.actor_role, a.recorded_at, a.rationale, a.seq
FROM model_versions v
JOIN audit_log a USING (model_name, model_version)
WHERE v.status = 'pending_approval'
  AND a.to_status = 'pending_approval'
  AND a.seq = (
      SELECT max(seq) FROM audit_log b
      WHERE b.model_name = a.model_name AND b.model_version = a.model_version
        AND b.to_status = 'pending_approval'
  );
"""
