"""Disparity rules between groups, defined once: the four-fifths (adverse impact) rule.

US employment and lending practice (the EEOC's Uniform Guidelines) reads a group's selection
rate below four fifths of the most favoured group's as evidence of adverse impact. Fairness
reports, the fairness gate and the fairness alerts all call `four_fifths`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

FOUR_FIFTHS = 0.8
RULE_NAME = "four-fifths rule"  # how sentences name it ("meets the four-fifths rule")


class RuleOutcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    MOST_FAVOURED = "most_favoured"
    UNDEFINED = "undefined"


@dataclass(frozen=True)
class FourFifths:
    """One group's selection rate against the most favoured group's."""

    ratio: float | None
    outcome: RuleOutcome

    def sentence(self, group: str, reference_group: str) -> str:
        if self.outcome is RuleOutcome.MOST_FAVOURED:
            return f"{group} has the highest approval rate."
        if self.ratio is None:
            return f"{group}: approval rate not defined, so the rule cannot be applied."
        verb = "below" if self.outcome is RuleOutcome.FAIL else "meets"
        return (
            f"{group} is approved at {self.ratio:.0%} of the rate of {reference_group}: "
            f"{verb} the {RULE_NAME}."
        )


def four_fifths(
    rate: float | None, highest_rate: float | None, *, threshold: float = FOUR_FIFTHS
) -> FourFifths:
    """The rule for one group, given its rate and the highest rate among eligible groups."""
    if rate is None or highest_rate is None or math.isnan(rate) or math.isnan(highest_rate):
        return FourFifths(None, RuleOutcome.UNDEFINED)
    if highest_rate <= 0:
        return FourFifths(None, RuleOutcome.UNDEFINED)
    ratio = rate / highest_rate
    if rate == highest_rate:
        return FourFifths(1.0, RuleOutcome.MOST_FAVOURED)
    return FourFifths(ratio, RuleOutcome.FAIL if ratio < threshold else RuleOutcome.PASS)


def passes(ratio: float | None, *, threshold: float = FOUR_FIFTHS) -> bool | None:
    """For a disparity ratio (lowest / highest rate): True, False, or None when undefined."""
    if ratio is None or math.isnan(ratio):
        return None
    return ratio >= threshold
