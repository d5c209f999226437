"""Commands: users add (audited; the first admin of an empty store needs no one to vouch) and
users list."""

from __future__ import annotations

import argparse

from vigil.cli.command import Command
from vigil.cli.commands.common import acting_user, add_actor_argument, read_password, store
from vigil.cli.exits import Exit
from vigil.core.errors import AuthError
from vigil.core.govern import audit, auth, users
from vigil.core.store.connection import Store

FIRST_ADMIN = "First admin of an empty store, created from the command line."


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=auth.ROLES)
    p.add_argument(
        "--rationale", help="why this user gets this role (kept in the audit trail; required "
        "except for the first admin)",
    )  # fmt: skip
    add_actor_argument(p)


def _has_admin(st: Store) -> bool:
    with st.connect() as con:
        return con.execute("SELECT 1 FROM users WHERE role = 'admin'").fetchone() is not None


def _first_admin(st: Store, name: str, password: str, rationale: str) -> auth.User:
    """The store has no admin: create one, audited as Vigil itself (nobody else exists)."""
    with st.transaction() as con:
        user = auth.add_user(con, name, "admin", password)
        audit.append(
            con,
            actor=auth.SYSTEM_ACTOR[0],
            actor_role=auth.SYSTEM_ACTOR[1],
            action="user_add",
            rationale=rationale,
            evidence={"user": name, "role": "admin", "source": "command line, empty store"},
        )
    return user


def cmd_users_add(args: argparse.Namespace) -> int:
    st = store()
    if not _has_admin(st):
        if args.role != "admin":
            raise AuthError("The store has no admin yet; add one first (--role admin).")
        password = read_password(f"Password for {args.name}: ", confirm=True)
        user = _first_admin(st, args.name, password, (args.rationale or "").strip() or FIRST_ADMIN)
    else:
        actor = acting_user(args, st)
        auth.require(actor, "manage_users", "add users")
        if not (args.rationale or "").strip():
            raise AuthError("Say why with --rationale: it goes into the audit trail.")
        password = read_password(f"Password for {args.name}: ", confirm=True)
        user = users.add(st, actor, args.name, args.role, password, args.rationale or "")
    print(f"Added {user.username} ({user.role}).")
    return Exit.OK


def cmd_users_list(args: argparse.Namespace) -> int:
    with store().connect() as con:
        for name, role, created, disabled in auth.list_users(con):
            print(f"{name:<16}{role:<10}{created:%Y-%m-%d}{'  disabled' if disabled else ''}")
    return Exit.OK


COMMANDS = (
    Command(
        "users",
        "manage dashboard users",
        subcommands=(
            Command(
                "add",
                "add a user (audited); the password is read from a prompt or stdin",
                _add_arguments,
                cmd_users_add,
            ),
            Command("list", "list users and roles", handler=cmd_users_list),
        ),
    ),
)
