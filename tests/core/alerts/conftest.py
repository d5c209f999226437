"""Fixtures for the alert tests: the demo without its default rules and alerts."""

from __future__ import annotations

import pytest

from vigil.core.govern.auth import User
from vigil.core.store.connection import Store

DANA, ADAM, VIC, RITA = (
    User("dana", "analyst"),
    User("adam", "admin"),
    User("vic", "viewer"),
    User("rita", "approver"),
)
WHY = "Tested on purpose."


@pytest.fixture
def bare(demo_copy: Store) -> Store:
    """A private demo store without rules and alerts, so each test sets the rules it needs."""
    with demo_copy.transaction() as con:
        con.execute("DELETE FROM alerts")
        con.execute("DELETE FROM alert_rules")
    return demo_copy
