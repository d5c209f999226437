"""The policy a model is judged by, as the Registry page shows it: gate thresholds in force
and the changes that wait for a second admin."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.core.govern.gates.specs import SPECS, Gate
from vigil.core.govern.gates.thresholds import defaults, effective
from vigil.core.govern.policy.changes import ChangeState, PolicyChange, changes
from vigil.core.store.connection import Store


@dataclass(frozen=True)
class GateThresholdRow:
    gate: Gate
    label: str
    value: float
    default: float
    trusted: bool  # False: the stored value is not what the audit log records; the gate fails


def gate_thresholds(store: Store, model_name: str) -> tuple[GateThresholdRow, ...]:
    with store.connect() as con:
        limits = effective(con, model_name)
    fallback = defaults()
    return tuple(
        GateThresholdRow(gate, SPECS[gate].label, limit.value, fallback[gate], limit.backed)
        for gate, limit in limits.items()
    )


def pending_changes(store: Store, model_name: str) -> tuple[PolicyChange, ...]:
    """The model's threshold changes that wait for a second admin, newest first."""
    with store.connect() as con:
        return changes(con, model_name=model_name, state=ChangeState.PENDING)
