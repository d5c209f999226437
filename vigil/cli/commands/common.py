"""Helpers shared by command modules: the store, the acting user, selections, output."""

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
from vigil.core.monitor.selection import Segment, Selection, segment_columns
from vigil.core.results import to_jsonable
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


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


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
    add_segment_argument(p)


def add_segment_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--segment", metavar="COLUMN=VALUE", help="only rows where a categorical column = value"
    )


def day_range(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Inclusive days as a [start, end) range of datetimes."""
    return (
        dt.datetime.combine(start, dt.time()),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time()),
    )


def segment_argument(st: Store, model_name: str, version: str, text: str | None) -> Segment | None:
    """--segment COLUMN=VALUE, checked against the version's categorical columns."""
    if text is None:
        return None
    column, sep, value = text.partition("=")
    column = column.strip()
    if not sep or not column:
        raise VigilError(f"--segment {text!r}: write it as COLUMN=VALUE, e.g. purpose=car.")
    with st.connect() as con:
        columns = segment_columns(con, model_name, version)
    if column not in columns:
        raise VigilError(
            f"--segment {text!r}: '{column}' is not a categorical column of {model_name} "
            f"{version}; segment by one of: {', '.join(columns) or 'none (it has no categorical column)'}."
        )
    return Segment(column, value.strip())


def selection_from_args(args: argparse.Namespace, st: Store | None = None) -> Selection:
    """The Selection named by --model, --version, --from, --to and --segment."""
    st = st or store()
    segment = segment_argument(st, args.model, args.version, args.segment)
    return Selection(args.model, args.version, *day_range(args.start, args.end), segment)


def print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, default=str, sort_keys=False))


def print_results(payload: Any) -> None:
    """Typed results (frozen dataclasses, enums, dates) as JSON, through core.results."""
    print(json.dumps(to_jsonable(payload), indent=2))


def fmt(value: float | None, digits: int = 4) -> str:
    """A number for a text table, '–' when there is none."""
    return "–" if value is None else f"{value:.{digits}g}"
