"""Bias mitigation what-if: what the labelled traffic of a window would have looked like
under other decision rules. Nothing is deployed; the result is evidence for a retraining
or policy request.

Options, each scored on the same labelled rows (selection rate, TPR, FPR and accuracy per
group of one sensitive attribute):

- the current rule: one threshold for everyone (the version's decision_threshold);
- one new threshold for everyone, the most accurate one that meets the four-fifths rule
  (`vigil.core.stats.disparity`) between the groups large enough to judge;
- fairlearn's ThresholdOptimizer under a demographic-parity or an equalized-odds
  constraint: a threshold per group (randomised between two at the boundary), fitted on
  these rows and applied to them. That is optimistic; a real change must be validated on
  fresh data.

Groups are those of the Fairness page (numeric attributes in the same bands).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pandas as pd

from vigil.core.errors import VigilError
from vigil.core.monitor.fairness.groups import group_exprs
from vigil.core.monitor.fairness.results import MIN_GROUP_ROWS
from vigil.core.monitor.selection import Selection, log_table
from vigil.core.registry import versions as registry
from vigil.core.responsible.mitigation_rules import (
    FloatArray,
    GroupOutcome,
    Rule,
    evaluate_rule,
    optimizer_rule,
    single_threshold_rule,
    sweep,
)
from vigil.core.store.connection import Store
from vigil.core.store.pending import LABELS

SEED = 0
LEGAL_NOTE = (
    "Which options use the sensitive attribute when a decision is made: the current rule and "
    "the single new threshold do not (everyone faces the same threshold; the attribute is "
    "used only to measure and to choose it). Both ThresholdOptimizer options do: they apply "
    "a different threshold to each group, so the applicant's group must be known, and used, "
    "at decision time. In lending that is disparate treatment: in the US the Equal Credit "
    "Opportunity Act and Regulation B forbid taking sex, race, national origin, religion, "
    "marital status or (with narrow exceptions) age into account in a credit decision, and "
    "EU anti-discrimination law is similar. Group-specific thresholds are therefore "
    "generally not an option for credit decisions; use them as a measure of the trade-off, "
    "and prefer retraining, better data or a single threshold. This is not legal advice: "
    "ask your compliance function."
)
POPULATION = (
    "Labelled predictions only (status ok, with an outcome), so that accuracy, TPR and FPR "
    "can be computed; selection rates here are over the same rows and can differ from the "
    "Fairness page's, which uses every served prediction."
)


class MitigationError(VigilError):
    """The what-if cannot be computed for this selection."""


class Option(StrEnum):
    CURRENT = "current"
    SINGLE_THRESHOLD = "single_threshold"
    DEMOGRAPHIC_PARITY = "threshold_optimizer_demographic_parity"
    EQUALIZED_ODDS = "threshold_optimizer_equalized_odds"


TITLES = {
    Option.CURRENT: "Current threshold",
    Option.SINGLE_THRESHOLD: "One new threshold meeting the four-fifths rule",
    Option.DEMOGRAPHIC_PARITY: "ThresholdOptimizer, demographic parity",
    Option.EQUALIZED_ODDS: "ThresholdOptimizer, equalized odds",
}
USES_ATTRIBUTE = {
    Option.CURRENT: False,
    Option.SINGLE_THRESHOLD: False,
    Option.DEMOGRAPHIC_PARITY: True,
    Option.EQUALIZED_ODDS: True,
}


@dataclass(frozen=True)
class OptionResult:
    option: Option
    title: str
    uses_sensitive_attribute: bool  # at decision time
    threshold: float | None  # the one threshold, for single-threshold options
    accuracy: float
    selection_rate: float
    demographic_parity_ratio: float | None  # over eligible groups
    demographic_parity_difference: float | None
    equalized_odds_difference: float | None
    meets_four_fifths: bool | None
    groups: tuple[GroupOutcome, ...]
    note: str


@dataclass(frozen=True)
class SweepPoint:
    """One single threshold for everyone: the trade-off curve on the chart."""

    threshold: float
    accuracy: float
    demographic_parity_ratio: float | None


@dataclass(frozen=True)
class MitigationWhatIf:
    model_name: str
    model_version: str
    start: dt.datetime
    end: dt.datetime
    segment: str | None
    attribute: str
    attributes: tuple[str, ...]  # every sensitive attribute one could choose
    rows: int
    decision_threshold: float
    options: tuple[OptionResult, ...]
    sweep: tuple[SweepPoint, ...]
    legal_note: str = LEGAL_NOTE
    population: str = POPULATION

    def option(self, option: Option) -> OptionResult:
        return next(o for o in self.options if o.option == option)


def labelled_rows(
    store: Store, selection: Selection, attribute: str
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """score, label (0/1) and group of every labelled prediction of the selection, and the
    groups' order (bands of a numeric attribute in their order)."""
    with store.connect() as con:
        version = registry.get_version(con, selection.model_name, selection.model_version)
        exprs, bands = group_exprs(con, version)
        if attribute not in exprs:
            names = ", ".join(exprs) or "none"
            raise MitigationError(
                f"'{attribute}' is not a sensitive attribute of {version.model_name} "
                f"{version.model_version} (declared: {names})."
            )
        where, params = selection.where("l")
        frame = con.execute(
            f"""
            SELECT l.prediction AS score, CAST(b.label AS INTEGER) AS label,
                   {exprs[attribute]} AS "group"
            FROM {log_table(con, selection.model_name)} AS l
            JOIN {LABELS} AS b ON b.model_name = ? AND b.prediction_id = l.prediction_id
            WHERE {where} AND l.status = 'ok' AND l.prediction IS NOT NULL
            ORDER BY l.prediction_id
            """,
            [selection.model_name, *params],
        ).df()
    return frame, tuple(bands.get(attribute, ()))


