"""Settings in one declarative table, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    env: str
    default: str
    help: str


SETTINGS: dict[str, Setting] = {
    "home": Setting(
        "VIGIL_HOME",
        str(REPO_ROOT / "data"),
        "Folder holding the DuckDB store (vigil.duckdb) and copied model artifacts.",
    ),
    "lock_timeout_s": Setting(
        "VIGIL_LOCK_TIMEOUT",
        "60",
        "Seconds to wait for another process (an ingest, the dashboard) to release the store.",
    ),
    "page_lock_timeout_s": Setting(
        "VIGIL_PAGE_LOCK_TIMEOUT",
        "1.5",
        "Seconds a dashboard page waits for the store (an ingest holds it about half a second "
        "at a time); past it the page shows its last results, saying from when.",
    ),
    "memory_limit": Setting(
        "VIGIL_MEMORY_LIMIT",
        "1500MB",
        "DuckDB memory cap for heavy units of work (ingest, profiling, drift); beyond it they "
        "spill to disk under VIGIL_HOME/tmp. A DuckDB size such as 4GB; empty for no cap.",
    ),
    "admin_user": Setting(
        "VIGIL_ADMIN_USER",
        "",
        "If set with VIGIL_ADMIN_PASSWORD and the store has no admin, this admin is created.",
    ),
    "admin_password": Setting("VIGIL_ADMIN_PASSWORD", "", "Password for VIGIL_ADMIN_USER."),
    "demo_password": Setting(
        "VIGIL_DEMO_PASSWORD",
        "",
        "Password given to every demo user; when empty each demo user gets a random one.",
    ),
    "bind_address": Setting(
        "VIGIL_BIND_ADDRESS",
        "127.0.0.1",
        "Address `vigil serve` listens on. 127.0.0.1 keeps the dashboard on this machine; "
        "0.0.0.0 opens it to the network (set VIGIL_TLS_CERT and VIGIL_TLS_KEY then).",
    ),
    "tls_cert": Setting(
        "VIGIL_TLS_CERT", "", "PEM certificate for the dashboard's HTTPS (with VIGIL_TLS_KEY)."
    ),
    "tls_key": Setting("VIGIL_TLS_KEY", "", "PEM private key of VIGIL_TLS_CERT."),
    "api_key_days": Setting(
        "VIGIL_API_KEY_DAYS", "90", "Days an API key lives unless `vigil keys create` says."
    ),
    "gateway_tls_cert": Setting(
        "VIGIL_GATEWAY_TLS_CERT", "", "PEM certificate for the gateway's TLS (with the key)."
    ),
    "gateway_tls_key": Setting(
        "VIGIL_GATEWAY_TLS_KEY", "", "PEM private key for the gateway's TLS certificate."
    ),
    "gateway_jwt_public_key": Setting(
        "VIGIL_GATEWAY_JWT_PUBLIC_KEY",
        "",
        "PEM file of the OAuth2 issuer's public key; empty: bearer JWTs are not accepted.",
    ),
    "gateway_jwt_issuer": Setting(
        "VIGIL_GATEWAY_JWT_ISSUER", "", "Required `iss` of bearer JWTs (empty: not checked)."
    ),
    "gateway_jwt_audience": Setting(
        "VIGIL_GATEWAY_JWT_AUDIENCE", "vigil-gateway", "Required `aud` of bearer JWTs."
    ),
    "gateway_rate_limit": Setting(
        "VIGIL_GATEWAY_RATE_LIMIT",
        "100000",
        "Requests per minute one key (or JWT subject) may make, per worker; 0 for no limit.",
    ),
    "gateway_max_batch": Setting(
        "VIGIL_GATEWAY_MAX_BATCH", "10000", "Most instances one predict request may carry."
    ),
    "gateway_max_body_mb": Setting(
        "VIGIL_GATEWAY_MAX_BODY_MB", "16", "Largest predict request body, in megabytes."
    ),
    "gateway_poll_s": Setting(
        "VIGIL_GATEWAY_POLL_S",
        "0.5",
        "How often the gateway looks for a new registry state (and ingests its spool), seconds.",
    ),
    "gateway_fsync": Setting(
        "VIGIL_GATEWAY_FSYNC",
        "batch",
        "batch: a request's log rows are written (safe from a killed worker) before it is "
        "answered and fsync'd within 0.2 s; request: answered only after the fsync (safe from "
        "power loss too, slower).",
    ),
    "mode": Setting(
        "VIGIL_MODE",
        "development",
        "development or production. In production the dashboard and every command that "
        "changes the store refuse to run without an audit key.",
    ),
    "audit_key": Setting(
        "VIGIL_AUDIT_KEY",
        "",
        "The audit chain's HMAC key itself (at least 32 characters); overrides the key file.",
    ),
    "audit_key_file": Setting(
        "VIGIL_AUDIT_KEY_FILE",
        "~/.config/vigil/audit.key",
        "File holding the audit chain's HMAC key (mode 0600, outside VIGIL_HOME); "
        "`vigil init` creates it.",
    ),
    "checkpoint_file": Setting(
        "VIGIL_CHECKPOINT_FILE",
        "",
        "Append-only file of signed audit checkpoints (record count + head hash); empty: "
        "checkpoints.jsonl beside the key file.",
    ),
    "login_free_attempts": Setting(
        "VIGIL_LOGIN_FREE_ATTEMPTS",
        "3",
        "Failed sign-ins an account, a client or a pair of them may have before delays start.",
    ),
    "login_delay_base_s": Setting(
        "VIGIL_LOGIN_DELAY_BASE", "1", "First sign-in delay in seconds; it doubles per failure."
    ),
    "login_delay_max_s": Setting(
        "VIGIL_LOGIN_DELAY_MAX",
        "300",
        "Longest sign-in delay in seconds: accounts slow down but are never locked.",
    ),
    "login_trust_days": Setting(
        "VIGIL_LOGIN_TRUST_DAYS",
        "30",
        "Days a client an account signed in from stays exempt from delays strangers cause.",
    ),
    "ingest_past_days": Setting(
        "VIGIL_INGEST_PAST_DAYS",
        "365",
        "Rows time-stamped more than this many days before their version's training date (or "
        "registration, if earlier) are quarantined: a year 0001 or a 1970 default is a bug.",
    ),
    "ingest_future_hours": Setting(
        "VIGIL_INGEST_FUTURE_HOURS",
        "24",
        "Rows time-stamped more than this many hours after the ingest are quarantined "
        "(a 9999-12-31 placeholder, a clock set wrong).",
    ),
    "store_key": Setting(
        "VIGIL_STORE_KEY",
        "",
        "Encrypt the store at rest (DuckDB AES-GCM) with this key; overrides the key file. "
        "Without a key, the store is plain.",
    ),
    "store_key_file": Setting(
        "VIGIL_STORE_KEY_FILE",
        "",
        "File holding the store's encryption key (mode 0600, outside VIGIL_HOME).",
    ),
    "store_unsafe_crypto": Setting(
        "VIGIL_STORE_UNSAFE_CRYPTO",
        "",
        "Set to 1 to write an encrypted store without OpenSSL (DuckDB's httpfs extension): "
        "DuckDB's built-in crypto then draws nonces from a weak generator. For tests only.",
    ),
    "session_idle_minutes": Setting(
        "VIGIL_SESSION_IDLE_MINUTES",
        "30",
        "Minutes without any click after which the dashboard signs a session out.",
    ),
    "new_approver_hours": Setting(
        "VIGIL_NEW_APPROVER_HOURS",
        "72",
        "Hours during which a user created, given a role or re-enabled may not approve (or "
        "confirm) what the admin who did it is party to: no approving through a sock puppet.",
    ),
    "exact_max_distinct": Setting(
        "VIGIL_EXACT_MAX_DISTINCT",
        "10000",
        "Distinct values a numeric column may have in a day for its KS and Wasserstein to stay "
        "exact; above it they come from 4,096 reference-quantile bins, reported with their "
        "error bound. Empty: always exact (cold reports then sort every distinct value).",
    ),
    "robustness_step": Setting(
        "VIGIL_ROBUSTNESS_STEP",
        "0.05",
        "How far the robustness gate moves each numeric input of a candidate: this fraction of "
        "its standard deviation in the reference data (integers move by at least one).",
    ),
    "robustness_rows": Setting(
        "VIGIL_ROBUSTNESS_ROWS",
        "500",
        "Live predictions (of the last 30 days) the robustness and monotonic gates sample.",
    ),
}


def get(name: str) -> str:
    """The setting's value from the environment, else its default."""
    setting = SETTINGS[name]
    return os.environ.get(setting.env, setting.default)


def home() -> Path:
    return Path(get("home")).expanduser().resolve()


def lock_timeout_s() -> float:
    return float(get("lock_timeout_s"))


def page_lock_timeout_s() -> float:
    return float(get("page_lock_timeout_s"))
