"""Migration 8: the serving gateway's tables: API keys, challenger routes, per-request side data
and per-worker infrastructure metrics.

api_keys: one row per key. The secret itself is never stored: `verifier` is the SHA-256 of the
secret bound to the key's attributes (account, scopes, expiry), so editing a row in the
database (wider scopes, a later expiry) makes the key fail; revoking clears it.
serve_routes: how a challenger takes part in serving (shadow, canary, A/B), who asked, who
approved (canary and A/B need a second person), and when it ends.
serve_predictions: what the prediction-log contract has no column for: the worker that answered,
the request a shadow row belongs to, and the arm that served it.
serve_metrics: CPU, memory, throughput, errors and latency percentiles per worker per minute.
"""

VERSION = 8

SQL = """
CREATE TABLE api_keys (
    key_id      VARCHAR PRIMARY KEY,
    account     VARCHAR NOT NULL,
    scopes      JSON NOT NULL,
    verifier    VARCHAR,
    created_by  VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP,
    revoked_at  TIMESTAMP,
    revoked_by  VARCHAR
);
CREATE SEQUENCE serve_route_seq START 1;
CREATE TABLE serve_routes (
    route_id        BIGINT PRIMARY KEY,
    model_name      VARCHAR NOT NULL,
    model_version   VARCHAR NOT NULL,
    mode            VARCHAR NOT NULL,   -- shadow | canary | ab
    share           DOUBLE NOT NULL,    -- share of traffic the challenger answers (0 for shadow)
    ends_at         TIMESTAMP NOT NULL,
    state           VARCHAR NOT NULL,   -- pending | active | refused | ended
    requested_by    VARCHAR NOT NULL,
    requested_at    TIMESTAMP NOT NULL,
    rationale       VARCHAR NOT NULL,
    request_seq     BIGINT NOT NULL,
    decided_by      VARCHAR,
    decided_at      TIMESTAMP,
    decision_seq    BIGINT,
    ended_by        VARCHAR,
    ended_at        TIMESTAMP,
    end_seq         BIGINT
);
CREATE TABLE serve_predictions (
    model_name    VARCHAR NOT NULL,
    prediction_id VARCHAR NOT NULL,
    request_id    VARCHAR NOT NULL,
    arm           VARCHAR NOT NULL,     -- champion | shadow | canary | ab
    route_id      BIGINT,
    worker        VARCHAR NOT NULL,
    served_at     TIMESTAMP NOT NULL
);
CREATE TABLE serve_metrics (
    minute        TIMESTAMP NOT NULL,
    worker        VARCHAR NOT NULL,
    requests      BIGINT NOT NULL,
    errors        BIGINT NOT NULL,
    rows_scored   BIGINT NOT NULL,
    latency_p50   DOUBLE,
    latency_p95   DOUBLE,
    latency_p99   DOUBLE,
    latency_max   DOUBLE,
    cpu_percent   DOUBLE,
    rss_mb        DOUBLE,
    PRIMARY KEY (minute, worker)
);
"""
