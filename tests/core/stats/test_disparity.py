"""The one four-fifths rule: a group's rate against the most favoured group's."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.core.stats.disparity import FOUR_FIFTHS, RULE_NAME, RuleOutcome, four_fifths, passes


@given(
    rate=st.floats(0, 1, allow_nan=False),
    highest=st.floats(0.001, 1, allow_nan=False),
)
def test_ratio_and_outcome_against_the_definition(rate: float, highest: float) -> None:
    rate = min(rate, highest)
    rule = four_fifths(rate, highest)
    if rate == highest:
        assert (rule.ratio, rule.outcome) == (1.0, RuleOutcome.MOST_FAVOURED)
    else:
        assert rule.ratio == pytest.approx(rate / highest, rel=1e-15)
        expected = RuleOutcome.FAIL if rate / highest < FOUR_FIFTHS else RuleOutcome.PASS
        assert rule.outcome is expected
        assert passes(rule.ratio) is (expected is RuleOutcome.PASS)


def test_edges_and_undefined_cases() -> None:
    assert four_fifths(0.4, 0.5).outcome is RuleOutcome.PASS  # exactly four fifths meets it
    assert four_fifths(0.39, 0.5).outcome is RuleOutcome.FAIL
    for rate, highest in ((None, 0.5), (0.5, None), (math.nan, 0.5), (0.1, 0.0)):
        assert four_fifths(rate, highest) == four_fifths(None, None)
        assert four_fifths(rate, highest).outcome is RuleOutcome.UNDEFINED
    assert passes(None) is None and passes(math.nan) is None
    assert four_fifths(0.3, 0.5).sentence("age <25", "age 35–49") == (
        f"age <25 is approved at 60% of the rate of age 35–49: below the {RULE_NAME}."
    )
