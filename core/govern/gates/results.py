"""What a gate run found: one result per gate, the drift comparison behind the PSI gate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from vigil.core.govern.gates.live import LiveComparison
from vigil.core.govern.gates.specs import Gate

if TYPE_CHECKING:
    from vigil.core.govern.gates.fairness import AttributeCheck, LiveFairness


class GateOutcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "n/a"  # the gate cannot apply (no champion yet, not a classifier); no block
    INCONCLUSIVE = "inconclusive"  # it applies, but the data cannot tell yet; flagged, no block


class GatePhase(StrEnum):
    REQUEST = "request"  # run when the promotion was requested
    APPROVAL = "approval"  # run again inside the decision's transaction


class FeatureKind(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    label: str
    outcome: GateOutcome
    observed: float | None
    threshold: float | None
    detail: str

    @property
    def passed(self) -> bool:
        return self.outcome is not GateOutcome.FAIL


@dataclass(frozen=True)
class FeaturePSI:
    feature: str
    kind: FeatureKind
    psi: float
    reference_rows: int
    current_rows: int


@dataclass(frozen=True)
class DriftWindow:
    """The production traffic the candidate's reference was compared against."""

    champion_version: str
    start: dt.datetime
    end: dt.datetime
    rows: int


@dataclass(frozen=True)
class GateReport:
    model_name: str
    model_version: str
    checked_at: dt.datetime
    results: tuple[GateResult, ...]
    drift_window: DriftWindow | None = None
    feature_psi: tuple[FeaturePSI, ...] = field(default_factory=tuple)
    live: LiveComparison | None = None  # the live challenger gate's comparison
    fairness_validation: tuple[AttributeCheck, ...] = ()  # each attribute at validation
    fairness_live: LiveFairness | None = None  # each attribute on live traffic

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> tuple[Gate, ...]:
        return tuple(r.gate for r in self.results if not r.passed)

    @property
    def failed_labels(self) -> tuple[str, ...]:
        return tuple(r.label for r in self.results if not r.passed)

    def result(self, gate: Gate) -> GateResult:
        return next(r for r in self.results if r.gate == gate)


@dataclass(frozen=True)
class SavedGateResult:
    """A gate result as stored with a promotion request, at request or approval time."""

    phase: GatePhase
    checked_at: dt.datetime
    gate: str
    outcome: GateOutcome
    observed: float | None
    threshold: float | None
    detail: str
