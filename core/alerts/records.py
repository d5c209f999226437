"""Alert records: one per failing (rule, version, window), and what people did about them.

Evaluation opens a record when a window fails and resolves it when the window passes again.
People acknowledge an alert (someone owns it), snooze it until a time (it leaves the open
lists until then), or resolve it with a note; each action is audited in the same
transaction. A record a person resolved stays resolved even if its window still fails: the
decision about that window is on file, and new windows that fail open new alerts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import duckdb

from vigil.core.alerts.metrics import label
from vigil.core.errors import AlertError, PermissionDenied
from vigil.core.govern import audit
from vigil.core.govern.auth import User, require
from vigil.core.govern.principals import check
from vigil.core.store.connection import Store

if TYPE_CHECKING:
    from vigil.core.alerts.evaluate import RuleResult


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"

    @property
    def active(self) -> bool:
        """Counted on the Overview and in gates: open or acknowledged, not snoozed."""
        return self in (AlertState.OPEN, AlertState.ACKNOWLEDGED)


@dataclass(frozen=True)
class Alert:
    alert_id: int
    rule_id: int
    model_name: str
    model_version: str
    metric: str
    comparison: str
    threshold: float
    value: float
    granularity: str
    window_start: dt.datetime
    window_end: dt.datetime
    severity: str
    fired_at: dt.datetime
    last_seen_at: dt.datetime
    resolved_at: dt.datetime | None
    detail: str
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    snoozed_by: str | None
    snoozed_until: dt.datetime | None
    resolved_by: str | None  # None with resolved_at set: the window passed again
    note: str | None  # the last note a person left

    def state(self, now: dt.datetime | None = None) -> AlertState:
        if self.resolved_at is not None:
            return AlertState.RESOLVED
        if self.snoozed_until is not None and self.snoozed_until > (now or _now()):
            return AlertState.SNOOZED
        if self.acknowledged_at is not None:
            return AlertState.ACKNOWLEDGED
        return AlertState.OPEN

    @property
    def active(self) -> bool:
        return self.state().active

    def describe(self) -> str:
        """E.g. 'Accuracy 0.61 < 0.66 in the week from 12 Oct 2026 (credit-risk 1.0)'."""
        detail = f"; {self.detail}" if self.detail else ""
        return (
            f"{label(self.metric)} {self.value:.4g} {self.comparison} {self.threshold:.4g} in the "
            f"{self.granularity} from {self.window_start.day} {self.window_start:%b %Y} ({self.model_name} "
            f"{self.model_version}{detail})"
        )


COLUMNS = tuple(f.name for f in dataclasses.fields(Alert))
_SEVERITY_ORDER = "CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def list_alerts(
    store: Store,
    model_name: str,
    *,
    version: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    states: Collection[AlertState] | None = None,
    limit: int = 500,
) -> tuple[Alert, ...]:
    """The model's alerts (of one version; whose window overlaps [start, end)), unresolved
    first, then most severe and newest window first."""
    where: list[str] = ["model_name = ?"]
    params: list[object] = [model_name]
    for sql, value in (
        ("model_version = ?", version),
        ("window_end > ?", start),
        ("window_start < ?", end),
    ):
        if value is not None:
            where.append(sql)
            params.append(value)
    with store.connect() as con:
        rows = con.execute(
            f"SELECT {', '.join(COLUMNS)} FROM alerts WHERE {' AND '.join(where)} "
            f"ORDER BY resolved_at IS NULL DESC, {_SEVERITY_ORDER}, window_start DESC, alert_id "
            "LIMIT ?",
            [*params, int(limit)],
        ).fetchall()
    found = (Alert(*row) for row in rows)
    now = _now()
    return tuple(a for a in found if states is None or a.state(now) in states)


def overview_status(store: Store, model_name: str, version: str | None = None) -> list[Alert]:
    """Active alerts (open or acknowledged, not snoozed), most severe first."""
    active = (AlertState.OPEN, AlertState.ACKNOWLEDGED)
    return list(list_alerts(store, model_name, version=version, states=active))


def get_alert(con: duckdb.DuckDBPyConnection, alert_id: int) -> Alert:
    row = con.execute(
        f"SELECT {', '.join(COLUMNS)} FROM alerts WHERE alert_id = ?", [alert_id]
    ).fetchone()
    if row is None:
        raise AlertError(f"Alert {alert_id} does not exist; the Alerts page lists them.")
    return Alert(*row)


# ---------------------------------------------------------------- what evaluation records


def _open(con: duckdb.DuckDBPyConnection, model_name: str, r: RuleResult, now: dt.datetime) -> None:
    rule = r.rule
    con.execute(
        f"INSERT INTO alerts ({', '.join(COLUMNS[:16])}) "
        "VALUES (nextval('alert_seq'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
        [
            rule.rule_id, model_name, r.model_version, rule.metric, rule.comparison.value,
            r.threshold, r.value, rule.granularity, r.window_start, r.window_end,
            rule.severity.value, now, now, r.detail,
        ],
    )  # fmt: skip


def record(store: Store, model_name: str, results: Sequence[RuleResult]) -> tuple[int, int]:
    """Open an alert for each newly failing window and resolve open ones whose window passes
    now; returns (opened or reopened, resolved)."""
    now = _now()
    fired = resolved = 0
    with store.transaction() as con:
        existing = {
            (row[0], row[1], row[2]): (row[3], row[4], row[5])
            for row in con.execute(
                "SELECT rule_id, model_version, window_start, alert_id, resolved_at, resolved_by "
                "FROM alerts WHERE model_name = ?",
                [model_name],
            ).fetchall()
        }
        for r in results:
            found = existing.get((r.rule.rule_id, r.model_version, r.window_start))
            if r.failed and found is None:
                _open(con, model_name, r, now)
                fired += 1
            elif r.failed and found is not None and found[2] is None:
                reopened = found[1] is not None
                con.execute(
                    "UPDATE alerts SET value = ?, threshold = ?, severity = ?, detail = ?, "
                    "last_seen_at = ?, resolved_at = NULL, "
                    "fired_at = CASE WHEN ? THEN ? ELSE fired_at END, "
                    "acknowledged_by = CASE WHEN ? THEN NULL ELSE acknowledged_by END, "
                    "acknowledged_at = CASE WHEN ? THEN NULL ELSE acknowledged_at END, "
                    "snoozed_until = CASE WHEN ? THEN NULL ELSE snoozed_until END "
                    "WHERE alert_id = ?",
                    [r.value, r.threshold, r.rule.severity.value, r.detail, now,
                     reopened, now, reopened, reopened, reopened, found[0]],
                )  # fmt: skip
                fired += int(reopened)
            elif r.passed and found is not None and found[1] is None:
                con.execute(
                    "UPDATE alerts SET resolved_at = ?, last_seen_at = ? WHERE alert_id = ?",
                    [now, now, found[0]],
                )
                resolved += 1
    return fired, resolved


def close_alerts_of_rule(con: duckdb.DuckDBPyConnection, rule_id: int, why: str) -> None:
    """Resolve a rule's unresolved alerts when the rule changes (inside its transaction)."""
    con.execute(
        "UPDATE alerts SET resolved_at = ?, note = ? WHERE rule_id = ? AND resolved_at IS NULL",
        [_now(), why, rule_id],
    )


