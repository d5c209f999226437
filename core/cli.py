"""The `vigil` command line: the same jobs as the dashboard, for pipelines and CI.

Commands live in core/commands/*.py; each module has `add_commands(subparsers)`. Every
handler returns an exit code; VigilError messages go to stderr with exit code 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from collections.abc import Sequence
from typing import Any

import core.commands
from core.errors import VigilError

# The order `vigil --help` lists command groups in: the data path first, decisions last.
COMMAND_ORDER = ["foundation", "drift", "monitoring", "responsible", "governance"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vigil",
        description="Vigil: monitoring and governance for models in production.",
        epilog="The store is data/vigil.duckdb unless VIGIL_HOME names another folder.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    names = [info.name for info in pkgutil.iter_modules(core.commands.__path__)]
    for name in sorted(
        names, key=lambda n: (COMMAND_ORDER.index(n) if n in COMMAND_ORDER else 99, n)
    ):
        module = importlib.import_module(f"core.commands.{name}")
        module.add_commands(subparsers)
    return parser


def print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, default=str, sort_keys=False))


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
