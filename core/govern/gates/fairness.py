"""The fairness gates: the four-fifths rule on every sensitive attribute and every pair of them
crossed, at validation (what the metadata recorded on the holdout) and on the candidate's live
traffic (core.monitor.fairness's report, judged with core.stats.disparity).

A group's ratio is its favourable-outcome rate over the most favoured group's; a group too
small to judge has no verdict. An attribute fails when any judged group's ratio is below the
threshold, and the failure names the attribute, the groups, their rates and the threshold.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import duckdb

from vigil.core.govern.borrowed import BorrowedStore
from vigil.core.govern.gates.results import GateOutcome, GateResult
from vigil.core.govern.gates.specs import SPECS, Gate
from vigil.core.monitor.fairness.report import fairness_report
from vigil.core.monitor.fairness.results import FairnessError
from vigil.core.monitor.selection import Selection
from vigil.core.registry.versions import ModelVersion
from vigil.core.stats.disparity import passes
from vigil.core.store.connection import Store

PARITY_PREFIX = "demographic_parity_ratio_"
TOO_SMALL = "too_small"


class Source(StrEnum):
    VALIDATION = "validation (holdout)"
    LIVE = "live traffic"


@dataclass(frozen=True)
class AttributeCheck:
    """One attribute (or pair) against the threshold, from one source."""

    attribute: str  # "sex", "sex × age"
    source: Source
    ratio: float | None  # lowest rate over the most favoured group's rate; None: not judged
    passed: bool | None  # None: not judged (not recorded, groups too small)
    failing: tuple[str, ...] = ()  # "female, <25 at 0.78 (65.7 % vs 83.8 % for female, 35–49)"
    note: str = ""


def _key(text: str) -> str:
    """'sex × age' -> 'sex_x_age', as metric names carry an attribute."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def attributes(version: ModelVersion) -> tuple[str, ...]:
    """Every sensitive attribute and every pair of them crossed, as reports name them."""
    names = [f.name for f in version.sensitive]
    return (*names, *(" × ".join(pair) for pair in itertools.combinations(names, 2)))


def at_validation(version: ModelVersion, threshold: float) -> tuple[AttributeCheck, ...]:
    """The holdout demographic parity ratio recorded for each attribute, judged."""
    holdout = version.validation_metrics.get("holdout", {})
    out = []
    for name in attributes(version):
        value = holdout.get(PARITY_PREFIX + _key(name))
        if value is None:
            out.append(AttributeCheck(name, Source.VALIDATION, None, None, note="not recorded"))
            continue
        ratio = float(value)
        out.append(
            AttributeCheck(name, Source.VALIDATION, ratio, passes(ratio, threshold=threshold))
        )
    return tuple(out)


@dataclass(frozen=True)
class LiveFairness:
    """The four-fifths rule on the candidate's live traffic in a window."""

    start: dt.datetime
    end: dt.datetime
    rows: int
    checks: tuple[AttributeCheck, ...]


def _pct(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.1%}".replace("%", " %")


def on_live_traffic(
    store: Store,
    version: ModelVersion,
    window: tuple[dt.datetime, dt.datetime],
    threshold: float,
) -> LiveFairness | None:
    """Each attribute's lowest group ratio on the version's traffic; None without traffic."""
    selection = Selection(version.model_name, version.model_version, *window)
    try:
        report = fairness_report(store, selection, granularity="month", resamples=0)
    except FairnessError:
        if not version.sensitive or version.task != "binary_classification":
            raise
        return None  # no predictions in the window
    checks = []
    for item in report.attributes:
        judged = [
            g for g in item.groups if g.status != TOO_SMALL and g.ratio_to_most_favoured is not None
        ]
        top = next((g for g in item.groups if g.group == item.most_favoured), None)
        if len(judged) < 2 or top is None:
            checks.append(
                AttributeCheck(item.name, Source.LIVE, None, None, note="groups too small to judge")
            )
            continue
        lowest = min(judged, key=lambda g: g.ratio_to_most_favoured or 0.0)
        failing = tuple(
            f"{g.group} at {g.ratio_to_most_favoured:.2f} ({_pct(g.selection_rate)} vs "
            f"{_pct(top.selection_rate)} for {top.group})"
            for g in sorted(judged, key=lambda g: g.ratio_to_most_favoured or 0.0)
            if passes(g.ratio_to_most_favoured, threshold=threshold) is False
        )
        ratio = lowest.ratio_to_most_favoured
        checks.append(AttributeCheck(item.name, Source.LIVE, ratio, not failing, failing))
    return LiveFairness(window[0], window[1], report.rows, tuple(checks))


def _passing(checks: tuple[AttributeCheck, ...]) -> str:
    judged = [c for c in checks if c.passed]
    return ", ".join(f"{c.attribute} {c.ratio:.2f}" for c in judged if c.ratio is not None)


