"""The gate checklist as people read it: outcomes in words, the number seen and the threshold
it was held to, in the gate's own units (a share as %, a margin as a margin).

The Review page, the sign-off report and `vigil gates` draw the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.core.govern.gates.results import GateOutcome, GateReport, GateResult, SavedGateResult
from vigil.core.govern.gates.specs import SPECS, Gate
from vigil.core.govern.policy.thresholds import Bound

OUTCOMES: dict[GateOutcome, str] = {
    GateOutcome.PASS: "Pass",
    GateOutcome.FAIL: "Fail",
    GateOutcome.INCONCLUSIVE: "Cannot tell yet",
    GateOutcome.NOT_APPLICABLE: "Does not apply",
}
# Gates whose value is a share of rows: shown as %.
SHARES = (Gate.ROBUSTNESS, Gate.MONOTONIC)
COUNTS = (Gate.OPEN_ALERTS, Gate.FINDINGS)


@dataclass(frozen=True)
class ChecklistRow:
    gate: str  # the gate in words
    outcome: GateOutcome
    outcome_text: str
    blocks: bool
    observed: str
    threshold: str
    detail: str


def _number(gate: Gate, value: float | None) -> str:
    if value is None:
        return "–"
    if gate in SHARES:
        return f"{value:.1%}".replace("%", " %")
    if gate in COUNTS:
        return f"{value:.0f}"
    if gate is Gate.LIVE_CHALLENGER:
        return f"{value:+.3f}"
    return f"{value:.3f}"


def _threshold(gate: Gate, value: float | None) -> str:
    spec = SPECS.get(gate)
    if gate in COUNTS:
        return "none open"
    if value is None or spec is None:
        return "–"
    if gate is Gate.LIVE_CHALLENGER:
        return f"worse by at most {value:g}"
    shown = _number(gate, value) if gate in SHARES else f"{value:g}"
    return f"at least {shown}" if spec.bound is Bound.MINIMUM else f"at most {shown}"


def _observed(result: GateResult | SavedGateResult, gate: Gate) -> str:
    text = _number(gate, result.observed)
    if gate is Gate.LIVE_CHALLENGER and result.observed is not None:
        return f"{text} (candidate − champion)"
    if gate in COUNTS and result.observed is not None:
        return f"{text} open"
    return text


def row(result: GateResult | SavedGateResult) -> ChecklistRow:
    try:
        gate = Gate(result.gate)
    except ValueError:  # a gate retired since the result was saved
        words = str(result.gate).replace("_", " ").capitalize()
        return ChecklistRow(
            words, result.outcome, OUTCOMES[result.outcome],
            result.outcome is GateOutcome.FAIL, "–", "–", result.detail,
        )  # fmt: skip
    return ChecklistRow(
        gate=SPECS[gate].label,
        outcome=result.outcome,
        outcome_text=OUTCOMES[result.outcome],
        blocks=result.outcome is GateOutcome.FAIL,
        observed=_observed(result, gate),
        threshold=_threshold(gate, result.threshold),
        detail=result.detail,
    )


def checklist(report: GateReport) -> tuple[ChecklistRow, ...]:
    return tuple(row(r) for r in report.results)


def label(gate: str) -> str:
    """A gate's name in words from its stored id ('drift_psi' -> its label)."""
    try:
        return SPECS[Gate(gate)].label
    except ValueError:  # a gate retired since it was stored
        return gate.replace("_", " ").capitalize()
