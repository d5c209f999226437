"""The store's schema: every migration, listed in the order it is applied.

Each migration is a module in core/store/schema/ named `mNNN_<what>.py` with `VERSION = NNN`
and `SQL = "..."`. A new capability adds its module and appends it here. Never edit a shipped
migration; add a new one.
"""

from __future__ import annotations

from vigil.core.store.schema import (
    m001_foundation,
    m002_profiles,
    m003_alerts,
    m004_governance,
    m005_policy,
    m006_sign_in,
    m007_pending_batches,
    m008_serving,
    m009_alert_actions,
    m011_evidence,
    m012_lake_profiles,
)

MIGRATIONS: tuple[tuple[int, str], ...] = tuple(
    (module.VERSION, module.SQL)
    for module in (
        m001_foundation,
        m002_profiles,
        m003_alerts,
        m004_governance,
        m005_policy,
        m006_sign_in,
        m007_pending_batches,
        m008_serving,
        m009_alert_actions,
        m011_evidence,
        m012_lake_profiles,
    )
)
LATEST_VERSION = MIGRATIONS[-1][0]
