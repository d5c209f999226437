"""Every threshold a model's policy sets (gates, drift tests, alert rules) in one audited
table, and what an audit record says it set.

A row of `policy_thresholds` names the audit record that set it (`audit_seq`). A row whose
record does not set exactly that value (written behind Vigil's back) is not backed: readers
leave it out and the gate it belongs to fails (core.govern.gates.thresholds). `applied()` says
what any audit record sets, for whoever replays the log (core.govern.audit_state).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import duckdb

from vigil.core.errors import VigilError


class PolicyError(VigilError):
    """A policy change cannot be made as asked (unknown, already decided, out of date)."""


class PolicyKind(StrEnum):
    GATE = "gate"
    DRIFT = "drift"
    ALERT = "alert"


class Bound(StrEnum):
    """How a threshold bounds what it judges; says which way a change loosens."""

    MINIMUM = "minimum"  # passes (no alarm) while the value is >= threshold: lowering loosens
    MAXIMUM = "maximum"  # passes (no alarm) while the value is <= threshold: raising loosens

    def loosens(self, old: float, new: float) -> bool:
        return new < old if self is Bound.MINIMUM else new > old


@dataclass(frozen=True)
class ThresholdKey:
    model_name: str
    kind: PolicyKind
    name: str  # the gate, the drift test, or the alert rule id
    feature: str = "*"  # drift: one column, or '*' for every column

    def describe(self) -> str:
        if self.kind is PolicyKind.GATE:
            return f"gate {self.name} of {self.model_name}"
        if self.kind is PolicyKind.DRIFT:
            where = "every column" if self.feature == "*" else f"column {self.feature}"
            return f"drift test {self.name} for {where} of {self.model_name}"
        return f"alert rule {self.name} of {self.model_name}"


@dataclass(frozen=True)
class Threshold:
    key: ThresholdKey
    value: float
    set_by: str | None
    confirmed_by: str | None
    set_at: dt.datetime
    audit_seq: int | None
    backed: bool  # the audit record named by audit_seq sets exactly this value


# --- what an audit record sets ------------------------------------------------------------

APPLY_ACTIONS: dict[str, tuple[PolicyKind, bool]] = {  # action -> (kind, sets a value)
    "set_gate_threshold": (PolicyKind.GATE, True),
    "set_drift_threshold": (PolicyKind.DRIFT, True),
    "reset_drift_threshold": (PolicyKind.DRIFT, False),
    "set_alert_threshold": (PolicyKind.ALERT, True),
    "reset_alert_threshold": (PolicyKind.ALERT, False),
}


def applied(
    action: str, model_name: str | None, evidence: Mapping[str, Any]
) -> tuple[ThresholdKey, float | None] | None:
    """The threshold an audit record sets (None as value: removed), or None if it sets none."""
    if action not in APPLY_ACTIONS or model_name is None:
        return None
    kind, sets = APPLY_ACTIONS[action]
    if kind is PolicyKind.GATE:
        key = ThresholdKey(model_name, kind, str(evidence.get("gate")))
        value = evidence.get("new")
    elif kind is PolicyKind.DRIFT:
        feature = str(evidence.get("feature") or "*")
        key = ThresholdKey(model_name, kind, str(evidence.get("test")), feature)
        value = evidence.get("threshold")
    else:
        key = ThresholdKey(model_name, kind, str(evidence.get("rule_id")))
        value = evidence.get("threshold")
    return key, (float(value) if sets and value is not None else None)


def evidence_for(key: ThresholdKey, value: float | None) -> dict[str, Any]:
    """The evidence fields that say what is set, in the shape `applied` reads."""
    if key.kind is PolicyKind.GATE:
        return {"gate": key.name, "new": value}
    if key.kind is PolicyKind.DRIFT:
        return {"feature": key.feature, "test": key.name, "threshold": value}
    return {"rule_id": key.name, "threshold": value}


def apply_action(key: ThresholdKey, value: float | None) -> str:
    verb = "set" if value is not None else "reset"
    if key.kind is PolicyKind.GATE and value is None:
        raise PolicyError(f"A gate threshold cannot be removed; set {key.describe()} instead.")
    return f"{verb}_{key.kind.value}_threshold"


# --- reading ------------------------------------------------------------------------------


def _backed(
    con: duckdb.DuckDBPyConnection, key: ThresholdKey, value: float, seq: int | None
) -> bool:
    if seq is None:
        return False
    row = con.execute(
        "SELECT action, model_name, evidence FROM audit_log WHERE seq = ?", [seq]
    ).fetchone()
    if row is None:
        return False
    found = applied(str(row[0]), row[1], json.loads(row[2]) if row[2] else {})
    return (
        found is not None
        and found[0] == key
        and found[1] is not None
        and math.isclose(found[1], value, rel_tol=1e-12, abs_tol=0.0)
    )


def stored(
    con: duckdb.DuckDBPyConnection, model_name: str, kind: PolicyKind
) -> tuple[Threshold, ...]:
    """The model's stored thresholds of one kind, each checked against its audit record."""
    rows = con.execute(
        "SELECT name, feature, threshold, set_by, confirmed_by, set_at, audit_seq "
        "FROM policy_thresholds WHERE model_name = ? AND kind = ? ORDER BY name, feature",
        [model_name, kind.value],
    ).fetchall()
    out = []
    for name, feature, value, set_by, confirmed_by, set_at, seq in rows:
        key = ThresholdKey(model_name, kind, str(name), str(feature))
        backed = _backed(con, key, float(value), seq)
        out.append(Threshold(key, float(value), set_by, confirmed_by, set_at, seq, backed))
    return tuple(out)


def drift_thresholds(
    con: duckdb.DuckDBPyConnection, model_name: str
) -> dict[tuple[str, str], float]:
    """(feature or '*', test) -> threshold of the model's drift tests, as set through Vigil.

    A value the audit log does not back is left out, so the test's default applies."""
    return {
        (t.key.feature, t.key.name): t.value
        for t in stored(con, model_name, PolicyKind.DRIFT)
        if t.backed
    }


def alert_thresholds(con: duckdb.DuckDBPyConnection, model_name: str) -> dict[str, float]:
    """rule id -> threshold set through the policy path (backed values only)."""
    return {t.key.name: t.value for t in stored(con, model_name, PolicyKind.ALERT) if t.backed}


def current(con: duckdb.DuckDBPyConnection, key: ThresholdKey) -> float | None:
    for t in stored(con, key.model_name, key.kind):
        if t.key == key and t.backed:
            return t.value
    return None
