"""Helpers shared by command modules: the store, the acting user, passwords, output."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import sys
from typing import Any

from vigil.core.errors import AuthError, VigilError
from vigil.core.govern import auth
from vigil.core.monitor.selection import Segment, Selection
from vigil.core.store.connection import Store


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
    return auth.authenticate(st, args.user, password, client="cli")


def add_range_arguments(p: argparse.ArgumentParser, *, required: bool) -> None:
    """--from / --to (inclusive UTC days) and --segment column=value."""
    p.add_argument(
        "--from", dest="start", type=dt.date.fromisoformat, required=required,
        help="first day (UTC, inclusive), YYYY-MM-DD",
    )  # fmt: skip
    p.add_argument(
        "--to", dest="end", type=dt.date.fromisoformat, required=required,
        help="last day (UTC, inclusive), YYYY-MM-DD",
    )  # fmt: skip
    p.add_argument("--segment", help="restrict to rows where a categorical column = value")


def day_range(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Inclusive days as a [start, end) range of datetimes."""
    return (
        dt.datetime.combine(start, dt.time()),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time()),
    )


def segment_argument(text: str | None) -> Segment | None:
    if text is None:
        return None
    column, sep, value = text.partition("=")
    if not sep or not column.strip():
        raise VigilError(f"--segment {text!r}: write it as column=value, e.g. purpose=car.")
    return Segment(column.strip(), value.strip())


def selection_from_args(args: argparse.Namespace) -> Selection:
    """The Selection named by --model, --version, --from, --to and --segment."""
    return Selection(
        args.model, args.version, *day_range(args.start, args.end), segment_argument(args.segment)
    )


def print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, default=str, sort_keys=False))