def _result(
    option: Option,
    rule: Rule,
    label: FloatArray,
    group: npt.NDArray[np.str_],
    order: tuple[str, ...],
) -> OptionResult:
    evaluation = evaluate_rule(rule.predicted, label, group, MIN_GROUP_ROWS, order)
    return OptionResult(
        option=option,
        title=TITLES[option],
        uses_sensitive_attribute=USES_ATTRIBUTE[option],
        threshold=rule.threshold,
        accuracy=evaluation.accuracy,
        selection_rate=evaluation.selection_rate,
        demographic_parity_ratio=evaluation.dp_ratio,
        demographic_parity_difference=evaluation.dp_difference,
        equalized_odds_difference=evaluation.eo_difference,
        meets_four_fifths=evaluation.meets_four_fifths,
        groups=evaluation.groups,
        note=rule.note,
    )


def mitigation_what_if(
    store: Store, selection: Selection, *, attribute: str | None = None, seed: int = SEED
) -> MitigationWhatIf:
    """Every option on the selection's labelled rows, for one sensitive attribute."""
    with store.connect() as con:
        version = registry.get_version(con, selection.model_name, selection.model_version)
    names = tuple(f.name for f in version.sensitive)
    if version.decision_threshold is None or not names:
        raise MitigationError(
            f"{version.model_name} {version.model_version} needs a decision threshold and at "
            "least one sensitive attribute in its metadata for a mitigation what-if."
        )
    chosen = attribute or names[0]
    frame, order = labelled_rows(store, selection, chosen)
    score = frame["score"].to_numpy(dtype=np.float64)
    label = frame["label"].to_numpy(dtype=np.float64)
    group = frame["group"].astype(str).to_numpy()
    sizes = pd.Series(group).value_counts()
    if int((sizes >= MIN_GROUP_ROWS).sum()) < 2:
        raise MitigationError(
            f"{chosen}: fewer than two groups have {MIN_GROUP_ROWS} labelled "
            "predictions in this range; widen the range."
        )
    threshold = float(version.decision_threshold)
    rules = {
        Option.CURRENT: Rule(score >= threshold, threshold, "The rule the version serves."),
        Option.SINGLE_THRESHOLD: single_threshold_rule(
            score, label, group, threshold, MIN_GROUP_ROWS
        ),
        Option.DEMOGRAPHIC_PARITY: optimizer_rule(score, label, group, "demographic_parity", seed),
        Option.EQUALIZED_ODDS: optimizer_rule(score, label, group, "equalized_odds", seed),
    }
    return MitigationWhatIf(
        model_name=version.model_name,
        model_version=version.model_version,
        start=selection.start,
        end=selection.end,
        segment=selection.segment.label() if selection.segment else None,
        attribute=chosen,
        attributes=names,
        rows=len(frame),
        decision_threshold=threshold,
        options=tuple(_result(o, r, label, group, order) for o, r in rules.items()),
        sweep=tuple(SweepPoint(*point) for point in sweep(score, label, group, MIN_GROUP_ROWS)),
    )


def to_csv(result: MitigationWhatIf) -> str:
    """One row per option and group (and one per option for all rows), for evidence files."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "model", "version", "start", "end", "attribute", "option", "uses_sensitive_attribute",
            "threshold", "group", "rows", "selection_rate", "tpr", "fpr", "accuracy",
            "ratio_to_highest", "four_fifths", "demographic_parity_ratio",
            "equalized_odds_difference",
        ]
    )  # fmt: skip
    head = [
        result.model_name,
        result.model_version,
        result.start.isoformat(),
        result.end.isoformat(),
        result.attribute,
    ]
    for o in result.options:
        common = [o.option.value, o.uses_sensitive_attribute, _cell(o.threshold)]
        writer.writerow(
            [*head, *common, "(all rows)", result.rows, _cell(o.selection_rate), "", "",
             _cell(o.accuracy), "", "", _cell(o.demographic_parity_ratio),
             _cell(o.equalized_odds_difference)]
        )  # fmt: skip
        for g in o.groups:
            writer.writerow(
                [*head, *common, g.group, g.rows, _cell(g.selection_rate), _cell(g.tpr),
                 _cell(g.fpr), _cell(g.accuracy), _cell(g.ratio_to_highest),
                 g.four_fifths.value, "", ""]
            )  # fmt: skip
    return out.getvalue()


def _cell(value: float | None) -> str:
    return "" if value is None else repr(float(value))
