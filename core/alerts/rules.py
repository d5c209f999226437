"""Alert rules: what a rule says, how it is checked before it is stored, and audited edits.

A rule compares one metric of the table in `metrics` with a threshold, per calendar window
(day, week or month), on every version of one model. The threshold is absolute, or an offset
from the version's validation value. Analysts and admins add and change rules; every change
carries a rationale and is written to the audit trail in the same transaction, because a
threshold is a decision about what the bank tolerates.

A rule's threshold is set when the rule is added; changing it afterwards is a policy change
(core.govern.policy): one that tightens applies at once, one that loosens (fewer alerts)
waits for a second admin. The threshold in force is the policy's, else the rule's own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import duckdb

from vigil.core.alerts import metrics
from vigil.core.alerts.records import close_alerts_of_rule
from vigil.core.errors import AlertError, PermissionDenied
from vigil.core.govern import audit
from vigil.core.govern.auth import User, require
from vigil.core.govern.policy import changes as policy
from vigil.core.govern.policy.thresholds import Bound, PolicyKind, ThresholdKey, alert_thresholds
from vigil.core.govern.principals import check
from vigil.core.monitor.windows import CALENDAR_GRANULARITIES
from vigil.core.registry.versions import ModelVersion, list_versions, model_tables
from vigil.core.results import to_jsonable
from vigil.core.store.connection import Store


class Comparison(StrEnum):
    BELOW = "<"
    AT_MOST = "<="
    ABOVE = ">"
    AT_LEAST = ">="

    @property
    def bound(self) -> Bound:
        """A rule that fires below its threshold is a minimum (lowering it loosens)."""
        below = self in (Comparison.BELOW, Comparison.AT_MOST)
        return Bound.MINIMUM if below else Bound.MAXIMUM

    def holds(self, value: float, threshold: float) -> bool:
        """True when the value is on the failing side of the threshold."""
        if self is Comparison.BELOW:
            return value < threshold
        if self is Comparison.AT_MOST:
            return value <= threshold
        if self is Comparison.ABOVE:
            return value > threshold
        return value >= threshold


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for the most severe: the order lists show alerts in."""
        return [Severity.CRITICAL, Severity.WARNING, Severity.INFO].index(self)


VALIDATION = "validation"  # the only baseline a relative threshold can be an offset from
EVERY_ATTRIBUTE = "every sensitive attribute and intersection"
EDITABLE = (  # the threshold changes through the policy path: set_threshold
    "metric",
    "comparison",
    "granularity",
    "severity",
    "relative_to",
    "min_age_days",
    "attribute",
    "enabled",
    "description",
)


@dataclass(frozen=True)
class RuleSpec:
    """A rule before it is stored (no id, no authorship)."""

    metric: str
    comparison: Comparison
    threshold: float
    granularity: str
    severity: Severity = Severity.WARNING
    relative_to: str | None = None
    min_age_days: int = 0
    attribute: str | None = None  # fairness: one attribute; None: every one (the worst)
    enabled: bool = True
    description: str | None = None


@dataclass(frozen=True)
class AlertRule(RuleSpec):
    """A stored rule. (Fields after RuleSpec's all have defaults, as dataclasses require.)"""

    rule_id: int = 0
    model_name: str = ""
    created_by: str = ""
    created_at: dt.datetime | None = None
    updated_by: str | None = None
    updated_at: dt.datetime | None = None

    def describe(self) -> str:
        """E.g. 'roc_auc < validation − 0.05 per week' or 'error_rate > 0.02 per day'."""
        if self.relative_to == VALIDATION:
            sign = "+" if self.threshold >= 0 else "−"
            target = f"validation {sign} {abs(self.threshold):g}"
        else:
            target = f"{self.threshold:g}"
        metric = metrics.BY_NAME.get(self.metric)
        scope = f" on {self.attribute or EVERY_ATTRIBUTE}" if metric and metric.by_attribute else ""
        age = f", windows older than {self.min_age_days} days" if self.min_age_days else ""
        return f"{self.metric} {self.comparison} {target}{scope} per {self.granularity}{age}"


COLUMNS = tuple(f.name for f in dataclasses.fields(AlertRule))


def sensitive_attributes(store: Store, model_name: str) -> list[str]:
    """What a fairness rule of the model may name: every sensitive attribute of any of its
    versions, and every pair of them ("sex × age"), as fairness reports name them."""
    with store.connect() as con:
        return _sensitive_attributes(list_versions(con, model_name))


def _sensitive_attributes(versions: list[ModelVersion]) -> list[str]:
    """Attribute names fairness reports: each sensitive feature and each pair of them."""
    names: list[str] = []
    for version in versions:
        single = [s.name for s in version.sensitive]
        pairs = [" × ".join(p) for p in itertools.combinations(single, 2)]
        names += [n for n in (*single, *pairs) if n not in names]
    return names