# ---------------------------------------------------------------- what people do


def _act(
    store: Store,
    user: User,
    alert_id: int,
    action: str,
    note: str,
    sets: dict[str, Any],
    *,
    allowed: Collection[AlertState],
) -> Alert:
    """Apply one person's action to an alert and audit it, in one transaction."""
    text = (note or "").strip()
    if not text:
        raise AlertError("Add a note: what was seen or done (it is kept in the audit trail).")
    with store.transaction() as con:
        alert = get_alert(con, alert_id)
        require(user, "edit_rules", f"handle alerts of {alert.model_name}")
        found = check(con, user)
        if not found.current:
            raise PermissionDenied(f"{found.message} Nothing was changed.")
        state = alert.state()
        if state not in allowed:
            raise AlertError(
                f"Alert {alert_id} is {state.value}"
                + (f" (by {alert.resolved_by})" if alert.resolved_by else "")
                + f"; it cannot be {action.split('_')[0]}d now."
            )
        sets = {**sets, "note": text}
        con.execute(
            f"UPDATE alerts SET {', '.join(f'{k} = ?' for k in sets)} WHERE alert_id = ?",
            [*sets.values(), alert_id],
        )
        audit.append(
            con,
            actor=user.username,
            actor_role=user.role,
            action=action,
            model_name=alert.model_name,
            model_version=alert.model_version,
            rationale=text,
            evidence={
                "alert_id": alert_id,
                "alert": alert.describe(),
                "state_before": state.value,
                **{k: v for k, v in sets.items() if k != "note"},
            },
        )
        return get_alert(con, alert_id)


UNRESOLVED = (AlertState.OPEN, AlertState.ACKNOWLEDGED, AlertState.SNOOZED)


def acknowledge(store: Store, user: User, alert_id: int, *, note: str) -> Alert:
    """Someone has seen the alert and owns it; it stays open until it passes or is resolved."""
    now = _now()
    sets = {"acknowledged_by": user.username, "acknowledged_at": now}
    allowed = (AlertState.OPEN, AlertState.SNOOZED)
    return _act(store, user, alert_id, "acknowledge_alert", note, sets, allowed=allowed)


def snooze(store: Store, user: User, alert_id: int, *, until: dt.datetime, note: str) -> Alert:
    """Leave the open lists until `until` (UTC); after it the alert counts again if unresolved."""
    if until.tzinfo is not None:
        until = until.astimezone(dt.UTC).replace(tzinfo=None)
    if until <= _now():
        raise AlertError(f"Snooze until a time in the future, not {until:%Y-%m-%d %H:%M} UTC.")
    sets = {"snoozed_by": user.username, "snoozed_until": until}
    return _act(store, user, alert_id, "snooze_alert", note, sets, allowed=UNRESOLVED)


def resolve(store: Store, user: User, alert_id: int, *, note: str) -> Alert:
    """Close the alert with a note; evaluation will not reopen it (see the module's doc)."""
    sets = {"resolved_by": user.username, "resolved_at": _now()}
    return _act(store, user, alert_id, "resolve_alert", note, sets, allowed=UNRESOLVED)
