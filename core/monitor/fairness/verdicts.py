"""Each group against the most favoured one by the four-fifths rule (core.stats.disparity),
the disparities between groups, an attribute's verdict and its plain-language statements.

Small groups: a group with fewer than MIN_GROUP_ROWS rows gets a warning instead of a verdict
and is left out of demographic parity; a group with fewer than MIN_GROUP_OUTCOMES labelled
positives or negatives is left out of equalized odds (its TPR or FPR is too noisy, or
undefined). With fewer than two groups left, the disparity is not computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from vigil.core.monitor.fairness.groups import value_at
from vigil.core.monitor.fairness.results import (
    MIN_GROUP_OUTCOMES,
    MIN_GROUP_ROWS,
    AttributeFairness,
    Disparities,
    GroupMetrics,
    GroupStatus,
    Verdict,
)
from vigil.core.stats.disparity import FOUR_FIFTHS, RuleOutcome, four_fifths

RULE = f"{FOUR_FIFTHS} rule"  # how pages and statements name the four-fifths rule
_STATUS = {
    RuleOutcome.PASS: GroupStatus.PASS,
    RuleOutcome.FAIL: GroupStatus.FAIL,
    RuleOutcome.MOST_FAVOURED: GroupStatus.MOST_FAVOURED,
}


@dataclass(frozen=True)
class _Counted:
    """A group's counts and metrics before it is judged against the others."""

    group: str
    rows: int
    selected: int
    selection_rate: float | None
    labelled: int
    positives: int
    negatives: int
    tpr: float | None
    fpr: float | None
    precision: float | None
    accuracy: float | None

    @property
    def eligible(self) -> bool:
        return self.rows >= MIN_GROUP_ROWS and self.selection_rate is not None


def _counted(
    table: pd.DataFrame, everyone: pd.DataFrame, outcomes: pd.DataFrame, group: str, key: object
) -> _Counted:
    c = table.loc[key]
    positives, negatives = int(c["tp"] + c["fn"]), int(c["fp"] + c["tn"])
    return _Counted(
        group=group,
        rows=int(c["rows"]),
        selected=int(c["selected"]),
        selection_rate=value_at(everyone, key, "selection_rate", c["rows"] > 0),
        labelled=int(c["labelled"]),
        positives=positives,
        negatives=negatives,
        tpr=value_at(outcomes, key, "tpr", positives > 0),
        fpr=value_at(outcomes, key, "fpr", negatives > 0),
        precision=value_at(outcomes, key, "precision", c["tp"] + c["fp"] > 0),
        accuracy=value_at(outcomes, key, "accuracy", c["labelled"] > 0),
    )


def _warnings(g: _Counted) -> tuple[str, ...]:
    notes = []
    if g.rows < MIN_GROUP_ROWS:
        notes.append(f"only {g.rows} predictions (fewer than {MIN_GROUP_ROWS}): no verdict")
    if g.labelled and (g.positives < MIN_GROUP_OUTCOMES or g.negatives < MIN_GROUP_OUTCOMES):
        notes.append(
            f"{g.positives} labelled positives and {g.negatives} negatives (fewer "
            f"than {MIN_GROUP_OUTCOMES} of one): left out of equalized odds"
        )
    if g.positives == 0 and g.labelled:
        notes.append("no labelled positives: TPR is undefined")
    return tuple(notes)


def groups(
    table: pd.DataFrame,
    everyone: pd.DataFrame,
    outcomes: pd.DataFrame,
    order: list[str],
    prefix: tuple[object, ...] = (),
) -> list[GroupMetrics]:
    """GroupMetrics for each group, then four-fifths statuses against the top eligible group."""
    counted = [
        _counted(table, everyone, outcomes, group, (*prefix, group) if prefix else group)
        for group in order
        if ((*prefix, group) if prefix else group) in table.index
    ]
    top = max(
        (g for g in counted if g.eligible), key=lambda g: g.selection_rate or 0.0, default=None
    )
    highest = None if top is None else top.selection_rate
    result = []
    for g in counted:
        rule = four_fifths(g.selection_rate, highest) if g.eligible else None
        if rule is None or rule.outcome is RuleOutcome.UNDEFINED:
            ratio = None
            status = GroupStatus.TOO_SMALL if g.rows < MIN_GROUP_ROWS else GroupStatus.PASS
        else:
            ratio, status = rule.ratio, _STATUS[rule.outcome]
        result.append(
            GroupMetrics(
                **vars(g), ratio_to_most_favoured=ratio, status=status, warnings=_warnings(g)
            )
        )
    return result


def disparities(found: list[GroupMetrics]) -> Disparities:
    """Demographic parity over groups large enough, equalized odds over groups with enough
    labelled positives and negatives; None with fewer than two such groups."""
    dp = [g for g in found if g.rows >= MIN_GROUP_ROWS and g.selection_rate is not None]
    eo = [
        g
        for g in found
        if g.positives >= MIN_GROUP_OUTCOMES
        and g.negatives >= MIN_GROUP_OUTCOMES
        and g.tpr is not None
        and g.fpr is not None
    ]
    dpd = dpr = eod = eor = None
    if len(dp) >= 2:
        selection = [g.selection_rate for g in dp if g.selection_rate is not None]
        dpd = max(selection) - min(selection)
        dpr = min(selection) / max(selection) if max(selection) > 0 else None
    if len(eo) >= 2:
        tpr = [g.tpr for g in eo if g.tpr is not None]
        fpr = [g.fpr for g in eo if g.fpr is not None]
        eod = max(max(tpr) - min(tpr), max(fpr) - min(fpr))
        eor = min(min(v) / max(v) if max(v) > 0 else 1.0 for v in (tpr, fpr))
    return Disparities(dpd, dpr, eod, eor, tuple(g.group for g in dp), tuple(g.group for g in eo))


def verdict(found: list[GroupMetrics]) -> Verdict:
    judged = [g for g in found if g.ratio_to_most_favoured is not None]
    if len(judged) < 2:
        return Verdict.INSUFFICIENT
    return Verdict.FAIL if any(g.status == GroupStatus.FAIL for g in judged) else Verdict.PASS


def statements(item: AttributeFairness, outcome: str = "Approval rate") -> tuple[str, ...]:
    """Plain-language verdicts, one per group judged against the most favoured group."""
    lines = []
    top = next((g for g in item.groups if g.status == GroupStatus.MOST_FAVOURED), None)
    if top is None or item.verdict == Verdict.INSUFFICIENT:
        lines.append(
            f"{item.name}: not enough groups with {MIN_GROUP_ROWS} or more predictions to "
            f"apply the {RULE}."
        )
    else:
        for g in item.groups:
            ratio = g.ratio_to_most_favoured
            if g.status in (GroupStatus.PASS, GroupStatus.FAIL) and ratio is not None:
                relation = "below" if g.status == GroupStatus.FAIL else "meets"
                lines.append(
                    f"{outcome} for {g.group} is {ratio:.2f} of that for "
                    f"{top.group} ({g.selection_rate:.1%} vs {top.selection_rate:.1%}): "
                    f"{relation} the {RULE}."
                )
    for g in item.groups:
        if g.status == GroupStatus.TOO_SMALL:
            lines.append(f"{g.group}: {g.warnings[0]}.")
    return tuple(lines)