def _check(con: duckdb.DuckDBPyConnection, model_name: str, spec: RuleSpec) -> RuleSpec:
    """The spec with its enums and attribute name normalised, or AlertError saying what is off."""
    task = model_tables(con, model_name).task
    metric = metrics.metric(spec.metric)
    if not metric.applies_to(task):
        raise AlertError(
            f"Metric '{spec.metric}' does not apply to a {task} model; choose one of: "
            f"{', '.join(m.name for m in metrics.available(task))}."
        )
    if spec.comparison not in tuple(Comparison):
        raise AlertError(f"Comparison '{spec.comparison}' is not one of < <= > >=.")
    if isinstance(spec.threshold, bool) or not isinstance(spec.threshold, int | float):
        raise AlertError(f"The threshold must be a finite number, not {spec.threshold!r}.")
    if not math.isfinite(spec.threshold):
        raise AlertError(f"The threshold must be a finite number, not {spec.threshold!r}.")
    if spec.granularity not in CALENDAR_GRANULARITIES:
        raise AlertError(
            f"Window granularity '{spec.granularity}' is not one of "
            f"{', '.join(CALENDAR_GRANULARITIES)}."
        )
    if spec.severity not in tuple(Severity):
        raise AlertError(
            f"Severity '{spec.severity}' is not one of {', '.join(s.value for s in Severity)}."
        )
    if spec.relative_to not in (None, VALIDATION):
        raise AlertError(
            f"relative_to must be empty (an absolute threshold) or 'validation', not "
            f"'{spec.relative_to}'."
        )
    if spec.min_age_days < 0:
        raise AlertError(f"min_age_days must be 0 or more, not {spec.min_age_days}.")
    return replace(
        spec,
        comparison=Comparison(spec.comparison),
        severity=Severity(spec.severity),
        threshold=float(spec.threshold),
        attribute=_check_attribute(con, model_name, metric, spec.attribute),
    )


def _check_attribute(
    con: duckdb.DuckDBPyConnection, model_name: str, metric: metrics.Metric, attribute: str | None
) -> str | None:
    if attribute is None or not attribute.strip():
        return None
    if not metric.by_attribute:
        raise AlertError(
            f"Metric '{metric.name}' is not measured per sensitive attribute; leave the "
            "attribute empty."
        )
    known = _sensitive_attributes(list_versions(con, model_name))
    wanted = attribute.strip().replace("_x_", " × ")
    if wanted not in known:
        raise AlertError(
            f"'{attribute}' is not a sensitive attribute of {model_name}; choose one of: "
            f"{', '.join(known) or 'none (no version declares one)'}."
        )
    return wanted


def require_rationale(rationale: str) -> str:
    text = (rationale or "").strip()
    if not text:
        raise AlertError(
            "Say why (a rationale): rule changes decide what the bank tolerates and are kept "
            "in the audit trail."
        )
    return text


def _row_to_rule(row: tuple[Any, ...], policy_values: dict[str, float]) -> AlertRule:
    """A stored rule with the threshold in force (the policy's, if one was set)."""
    values = dict(zip(COLUMNS, row, strict=True))
    values["comparison"] = Comparison(values["comparison"])
    values["severity"] = Severity(values["severity"])
    values["threshold"] = policy_values.get(str(values["rule_id"]), values["threshold"])
    return AlertRule(**values)


def list_rules_con(
    con: duckdb.DuckDBPyConnection, model_name: str, *, enabled_only: bool = False
) -> list[AlertRule]:
    where = "model_name = ?" + (" AND enabled" if enabled_only else "")
    rows = con.execute(
        f"SELECT {', '.join(COLUMNS)} FROM alert_rules WHERE {where} ORDER BY rule_id",
        [model_name],
    ).fetchall()
    in_force = alert_thresholds(con, model_name)
    return [_row_to_rule(row, in_force) for row in rows]


def list_rules(store: Store, model_name: str) -> tuple[AlertRule, ...]:
    with store.connect() as con:
        model_tables(con, model_name)  # an unknown model gets the registry's message
        return tuple(list_rules_con(con, model_name))


def get_rule(con: duckdb.DuckDBPyConnection, rule_id: int) -> AlertRule:
    row = con.execute(
        f"SELECT {', '.join(COLUMNS)} FROM alert_rules WHERE rule_id = ?", [rule_id]
    ).fetchone()
    if row is None:
        raise AlertError(
            f"Alert rule {rule_id} does not exist; list rules with `vigil rules list`."
        )
    return _row_to_rule(row, alert_thresholds(con, str(row[COLUMNS.index("model_name")])))


def _require_current(con: duckdb.DuckDBPyConnection, user: User) -> None:
    """A session whose user was disabled or changed role since signing in changes nothing."""
    found = check(con, user)
    if not found.current:
        raise PermissionDenied(f"{found.message} Nothing was changed.")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _evidence(rule: AlertRule) -> dict[str, Any]:
    data: dict[str, Any] = to_jsonable(rule)
    return {k: v for k, v in data.items() if k not in ("created_at", "updated_at")}


