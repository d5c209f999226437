"""`vigil demo` seeds only an empty store: it creates users and approval records of its own."""

from __future__ import annotations

import pytest

from vigil.cli.main import main
from vigil.core.govern import auth
from vigil.core.store.connection import Store


def test_demo_refuses_a_store_that_has_users(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    with store.transaction() as con:
        auth.add_user(con, "zed", "admin", "a-long-password-1")
    assert main(["demo"]) == 1
    err = capsys.readouterr().err
    assert "already holds models or users" in err
    with store.connect() as con:
        users = [row[0] for row in auth.list_users(con)]
    assert users == ["zed"]  # no demo user was created
