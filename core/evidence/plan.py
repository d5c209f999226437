"""The monitoring plan of a model as a versioned document (EU AI Act Art. 72, SR 26-2).

What is in force comes from the tables that enforce it: gate thresholds, drift thresholds
(per-model overrides over the documented defaults), alert rules with their windows and
severities, the review cadence of the model's tier and the log retention, and who owns each.
Its history comes from the audit log: every record that changed one of them (who, when, the
rationale, the old and new values the record holds). The document's version is the number
of changes it has been through; its SHA-256 is over the content in force, so two copies of
the same version can be compared byte for byte.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

import duckdb

from vigil.core.evidence.calendar import ReviewItem, review_calendar
from vigil.core.evidence.inventory import InventoryEntry, get_entry
from vigil.core.evidence.retention import retention_months
from vigil.core.govern.gates.thresholds import defaults as gate_defaults
from vigil.core.govern.policy.changes import ChangeState
from vigil.core.govern.policy.changes import changes as policy_changes
from vigil.core.govern.policy.thresholds import PolicyKind, stored
from vigil.core.monitor.drift.settings import DATASET_SHARE, DATASET_TEST, DOMAIN_AUC, DOMAIN_TEST
from vigil.core.results import to_jsonable
from vigil.core.stats.drift_tests import TESTS
from vigil.core.store.connection import Store

# Audit actions that change the plan: thresholds (set, proposed, confirmed or rejected through
# the policy path), alert rules, the inventory entry; matched by pattern so a new verb of the
# same family is not missed.
MODEL_ACTION_PATTERNS = ("%threshold%", "%alert_rule%", "%policy_change%", "update_inventory")
POLICY_ACTIONS = ("set_review_cadence", "set_log_retention")  # apply to every model
RULE_FIELDS = (
    "rule_id",
    "metric",
    "comparison",
    "threshold",
    "relative_to",
    "granularity",
    "min_age_days",
    "severity",
    "enabled",
    "description",
    "created_by",
    "created_at",
    "updated_by",
    "updated_at",
)


@dataclass(frozen=True)
class Threshold:
    """A gate or drift threshold in force, and who set it (None: the documented default)."""

    kind: str  # "gate" | "drift"
    name: str  # the gate, or the drift test
    feature: str  # drift: a column or '*'; gates: '*'
    value: float
    default: float | None
    set_by: str | None
    confirmed_by: str | None  # the second admin of a loosening change
    audit_seq: int | None  # the record that set it
    trusted: bool  # False: the stored value is not what the audit log records; not used


@dataclass(frozen=True)
class PendingChange:
    change_id: int
    kind: str
    name: str
    feature: str
    old: float | None
    new: float | None
    proposed_by: str
    proposed_at: dt.datetime
    rationale: str


@dataclass(frozen=True)
class PlanRule:
    """An alert rule as stored; fields the store does not have are None."""

    rule_id: int
    metric: str
    comparison: str
    threshold: float
    relative_to: str | None
    granularity: str  # the window the rule is evaluated on
    min_age_days: int | None
    severity: str
    enabled: bool
    description: str | None
    created_by: str | None
    created_at: dt.datetime | None
    updated_by: str | None
    updated_at: dt.datetime | None

    def condition(self) -> str:
        base = "validation value " if self.relative_to else ""
        sign = "+" if self.relative_to and self.threshold >= 0 else ""
        return (
            f"{self.metric} {self.comparison} {base}{sign}{self.threshold:g} per {self.granularity}"
        )


@dataclass(frozen=True)
class PlanChange:
    version: int  # the plan version this change produced
    seq: int
    recorded_at: dt.datetime
    actor: str
    actor_role: str
    action: str
    rationale: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class MonitoringPlan:
    model_name: str
    version: int
    as_of: dt.datetime | None  # time of the latest change
    content_sha256: str
    owners: tuple[tuple[str, str], ...]  # (role in the plan, who)
    inventory: InventoryEntry
    review: ReviewItem | None
    retention_months: int
    thresholds: tuple[Threshold, ...]
    pending_changes: tuple[PendingChange, ...]  # loosening changes awaiting a second admin
    alert_rules: tuple[PlanRule, ...]
    history: tuple[PlanChange, ...]

    def in_force(self) -> dict[str, Any]:
        """The content the hash covers (no history, no timestamps of reading)."""
        payload = to_jsonable(self)
        for key in ("version", "as_of", "content_sha256", "history", "review"):
            payload.pop(key)
        return dict(payload)


def _drift_defaults() -> dict[str, float]:
    defaults = {name: t.threshold for name, t in TESTS.items()}
    defaults.update({DATASET_TEST: DATASET_SHARE, DOMAIN_TEST: DOMAIN_AUC})
    return defaults


def _thresholds(con: duckdb.DuckDBPyConnection, model_name: str) -> tuple[Threshold, ...]:
    """Gate and drift thresholds: each stored one (trusted or not) and every default left."""
    out: list[Threshold] = []
    for kind, defaults in (
        (PolicyKind.GATE, {g.value: v for g, v in gate_defaults().items()}),
        (PolicyKind.DRIFT, _drift_defaults()),
    ):
        found = stored(con, model_name, kind)
        overridden = {(t.key.name, t.key.feature) for t in found if t.backed}
        out += [
            Threshold(kind.value, name, "*", value, value, None, None, None, True)
            for name, value in sorted(defaults.items())
            if (name, "*") not in overridden
        ]
        out += [
            Threshold(
                kind.value,
                t.key.name,
                t.key.feature,
                t.value,
                defaults.get(t.key.name),
                t.set_by,
                t.confirmed_by,
                t.audit_seq,
                t.backed,
            )
            for t in found
        ]
    return tuple(sorted(out, key=lambda t: (t.kind, t.name, t.feature)))


def _pending(con: duckdb.DuckDBPyConnection, model_name: str) -> tuple[PendingChange, ...]:
    return tuple(
        PendingChange(
            c.change_id,
            c.key.kind.value,
            c.key.name,
            c.key.feature,
            c.old,
            c.new,
            c.proposed_by,
            c.proposed_at,
            c.rationale,
        )
        for c in policy_changes(con, model_name=model_name, state=ChangeState.PENDING)
    )


def _alert_rules(con: duckdb.DuckDBPyConnection, model_name: str) -> tuple[PlanRule, ...]:
    cursor = con.execute("SELECT * FROM alert_rules WHERE model_name = ? ORDER BY 1", [model_name])
    names = [d[0] for d in cursor.description]
    out = []
    for row in cursor.fetchall():
        stored = dict(zip(names, row, strict=True))
        values: dict[str, Any] = {f: stored.get(f) for f in RULE_FIELDS}
        out.append(PlanRule(**values))
    return tuple(out)


def _history(con: duckdb.DuckDBPyConnection, model_name: str) -> tuple[PlanChange, ...]:
    like = " OR ".join("action LIKE ?" for _ in MODEL_ACTION_PATTERNS)
    marks = ", ".join("?" * len(POLICY_ACTIONS))
    cursor = con.execute(
        "SELECT seq, recorded_at, actor, actor_role, action, rationale, evidence "
        f"FROM audit_log WHERE (model_name = ? AND ({like})) "
        f"OR (model_name IS NULL AND action IN ({marks})) ORDER BY seq",
        [model_name, *MODEL_ACTION_PATTERNS, *POLICY_ACTIONS],
    )
    return tuple(
        PlanChange(index, seq, at, actor, role, action, rationale, json.loads(evidence or "{}"))
        for index, (seq, at, actor, role, action, rationale, evidence) in enumerate(
            cursor.fetchall(), start=1
        )
    )


def _owners(entry: InventoryEntry, rules: tuple[PlanRule, ...]) -> tuple[tuple[str, str], ...]:
    owners = [("model owner", entry.owner or "not recorded")]
    owners.append(("independent validator", entry.validator or "not recorded"))
    authors = sorted({r.updated_by or r.created_by or "" for r in rules} - {""})
    owners += [("alert rules last set by", name) for name in authors]
    return tuple(owners)


def plan_con(
    con: duckdb.DuckDBPyConnection, model_name: str, today: dt.date | None = None
) -> MonitoringPlan:
    entry = get_entry(con, model_name)
    rules = _alert_rules(con, model_name)
    history = _history(con, model_name)
    review = next((i for i in review_calendar(con, today) if i.model_name == model_name), None)
    draft = MonitoringPlan(
        model_name=model_name,
        version=len(history),
        as_of=history[-1].recorded_at if history else None,
        content_sha256="",
        owners=_owners(entry, rules),
        inventory=entry,
        review=review,
        retention_months=retention_months(con),
        thresholds=_thresholds(con, model_name),
        pending_changes=_pending(con, model_name),
        alert_rules=rules,
        history=history,
    )
    digest = hashlib.sha256(plan_bytes(draft.in_force())).hexdigest()
    return replace(draft, content_sha256=digest)


def monitoring_plan(store: Store, model_name: str, today: dt.date | None = None) -> MonitoringPlan:
    with store.connect() as con:
        return plan_con(con, model_name, today)


def plan_bytes(payload: Any) -> bytes:
    """Canonical JSON: sorted keys, so equal content gives equal bytes and hashes."""
    return json.dumps(to_jsonable(payload), sort_keys=True, indent=2).encode("utf-8")


def plan_json(plan: MonitoringPlan) -> bytes:
    """The plan with its history, for export."""
    return plan_bytes(plan)
