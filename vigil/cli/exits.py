"""Exit codes, the same for every command, so a pipeline can tell the cases apart."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0  # done; every rule or gate passed
    ERROR = 1  # something is wrong: the message on stderr says what
    USAGE = 2  # the command line itself is malformed (argparse)
    FAILED = 3  # a rule or gate failed
    NO_DATA = 4  # not enough data to judge (see `vigil check --on-no-data`)
