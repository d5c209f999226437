"""README's command table names every command `vigil --help` lists, so neither drifts."""

from __future__ import annotations

import re

from tests.cli.helpers import ROOT
from vigil.cli.main import COMMAND_GROUPS


def test_every_command_is_in_the_readme() -> None:
    table = (ROOT / "README.md").read_text().split("## Command line", 1)[1]
    names = [c.name for group in COMMAND_GROUPS for c in group.commands]
    missing = [n for n in names if not re.search(rf"`(?:vigil )?{re.escape(n)}\b", table)]
    assert missing == []
