"""The command table: every command listed once in `vigil --help`, every module wired, help
for every command and sub-command, and clear messages instead of tracebacks."""

from __future__ import annotations

import argparse
import re

import pytest

from tests.cli.helpers import ROOT
from vigil.cli.command import Command
from vigil.cli.main import COMMAND_GROUPS, build_parser, main
from vigil.core.store.connection import Store


def _every(commands: tuple[Command, ...], prefix: tuple[str, ...] = ()):
    for command in commands:
        path = (*prefix, command.name)
        yield path, command
        yield from _every(command.subcommands, path)


ALL = [path for group in COMMAND_GROUPS for path, _ in _every(group.commands)]


def test_help_lists_every_command_once_by_group(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    listed = re.findall(r"^  ([a-z-]+) {2,}", out, flags=re.MULTILINE)
    top = [c.name for group in COMMAND_GROUPS for c in group.commands]
    assert listed == top and len(set(top)) == len(top)
    for group in COMMAND_GROUPS:
        assert f"\n{group.title}:\n" in out
    assert "Exit codes: 0 pass, 1 error, 2 usage, 3 a rule or gate failed, 4 no data" in out


def test_every_command_module_is_in_the_table() -> None:
    modules = {
        command.handler.__module__.rsplit(".", 1)[1]
        for group in COMMAND_GROUPS
        for _, command in _every(group.commands)
        if command.handler is not None
    }
    files = {p.stem for p in (ROOT / "vigil/cli/commands").glob("*.py")} - {"__init__", "common"}
    assert modules == files


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([*path, "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: vigil {' '.join(path)}")


def test_a_command_either_runs_or_holds_sub_commands() -> None:
    for path in ALL:
        command = dict((p, c) for group in COMMAND_GROUPS for p, c in _every(group.commands))[path]
        assert (command.handler is None) == bool(command.subcommands), path


def test_a_malformed_command_line_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["check"])
    assert done.value.code == 2
    assert "the following arguments are required: --model" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [
        ["performance", "--model", "credit-risk"],
        ["service", "--model", "credit-risk"],
        ["drift", "--model", "credit-risk", "--version", "1.0", "--from", "2026-11-01",
         "--to", "2026-11-07"],
        ["fairness", "--model", "credit-risk", "--version", "1.0", "--from", "2026-11-01",
         "--to", "2026-11-07", "--resamples", "0"],
    ],
    ids=lambda c: c[0],
)  # fmt: skip
def test_an_unknown_segment_column_gets_a_message(
    demo_store: Store,
    command: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIGIL_HOME", str(demo_store.home))
    assert main([*command, "--segment", "colour=red"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "error: --segment 'colour=red': 'colour' is not a categorical column of credit-risk "
        "1.0; segment by one of: sex, housing, "
    )
    assert "Traceback" not in err
    assert main([*command, "--segment", "sex"]) == 1
    assert capsys.readouterr().err == (
        "error: --segment 'sex': write it as COLUMN=VALUE, e.g. purpose=car.\n"
    )


def test_subcommand_defaults_reach_the_handler() -> None:
    parser = build_parser()
    args = parser.parse_args(["rules", "disable", "3", "--rationale", "r"])
    assert isinstance(args, argparse.Namespace) and args.enabled is False
    args = parser.parse_args(["alerts", "snooze", "4", "--note", "n", "--until", "2030-01-01"])
    assert args.act == "snooze"
