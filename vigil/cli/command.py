"""One row of the command table: a name, its help, how it declares its arguments, its handler.

A command either runs a handler or holds sub-commands (`vigil rules add`). Handlers take the
parsed arguments and return an exit code (`vigil.cli.exits.Exit`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Handler = Callable[[argparse.Namespace], int]
Arguments = Callable[[argparse.ArgumentParser], None]


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """For a command that takes none."""


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    arguments: Arguments = no_arguments
    handler: Handler | None = None
    description: str | None = None
    subcommands: tuple[Command, ...] = ()
    defaults: tuple[tuple[str, Any], ...] = ()  # extra values the handler reads from args

    def add_to(
        self,
        subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
        *,
        listed: bool = True,
    ) -> None:
        """Add this command (and its sub-commands) to a parser. `listed` False: the parent's
        help lists it itself (`vigil --help` lists commands by group)."""
        description = self.description or _sentence(self.help)
        if listed:
            parser = subparsers.add_parser(self.name, help=self.help, description=description)
        else:
            parser = subparsers.add_parser(self.name, description=description)
        self.arguments(parser)
        if self.subcommands:
            actions = parser.add_subparsers(
                dest=f"{self.name}_action", metavar="ACTION", required=True
            )
            for sub in self.subcommands:
                sub.add_to(actions)
        else:
            parser.set_defaults(handler=self.handler, **dict(self.defaults))


@dataclass(frozen=True)
class CommandGroup:
    """Commands `vigil --help` lists together under a title."""

    title: str
    commands: tuple[Command, ...]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
