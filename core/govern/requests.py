"""Promotion requests: the unit a reviewer decides on, and how to read them.

A request is opened when a version is put up for promotion and settled (approved, rejected,
withdrawn) by the transition that moves the version out of pending approval
(core.govern.lifecycle). `row_version` goes up on every change, so a decision taken on a page
loaded before someone else acted is refused instead of overwriting it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import duckdb

from vigil.core.store.connection import Store


class RequestState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return self.value.capitalize()


@dataclass(frozen=True)
class PromotionRequest:
    request_id: int
    model_name: str
    model_version: str
    state: RequestState
    requested_by: str
    requested_by_role: str
    requested_at: dt.datetime
    request_rationale: str
    request_seq: int | None
    decided_by: str | None
    decided_by_role: str | None
    decided_at: dt.datetime | None
    decision_rationale: str | None
    decision_seq: int | None
    override_by: str | None
    override_at: dt.datetime | None
    override_rationale: str | None
    override_gates: tuple[str, ...]
    override_seq: int | None
    row_version: int

    @property
    def parties(self) -> frozenset[str]:
        """Who took part in the request and so may not decide it: requester and overrider."""
        return frozenset(p for p in (self.requested_by, self.override_by) if p)


def _from_row(row: dict[str, Any]) -> PromotionRequest:
    fields = {k: v for k, v in row.items() if k not in ("override_gates", "state")}
    overridden = row["override_gates"]
    return PromotionRequest(
        **fields,
        state=RequestState(row["state"]),
        override_gates=tuple(json.loads(overridden)) if overridden else (),
    )


def fetch(
    con: duckdb.DuckDBPyConnection, where: str = "", params: list[Any] | None = None
) -> list[PromotionRequest]:
    """Requests matching a WHERE clause (with its parameters), newest first."""
    cursor = con.execute(
        f"SELECT * FROM promotion_requests {where} ORDER BY request_id DESC", params or []
    )
    names = [d[0] for d in cursor.description or ()]
    return [_from_row(dict(zip(names, r, strict=True))) for r in cursor.fetchall()]


def pending_request(
    con: duckdb.DuckDBPyConnection, model_name: str, model_version: str
) -> PromotionRequest | None:
    found = fetch(
        con,
        "WHERE model_name = ? AND model_version = ? AND state = 'pending'",
        [model_name, model_version],
    )
    return found[0] if found else None


def latest_request(
    con: duckdb.DuckDBPyConnection, model_name: str, model_version: str
) -> PromotionRequest | None:
    """The version's newest request in any state (None if it was never put up)."""
    found = fetch(con, "WHERE model_name = ? AND model_version = ?", [model_name, model_version])
    return found[0] if found else None


def list_requests(
    store: Store, model_name: str | None = None, state: RequestState | None = None
) -> tuple[PromotionRequest, ...]:
    """Promotion requests, newest first, optionally of one model and/or in one state."""
    clauses: list[str] = []
    params: list[Any] = []
    if model_name:
        clauses.append("model_name = ?")
        params.append(model_name)
    if state:
        clauses.append("state = ?")
        params.append(state.value)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    with store.connect() as con:
        return tuple(fetch(con, where, params))


def get_request(store: Store, model_name: str, model_version: str) -> PromotionRequest | None:
    """The version's open promotion request, if any."""
    with store.connect() as con:
        return pending_request(con, model_name, model_version)
