"""The levels every verdict is drawn in, on the Overview, the pages, the CLI and the reports."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    """How much a reader must do about a line: nothing, keep an eye on it, act, or n/a."""

    OK = "ok"
    WATCH = "watch"
    ACT = "act"
    INFO = "info"

    @property
    def word(self) -> str:
        return {"ok": "OK", "watch": "Watch", "act": "Act", "info": "No verdict"}[self.value]

    @staticmethod
    def worst(levels: list[Level]) -> Level:
        order = [Level.INFO, Level.OK, Level.WATCH, Level.ACT]
        return max(levels, key=order.index, default=Level.INFO)
