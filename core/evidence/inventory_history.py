"""The inventory entry's history, read back from its audit records: every change with its old
and new values, and the entries whose table row no longer matches the record that wrote it
(changed directly in the database, or the record removed)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from vigil.core.evidence.inventory import ACTION, FIELD_LABELS, STORED, get_entry
from vigil.core.store.connection import Store


@dataclass(frozen=True)
class InventoryChange:
    seq: int
    recorded_at: dt.datetime
    actor: str
    actor_role: str
    changes: tuple[tuple[str, Any, Any], ...]  # (field label, old, new)
    rationale: str


def history(store: Store, model_name: str) -> list[InventoryChange]:
    """Every change of the model's entry, newest first, from its audit records."""
    with store.connect() as con:
        rows = con.execute(
            "SELECT seq, recorded_at, actor, actor_role, evidence, rationale FROM audit_log "
            "WHERE action = ? AND model_name = ? ORDER BY seq DESC",
            [ACTION, model_name],
        ).fetchall()
    return [
        InventoryChange(
            seq,
            at,
            actor,
            role,
            tuple(
                (FIELD_LABELS.get(k, k), v.get("old"), v.get("new"))
                for k, v in json.loads(evidence)["changes"].items()
            ),
            rationale,
        )
        for seq, at, actor, role, evidence, rationale in rows
    ]


def inventory_mismatches(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Recorded entries that differ from the entry their latest audit record wrote: the
    table was edited outside Vigil (or the record removed)."""
    latest: dict[str, dict[str, Any]] = {}
    for model, evidence in con.execute(
        "SELECT model_name, evidence FROM audit_log WHERE action = ? ORDER BY seq", [ACTION]
    ).fetchall():
        latest[model] = json.loads(evidence)
    problems = []
    for name in con.execute("SELECT model_name FROM model_inventory ORDER BY 1").fetchall():
        current = get_entry(con, name[0])
        logged = latest.get(current.model_name)
        if logged is None:
            problems.append(f"The inventory entry of {current.model_name} has no audit record.")
            continue
        differing = [
            FIELD_LABELS[k] for k in STORED if current.values()[k] != logged["entry"].get(k)
        ]
        if differing or logged.get("row_version") != current.row_version:
            problems.append(
                f"The inventory entry of {current.model_name} differs from its latest audit "
                f"record ({', '.join(differing) or 'row version'}): it was changed outside "
                "Vigil or records were removed."
            )
    return problems
