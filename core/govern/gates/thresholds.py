"""Gate thresholds per model: the documented defaults, or what was set through the policy path.

A stored threshold the audit log does not back (written behind Vigil's back) is not used: the
gate it belongs to fails until an admin sets the threshold again, with a rationale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb

from vigil.core.errors import VigilError
from vigil.core.govern.auth import User
from vigil.core.govern.gates.specs import SPECS, WITH_THRESHOLD, Gate
from vigil.core.govern.policy.changes import ChangeOutcome, propose
from vigil.core.govern.policy.thresholds import PolicyKind, ThresholdKey, stored
from vigil.core.store.connection import Store


class GateConfigError(VigilError):
    """A gate threshold is unknown or out of range."""


@dataclass(frozen=True)
class Limit:
    """The threshold a gate uses, and whether the store's value for it can be trusted."""

    value: float
    backed: bool = True  # False: the stored value is not what the audit log records
    stored: float | None = None  # the value found in the table, trusted or not


def defaults() -> dict[Gate, float]:
    return {s.gate: s.default for s in WITH_THRESHOLD if s.default is not None}


def effective(con: duckdb.DuckDBPyConnection, model_name: str) -> dict[Gate, Limit]:
    """The model's gate thresholds: backed stored values over the documented defaults."""
    limits = {gate: Limit(value) for gate, value in defaults().items()}
    for found in stored(con, model_name, PolicyKind.GATE):
        gate = Gate(found.key.name)
        if found.backed:
            limits[gate] = Limit(found.value, True, found.value)
        else:
            limits[gate] = Limit(limits[gate].value, False, found.value)
    return limits


def parse_gate(name: str) -> Gate:
    """The gate named `name`, if it has a threshold."""
    names = [s.gate.value for s in WITH_THRESHOLD]
    if name not in names:
        raise GateConfigError(f"Gate '{name}' has no threshold; choose one of {', '.join(names)}.")
    return Gate(name)


def check_value(gate: Gate, value: float) -> float:
    ceiling = SPECS[gate].ceiling
    if not math.isfinite(value) or value < 0 or (ceiling is not None and value > ceiling):
        raise GateConfigError(f"Threshold {value} for gate '{gate}' is out of range.")
    return float(value)


def set_threshold(
    store: Store, user: User, model_name: str, gate: str, value: float, rationale: str
) -> ChangeOutcome:
    """Ask for a gate threshold of a model to change (admins). A stricter threshold applies
    at once; a looser one waits for a second admin (core.govern.policy.changes)."""
    chosen = parse_gate(gate)
    spec = SPECS[chosen]
    assert spec.bound is not None and spec.default is not None  # gates with a threshold
    return propose(
        store,
        user,
        ThresholdKey(model_name, PolicyKind.GATE, chosen.value),
        check_value(chosen, value),
        rationale=rationale,
        bound=spec.bound,
        default=spec.default,
        permission="override_gate",
    )
