"""The `vigil` command line: the same jobs as the dashboard, for pipelines and CI.

COMMAND_GROUPS is the whole command table, in the order `vigil --help` lists it: the data
path first, decisions last. Each module of vigil/cli/commands/ holds its rows in `COMMANDS`
(`vigil.cli.command.Command`: name, help, arguments, handler). Every handler returns an exit
code (`vigil.cli.exits.Exit`); a VigilError's message goes to stderr with exit code 1; a
malformed command line exits 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vigil.cli.command import CommandGroup
from vigil.cli.commands import (
    alerts,
    drift,
    evidence,
    gateway,
    governance,
    ingest,
    lake,
    monitoring,
    registry,
    responsible,
    serve,
    setup,
    users,
)
from vigil.cli.exits import Exit
from vigil.core.errors import VigilError

COMMAND_GROUPS: tuple[CommandGroup, ...] = (
    CommandGroup("Set up and serve", (*setup.COMMANDS, *serve.COMMANDS)),
    CommandGroup("Registry", registry.COMMANDS),
    CommandGroup("Ingest", ingest.COMMANDS),
    CommandGroup("Data lake", lake.COMMANDS),
    CommandGroup("Users", users.COMMANDS),
    CommandGroup("Drift", drift.COMMANDS),
    CommandGroup("Performance and service", monitoring.COMMANDS),
    CommandGroup("Alerts", alerts.COMMANDS),
    CommandGroup("Responsible AI", responsible.COMMANDS),
    CommandGroup("Govern", governance.COMMANDS),
    CommandGroup("Evidence", evidence.COMMANDS),
    CommandGroup("Gateway", gateway.COMMANDS),
)


def _listing() -> str:
    """The commands by group, for `vigil --help`."""
    lines = []
    for group in COMMAND_GROUPS:
        lines.append(f"{group.title}:")
        lines += [f"  {c.name:<20}{c.help}" for c in group.commands]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vigil",
        description="Vigil: monitoring and governance for models in production.\n\n" + _listing(),
        epilog="The store is data/vigil.duckdb unless VIGIL_HOME names another folder. Exit "
        "codes: 0 pass, 1 error, 2 usage, 3 a rule or gate failed, 4 no data to judge.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in COMMAND_GROUPS:
        for command in group.commands:
            command.add_to(subparsers, listed=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except VigilError as err:
        print(f"error: {err}", file=sys.stderr)
        return Exit.ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
