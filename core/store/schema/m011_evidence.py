"""Migration 11: the evidence a supervisor asks for, per model rather than per version.

model_inventory holds the model-level inventory entry (materiality tier, owner, independent
validator, validation status and date, vendor model, intended use and limitations, EU AI Act
role and risk class, post-model adjustments). A model without a row shows the values of its
champion (or newest) version's metadata until someone records an entry. `row_version` goes
up on every change so an edit made on a stale page is refused.
evidence_policy holds the settable policies: review cadence in months per materiality tier
and the retention of raw prediction logs in months. Absent rows mean the documented default.
findings is the register of validation and monitoring findings; closing one takes a proposal
with evidence and a second person's confirmation, both recorded in the audit log.
"""

VERSION = 11

SQL = """
CREATE TABLE model_inventory (
    model_name             VARCHAR PRIMARY KEY,
    materiality_tier       VARCHAR,
    owner                  VARCHAR,
    validator              VARCHAR,
    validation_status      VARCHAR NOT NULL,
    validation_date        DATE,
    vendor_model           BOOLEAN NOT NULL,
    vendor_name            VARCHAR,
    intended_use           VARCHAR,
    limitations            VARCHAR,
    ai_act_role            VARCHAR,
    ai_act_risk_class      VARCHAR,
    post_model_adjustments VARCHAR,
    row_version            INTEGER NOT NULL,
    updated_by             VARCHAR NOT NULL,
    updated_at             TIMESTAMP NOT NULL
);
CREATE TABLE evidence_policy (
    name    VARCHAR PRIMARY KEY,
    value   VARCHAR NOT NULL,
    set_by  VARCHAR NOT NULL,
    set_at  TIMESTAMP NOT NULL
);
CREATE SEQUENCE finding_seq START 1;
CREATE TABLE findings (
    finding_id          BIGINT PRIMARY KEY,
    model_name          VARCHAR NOT NULL,
    model_version       VARCHAR,
    source              VARCHAR NOT NULL,   -- validation | monitoring
    severity            VARCHAR NOT NULL,   -- high | medium | low
    title               VARCHAR NOT NULL,
    description         VARCHAR NOT NULL,
    owner               VARCHAR NOT NULL,
    remediation_plan    VARCHAR NOT NULL,
    due_date            DATE NOT NULL,
    status              VARCHAR NOT NULL,   -- open | closure_proposed | closed
    opened_by           VARCHAR NOT NULL,
    opened_at           TIMESTAMP NOT NULL,
    closure_evidence    VARCHAR,
    closure_proposed_by VARCHAR,
    closure_proposed_at TIMESTAMP,
    closed_by           VARCHAR,
    closed_at           TIMESTAMP,
    closure_rationale   VARCHAR,
    row_version         INTEGER NOT NULL
);
"""
