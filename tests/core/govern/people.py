"""Users for tests that start from an empty store, created the way Vigil records them."""

from __future__ import annotations

from vigil.core.govern import audit, auth
from vigil.core.store.connection import Store

PASSWORD = "test-password-1"


def add_people(store: Store, roles: dict[str, str]) -> None:
    """Create users with these roles, each with its audit record (as Vigil's own act)."""
    with store.transaction() as con:
        for name, role in roles.items():
            auth.add_user(con, name, role, PASSWORD)
            audit.append(
                con,
                actor=auth.SYSTEM_ACTOR[0],
                actor_role=auth.SYSTEM_ACTOR[1],
                action="user_add",
                rationale="Test setup.",
                evidence={"user": name, "role": role},
            )
