"""Helpers shared by command modules: the store, the acting user, passwords, output."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from core import auth
from core.errors import AuthError
from core.store import Store


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """This module only holds helpers."""


def store() -> Store:
    return Store.default()


def read_password(prompt: str, *, confirm: bool = False) -> str:
    """From a terminal prompt, else the first line of standard input; never an argument."""
    if sys.stdin.isatty():
        password = getpass.getpass(prompt)
        if confirm and getpass.getpass("Repeat: ") != password:
            raise AuthError("The two passwords differ.")
        return password
    line = sys.stdin.readline()
    if not line:
        raise AuthError(f"{prompt.strip(': ')} expected on standard input, got nothing.")
    return line.rstrip("\n")


def add_actor_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user",
        default=os.environ.get("VIGIL_USER"),
        help="acting user (default $VIGIL_USER); password from $VIGIL_PASSWORD, a prompt, or stdin",
    )


def acting_user(args: argparse.Namespace, st: Store) -> auth.User:
    """Authenticate the acting user: every change is recorded under a real identity."""
    if not args.user:
        raise AuthError("This command changes the store: name the acting user with --user NAME.")
    password = os.environ.get("VIGIL_PASSWORD") or read_password(f"Password for {args.user}: ")
    return auth.authenticate(st, args.user, password)
