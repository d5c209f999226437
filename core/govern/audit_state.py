"""What the tables should hold according to the audit log, and where they do not.

Replaying the log gives the state every governed table should be in: users with their role
and whether they are disabled, each version's status, aliases, gate thresholds, drift
thresholds and alert rules. Anything in a table that the log does not explain (a role edited
in `users`, a status set in `model_versions`, a sock-puppet user inserted without a record)
is a mismatch, and the first one is named. The key-introduced record of an older store
carries a snapshot of the state as found then, and the replay starts from it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

Key = tuple[Any, ...]


@dataclass(frozen=True)
class Projection:
    """One governed table: how to read it, and how to word a disagreement about one row."""

    name: str
    sql: str
    width: int  # the first `width` columns identify the row, the rest are its value
    describe: Callable[[Key], str]
    show: Callable[[Key], str] = lambda v: ", ".join(map(str, v))
    table: str | None = None  # checked only where this table exists (newer schemas)


PROJECTIONS = (
    Projection(
        "users",
        "SELECT username, role, disabled FROM users ORDER BY username",
        1,
        lambda k: f"User {k[0]}",
        lambda v: f"{v[0]}{' (disabled)' if v[1] else ''}",
    ),
    Projection(
        "statuses",
        "SELECT model_name, model_version, status FROM model_versions "
        "ORDER BY model_name, model_version",
        2,
        lambda k: f"{k[0]} {k[1]}",
    ),
    Projection(
        "aliases",
        "SELECT model_name, alias, model_version FROM aliases ORDER BY model_name, alias",
        2,
        lambda k: f"{k[0]}: the {k[1]} alias",
    ),
    Projection(
        "gate_thresholds",
        "SELECT model_name, gate, threshold FROM gate_thresholds ORDER BY model_name, gate",
        2,
        lambda k: f"{k[0]}: the threshold of gate {k[1]}",
    ),
    Projection(
        "drift_thresholds",
        "SELECT model_name, feature, test, threshold FROM drift_settings "
        "ORDER BY model_name, feature, test",
        3,
        lambda k: f"{k[0]}: the drift threshold of {k[2]} for {k[1]}",
    ),
    Projection(
        "alert_rules",
        "SELECT rule_id, model_name, metric, comparison, threshold, enabled FROM alert_rules "
        "ORDER BY rule_id",
        1,
        lambda k: f"Alert rule {k[0]}",
        lambda v: f"{v[1]} {v[2]} {v[3]} on {v[0]}{'' if v[4] else ' (disabled)'}",
    ),
    Projection(
        "alert_thresholds",
        "SELECT model_name, name, threshold FROM policy_thresholds WHERE kind = 'alert' "
        "ORDER BY model_name, name",
        2,
        lambda k: f"{k[0]}: the threshold of alert rule {k[1]}",
        table="policy_thresholds",
    ),
)
BY_NAME = {p.name: p for p in PROJECTIONS}


def read_tables(con: duckdb.DuckDBPyConnection) -> dict[str, dict[Key, Key]]:
    """Every governed table as {row identity: value}."""
    out: dict[str, dict[Key, Key]] = {}
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    for projection in PROJECTIONS:
        if projection.table is not None and projection.table not in tables:
            continue
        rows = con.execute(projection.sql).fetchall()
        out[projection.name] = {
            tuple(r[: projection.width]): tuple(r[projection.width :]) for r in rows
        }
    return out


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[list[Any]]]:
    """The governed tables as JSON lists, for the record that introduces the audit key."""
    return {name: [[*k, *v] for k, v in rows.items()] for name, rows in read_tables(con).items()}


@dataclass
class Replay:
    """The expected state: {projection: {row identity: (value, seq of the record that set it)}}."""

    rows: dict[str, dict[Key, tuple[Key, int]]] = field(
        default_factory=lambda: {p.name: {} for p in PROJECTIONS}
    )

    def put(self, name: str, key: Key, value: Key, seq: int) -> None:
        self.rows[name][key] = (value, seq)

    def drop(self, name: str, key: Key) -> None:
        self.rows[name].pop(key, None)

    def load_snapshot(self, state: dict[str, list[list[Any]]], seq: int) -> None:
        for name, rows in state.items():
            if name in BY_NAME:
                width = BY_NAME[name].width
                for row in rows:
                    self.put(name, tuple(row[:width]), tuple(row[width:]), seq)


def _apply_users(replay: Replay, r: dict[str, Any], ev: dict[str, Any]) -> None:
    user = ev.get("user")
    if not isinstance(user, str):
        return
    current = replay.rows["users"].get((user,))
    role, disabled = current[0] if current else (None, False)
    if r["action"] == "user_add":
        role, disabled = ev.get("role"), False
    elif r["action"] == "user_role":
        role = ev.get("to_role")
    elif r["action"] in ("user_disable", "user_enable"):
        disabled = r["action"] == "user_disable"
    else:
        return
    replay.put("users", (user,), (role, disabled), r["seq"])


def _apply_registry(replay: Replay, r: dict[str, Any], ev: dict[str, Any]) -> None:
    model, version = r["model_name"], r["model_version"]
    if model is None or version is None:
        return
    if r["to_status"] is not None:
        replay.put("statuses", (model, version), (r["to_status"],), r["seq"])
    removed = ev.get("alias_removed")
    if isinstance(removed, str):
        held = replay.rows["aliases"].get((model, removed))
        if held is not None and held[0] == (version,):
            replay.drop("aliases", (model, removed))
    if r["alias"] is not None:
        replay.put("aliases", (model, r["alias"]), (version,), r["seq"])


def _apply_thresholds(replay: Replay, r: dict[str, Any], ev: dict[str, Any]) -> None:
    """Gate, drift and alert thresholds, in the evidence shape policy changes write."""
    action, model, seq = r["action"], r["model_name"], r["seq"]
    drift_key = (model, ev.get("feature"), ev.get("test"))
    alert_key = (model, str(ev.get("rule_id")))
    if action == "set_gate_threshold" and "gate" in ev:
        replay.put("gate_thresholds", (model, ev["gate"]), (ev.get("new"),), seq)
    elif action == "set_drift_threshold":
        replay.put("drift_thresholds", drift_key, (ev.get("threshold"),), seq)
    elif action == "reset_drift_threshold":
        replay.drop("drift_thresholds", drift_key)
    elif action == "set_alert_threshold":
        replay.put("alert_thresholds", alert_key, (ev.get("threshold"),), seq)
    elif action == "reset_alert_threshold":
        replay.drop("alert_thresholds", alert_key)


RULE_FIELDS = ("model_name", "metric", "comparison", "threshold", "enabled")


def _apply_alert_rules(replay: Replay, r: dict[str, Any], ev: dict[str, Any]) -> None:
    """Alert rules as added (the whole rule) and edited (each change as [before, after])."""
    action, seq = r["action"], r["seq"]
    if action == "add_alert_rule" and isinstance(ev.get("rule"), dict):
        rule = {**ev["rule"], "model_name": r["model_name"]}
        replay.put(
            "alert_rules", (rule.get("rule_id"),), tuple(rule.get(f) for f in RULE_FIELDS), seq
        )
    elif action.endswith("_alert_rule") and isinstance(ev.get("changes"), dict):
        current = replay.rows["alert_rules"].get((ev.get("rule_id"),))
        if current is None:
            return
        fields = dict(zip(RULE_FIELDS, current[0], strict=True))
        for name, change in ev["changes"].items():
            if name in fields and isinstance(change, list) and len(change) == 2:
                fields[name] = change[1]
        replay.put("alert_rules", (ev.get("rule_id"),), tuple(fields.values()), seq)


APPLIERS = (_apply_users, _apply_registry, _apply_thresholds, _apply_alert_rules)


def replay(records: list[dict[str, Any]], start_after: int = 0) -> Replay:
    """The state the log implies, from the snapshot in record `start_after` (0: from nothing)."""
    state = Replay()
    for record in records:
        evidence = record["evidence"]
        ev = json.loads(evidence) if isinstance(evidence, str) else (evidence or {})
        if record["seq"] == start_after and isinstance(ev.get("state"), dict):
            state.load_snapshot(ev["state"], record["seq"])
        if record["seq"] <= start_after:
            continue
        for apply in APPLIERS:
            apply(state, record, ev)
    return state


def _same(a: Key, b: Key) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if isinstance(x, int | float) and isinstance(y, int | float) and not isinstance(x, bool):
            if not math.isclose(float(x), float(y), rel_tol=1e-12, abs_tol=0.0):
                return False
        elif x != y:
            return False
    return True


def mismatches(tables: dict[str, dict[Key, Key]], expected: Replay) -> list[str]:
    """Every disagreement between the tables and the log, in a stable order."""
    problems: list[str] = []
    for projection in PROJECTIONS:
        if projection.name not in tables:
            continue
        actual, wanted = tables[projection.name], expected.rows[projection.name]
        for key in sorted({*actual, *wanted}, key=lambda k: tuple(map(str, k))):
            subject = projection.describe(key)
            if key not in wanted:
                problems.append(
                    f"{subject} is {projection.show(actual[key])} but no audit record says so: it was "
                    "written outside Vigil."
                )
            elif key not in actual:
                problems.append(
                    f"{subject} is missing, but the audit log (#{wanted[key][1]}) says "
                    f"{projection.show(wanted[key][0])}: it was removed outside Vigil."
                )
            elif not _same(actual[key], wanted[key][0]):
                problems.append(
                    f"{subject} is {projection.show(actual[key])}, but its latest audit record "
                    f"(#{wanted[key][1]}) says {projection.show(wanted[key][0])}: it was changed outside "
                    "Vigil or records were removed."
                )
    return problems
