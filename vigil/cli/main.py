"""The `vigil` command line: the same jobs as the dashboard, for pipelines and CI.

COMMAND_GROUPS lists the modules of vigil/cli/commands/ in the order `vigil --help` shows
them (the data path first, decisions last); each has `add_commands(subparsers)`. Every
handler returns an exit code; VigilError messages go to stderr with exit code 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vigil.cli.commands import drift, foundation, gateway, governance, monitoring, responsible
from vigil.core.errors import VigilError

COMMAND_GROUPS = (foundation, drift, monitoring, responsible, governance, gateway)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vigil",
        description="Vigil: monitoring and governance for models in production.",
        epilog="The store is data/vigil.duckdb unless VIGIL_HOME names another folder.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in COMMAND_GROUPS:
        group.add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except VigilError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
