"""Commands: init (create or migrate the store) and demo (seed the demo model and traffic)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from vigil.cli.command import Command
from vigil.cli.commands.common import add_json_argument, print_results, store
from vigil.cli.exits import Exit
from vigil.core import settings
from vigil.core.demo import seed as demo_seed
from vigil.core.govern import audit_report


def cmd_init(args: argparse.Namespace) -> int:
    st = store()
    with st.connect():
        pass
    print(f"Store ready at {st.db_path}")
    for line in audit_report.initialise(st).summary():
        print(line)
    return Exit.OK


def _demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--end", type=dt.date.fromisoformat, help="day after the last simulated day")
    add_json_argument(p)


def cmd_demo(args: argparse.Namespace) -> int:
    st = store()
    if demo_seed.is_seeded(st):
        print("The demo is already in this store; nothing to do.")
        return Exit.OK
    if not demo_seed.is_empty(st):
        print(
            f"error: {st.db_path} already holds models or users. The demo creates users and "
            "approval records of its own, so it only seeds an empty store: point VIGIL_HOME "
            "at a new folder.",
            file=sys.stderr,
        )
        return Exit.ERROR
    report = demo_seed.seed(st, end=args.end, password=settings.get("demo_password") or None)
    if args.json:
        print_results({"passwords": report.passwords, "ingests": report.ingests})
    else:
        print(report.summary())
    return Exit.OK


COMMANDS = (
    Command("init", "create or migrate the store", handler=cmd_init),
    Command("demo", "seed the demo model, users and 90 days of traffic", _demo_arguments, cmd_demo),
)
