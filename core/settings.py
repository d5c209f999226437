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
}


def get(name: str) -> str:
    """The setting's value from the environment, else its default."""
    setting = SETTINGS[name]
    return os.environ.get(setting.env, setting.default)


def home() -> Path:
    return Path(get("home")).expanduser().resolve()


def lock_timeout_s() -> float:
    return float(get("lock_timeout_s"))