def validation_detail(checks: tuple[AttributeCheck, ...], threshold: float) -> str:
    """'At validation (holdout), lowest group rate over the highest: sex 0.96 meets 0.80. Not
    recorded at validation: age, sex × age (judged on live traffic).'"""
    failed = [c for c in checks if c.passed is False and c.ratio is not None]
    missing = [c.attribute for c in checks if c.ratio is None]
    parts = []
    if failed:
        below = ", ".join(f"{c.attribute} {c.ratio:.2f}" for c in failed if c.ratio is not None)
        parts.append(f"{below} below the four-fifths threshold of {threshold:.2f}")
    passing = _passing(checks)
    if passing:
        parts.append(f"{passing} meet{'s' if ',' not in passing else ''} {threshold:.2f}")
    text = "At validation (holdout), lowest group rate over the highest: " + "; ".join(parts)
    if missing:
        text += f". Not recorded at validation: {', '.join(missing)} (judged on live traffic)"
    return text + "."


def live_detail(live: LiveFairness, version: str, threshold: float) -> str:
    span = f"{live.start:%d %b %Y} to {(live.end - dt.timedelta(microseconds=1)):%d %b %Y}"
    head = f"On {live.rows:,} live predictions of {version} ({span} UTC)"
    failed = [c for c in live.checks if c.passed is False]
    unclear = [c.attribute for c in live.checks if c.passed is None]
    parts = [
        f"{c.attribute} is below the four-fifths threshold of {threshold:.2f}: "
        + "; ".join(c.failing)
        for c in failed
    ]
    passing = _passing(live.checks)
    if passing:
        parts.append(f"Meeting {threshold:.2f} (lowest group ratio): {passing}")
    if unclear:
        parts.append(f"Groups too small to judge: {', '.join(unclear)}")
    return f"{head}: " + ". ".join(parts) + "."


def _gate_result(gate: Gate, outcome: GateOutcome, detail: str, observed: float | None,
                 threshold: float) -> GateResult:  # fmt: skip
    return GateResult(gate, SPECS[gate].label, outcome, observed, threshold, detail)


def validation_gate(
    version: ModelVersion, threshold: float
) -> tuple[GateResult, tuple[AttributeCheck, ...]]:
    """The recorded holdout ratios of every attribute and pair; unrecorded ones are named."""
    gate = Gate.FAIRNESS_PARITY
    if not version.sensitive:
        detail = "The version declares no sensitive attributes."
        return _gate_result(gate, GateOutcome.NOT_APPLICABLE, detail, None, threshold), ()
    checks = at_validation(version, threshold)
    judged = [c for c in checks if c.ratio is not None]
    if not judged:
        detail = (
            "No holdout demographic parity ratio was recorded for "
            f"{', '.join(c.attribute for c in checks)}; record them at validation "
            "(validation_metrics.holdout.demographic_parity_ratio_<attribute>)."
        )
        return _gate_result(gate, GateOutcome.FAIL, detail, None, threshold), checks
    lowest = min(c.ratio for c in judged if c.ratio is not None)
    outcome = GateOutcome.FAIL if any(c.passed is False for c in judged) else GateOutcome.PASS
    detail = validation_detail(checks, threshold)
    return _gate_result(gate, outcome, detail, lowest, threshold), checks


def live_gate(
    con: duckdb.DuckDBPyConnection,
    home: Path,
    version: ModelVersion,
    window: tuple[dt.datetime, dt.datetime] | None,
    threshold: float,
) -> tuple[GateResult, LiveFairness | None]:
    """The four-fifths rule on the version's own live traffic in the comparison window."""
    gate = Gate.FAIRNESS_LIVE
    unrecorded = [c.attribute for c in at_validation(version, threshold) if c.ratio is None]
    try:
        live = None if window is None else on_live_traffic(
            BorrowedStore(home, con=con), version, window, threshold
        )  # fmt: skip
    except FairnessError as err:
        if not version.sensitive or version.task != "binary_classification":
            return _gate_result(gate, GateOutcome.NOT_APPLICABLE, str(err), None, threshold), None
        live = None
    if live is None:
        if not unrecorded:
            detail = f"{version.model_version} has no live traffic to measure fairness on yet."
            return _gate_result(gate, GateOutcome.NOT_APPLICABLE, detail, None, threshold), None
        detail = (
            f"{', '.join(unrecorded)}: not measured at validation, and {version.model_version} "
            "has no live traffic to measure them on; run it in shadow to measure them."
        )
        return _gate_result(gate, GateOutcome.INCONCLUSIVE, detail, None, threshold), None
    judged = [c for c in live.checks if c.passed is not None]
    if not judged:
        outcome = GateOutcome.INCONCLUSIVE
    elif any(c.passed is False for c in judged):
        outcome = GateOutcome.FAIL
    else:
        outcome = GateOutcome.PASS
    lowest = min((c.ratio for c in judged if c.ratio is not None), default=None)
    detail = live_detail(live, version.model_version, threshold)
    return _gate_result(gate, outcome, detail, lowest, threshold), live