def insert_rule(
    con: duckdb.DuckDBPyConnection, model_name: str, spec: RuleSpec, user: User, rationale: str
) -> AlertRule:
    _require_current(con, user)
    checked = _check(con, model_name, spec)
    row = con.execute("SELECT nextval('alert_rule_seq')").fetchone()
    assert row is not None
    rule = AlertRule(
        **{f.name: getattr(checked, f.name) for f in dataclasses.fields(RuleSpec)},
        rule_id=int(row[0]),
        model_name=model_name,
        created_by=user.username,
        created_at=_now(),
    )
    con.execute(
        f"INSERT INTO alert_rules ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
        [getattr(rule, c) for c in COLUMNS],
    )
    audit.append(
        con,
        actor=user.username,
        actor_role=user.role,
        action="add_alert_rule",
        model_name=model_name,
        rationale=rationale,
        evidence={"rule": _evidence(rule)},
    )
    return rule


def add_rule(
    store: Store, user: User, model_name: str, spec: RuleSpec, *, rationale: str
) -> AlertRule:
    """Store a new rule for the model (analysts and admins), audited in the same transaction."""
    require(user, "edit_rules", f"edit alert rules of {model_name}")
    why = require_rationale(rationale)
    with store.transaction() as con:
        return insert_rule(con, model_name, spec, user, why)


def _edit_action(before: AlertRule, after: AlertRule) -> str:
    if before.enabled and not after.enabled:
        return "disable_alert_rule"
    if not before.enabled and after.enabled:
        return "enable_alert_rule"
    return "edit_alert_rule"


def update_rule(
    store: Store, user: User, rule_id: int, changes: Mapping[str, Any], *, rationale: str
) -> AlertRule:
    """Change fields of a rule (see EDITABLE; the threshold: set_threshold), audited. A change
    to what the rule measures, or disabling it, closes its open alerts: they no longer
    describe this rule, and the next evaluation fires again whatever still fails."""
    if "threshold" in changes:
        raise AlertError(
            "A rule's threshold is policy: change it with set_threshold (`vigil rules edit "
            "--threshold`, or the Alerts page), where loosening it waits for a second admin."
        )
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise AlertError(
            f"Cannot change {', '.join(unknown)} of a rule; editable: {', '.join(EDITABLE)}."
        )
    why = require_rationale(rationale)
    with store.transaction() as con:
        before = get_rule(con, rule_id)
        require(user, "edit_rules", f"edit alert rules of {before.model_name}")
        _require_current(con, user)
        spec = _check(con, before.model_name, replace(before, **changes))
        after = replace(before, **{k: getattr(spec, k) for k in EDITABLE})
        after = replace(after, updated_by=user.username, updated_at=_now())
        fields = (*EDITABLE, "updated_by", "updated_at")
        con.execute(
            f"UPDATE alert_rules SET {', '.join(f'{c} = ?' for c in fields)} WHERE rule_id = ?",
            [*(getattr(after, c) for c in fields), rule_id],
        )
        action = _edit_action(before, after)
        if action == "disable_alert_rule" or set(changes) - {"enabled", "description"}:
            close_alerts_of_rule(con, rule_id, f"rule {rule_id} changed: {after.describe()}")
        audit.append(
            con,
            actor=user.username,
            actor_role=user.role,
            action=action,
            model_name=before.model_name,
            rationale=why,
            evidence={
                "rule_id": rule_id,
                "before": before.describe(),
                "after": after.describe(),
                "changes": {
                    k: to_jsonable([getattr(before, k), getattr(after, k)]) for k in changes
                },
            },
        )
        return after


def set_threshold(
    store: Store, user: User, rule_id: int, value: float, *, rationale: str
) -> policy.ChangeOutcome:
    """Ask for a rule's threshold to become `value`, through the policy path: applied now if
    it tightens the rule (more alerts), pending a second admin if it loosens it."""
    with store.connect() as con:
        rule = get_rule(con, rule_id)
        row = con.execute("SELECT threshold FROM alert_rules WHERE rule_id = ?", [rule_id])
        own = row.fetchone()
    assert own is not None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AlertError(f"The threshold must be a finite number, not {value!r}.")
    return policy.propose(
        store,
        user,
        ThresholdKey(rule.model_name, PolicyKind.ALERT, str(rule_id)),
        float(value),
        rationale=rationale,
        bound=rule.comparison.bound,
        default=float(own[0]),
        permission="edit_rules",
    )


def pending_thresholds(store: Store, model_name: str) -> tuple[policy.PolicyChange, ...]:
    """Threshold changes of the model's rules that wait for a second admin."""
    found = policy.pending_changes(store, model_name)
    return tuple(c for c in found if c.key.kind is PolicyKind.ALERT)


def set_rule_enabled(
    store: Store, user: User, rule_id: int, enabled: bool, *, rationale: str
) -> AlertRule:
    return update_rule(store, user, rule_id, {"enabled": enabled}, rationale=rationale)
