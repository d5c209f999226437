"""Run the gateway module's commands as `vigil` would (its own table, the same error handling),
so these tests do not depend on every other command module importing."""

from __future__ import annotations

import argparse
import sys

import pytest

from vigil.cli.commands import gateway
from vigil.core.errors import VigilError


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="vigil")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in gateway.COMMANDS:
        command.add_to(subparsers)
    args = parser.parse_args(list(argv))
    try:
        code = int(args.handler(args))
    except VigilError as err:
        print(f"error: {err}", file=sys.stderr)
        code = 1
    out, err = capsys.readouterr()
    return code, out, err
