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
}


def get(name: str) -> str:
    """The setting's value from the environment, else its default."""
    setting = SETTINGS[name]
    return os.environ.get(setting.env, setting.default)


def home() -> Path:
    return Path(get("home")).expanduser().resolve()


def lock_timeout_s() -> float:
    return float(get("lock_timeout_s"))
