"""How a challenger takes part in serving: shadow, canary or A/B, and who allowed it.

- shadow: the challenger scores every request beside the champion; its answer is logged,
  never returned. Customers see nothing of it, so an analyst may start it alone.
- canary / A/B: a share of requests is *answered* by an unapproved model, so it needs a
  four-eyes approval of its own: an analyst asks (share and end date), an approver or admin
  who is neither the requester nor the version's registrant approves. Both are audited.
Assignment is sticky: a request key (the instance's request_id) hashed with the route id
lands on the same arm every time, so a customer does not flip between models.
One open route per model at a time; a route ends on its end date, when someone ends it, or
when its version stops being a candidate (approved into production, rejected, archived).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from dataclasses import dataclass
from typing import Any

import duckdb

from vigil.core.errors import AuthError, PermissionDenied, RegistryError
from vigil.core.govern import audit, auth
from vigil.core.registry.versions import get_version
from vigil.core.store.connection import Store

MAX_DAYS = 90
CANDIDATE_STATUSES = ("registered", "pending_approval", "approved")
ASKERS = frozenset({"analyst", "admin"})
DECIDERS = frozenset({"approver", "admin"})
ENDERS = frozenset({"analyst", "approver", "admin"})


class RouteMode(enum.Enum):
    SHADOW = "shadow"
    CANARY = "canary"
    AB = "ab"


class RouteState(enum.Enum):
    PENDING = "pending"
    ACTIVE = "active"
    REFUSED = "refused"
    ENDED = "ended"


class RouteError(RegistryError):
    """A routing rule was broken (share, end date, a second open route, a bad version)."""


@dataclass(frozen=True)
class Route:
    route_id: int
    model_name: str
    model_version: str
    mode: RouteMode
    share: float
    ends_at: dt.datetime
    state: RouteState
    requested_by: str
    requested_at: dt.datetime
    rationale: str
    decided_by: str | None
    decided_at: dt.datetime | None
    ended_by: str | None
    ended_at: dt.datetime | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def challenger_share(route_id: int, key: str) -> float:
    """Where a request key falls in [0, 1) for this route: same key, same arm, every time."""
    digest = hashlib.sha256(f"{route_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def answers_with_challenger(mode: RouteMode, route_id: int, share: float, key: str) -> bool:
    return mode is not RouteMode.SHADOW and challenger_share(route_id, key) < share


_COLUMNS = (
    "route_id, model_name, model_version, mode, share, ends_at, state, requested_by, "
    "requested_at, rationale, decided_by, decided_at, ended_by, ended_at"
)


def _route(row: tuple[Any, ...]) -> Route:
    values = list(row)
    values[3], values[6] = RouteMode(values[3]), RouteState(values[6])
    return Route(*values)


def get_route(con: duckdb.DuckDBPyConnection, route_id: int) -> Route:
    row = con.execute(
        f"SELECT {_COLUMNS} FROM serve_routes WHERE route_id = ?", [route_id]
    ).fetchone()
    if row is None:
        raise RouteError(f"Route #{route_id} does not exist (see `vigil routes list`).")
    return _route(row)


def list_routes(store: Store, model_name: str | None = None) -> list[Route]:
    where, params = ("WHERE model_name = ?", [model_name]) if model_name else ("", [])
    with store.connect() as con:
        rows = con.execute(
            f"SELECT {_COLUMNS} FROM serve_routes {where} ORDER BY route_id DESC", params
        ).fetchall()
    return [_route(r) for r in rows]


def live_routes(con: duckdb.DuckDBPyConnection, now: dt.datetime | None = None) -> list[Route]:
    """Active, unexpired routes whose version is still a candidate: what the gateway serves."""
    rows = con.execute(
        f"SELECT {', '.join('r.' + c.strip() for c in _COLUMNS.split(','))} FROM serve_routes r "
        "JOIN model_versions v USING (model_name, model_version) WHERE r.state = 'active' "
        f"AND r.ends_at > ? AND v.status IN ({', '.join('?' * len(CANDIDATE_STATUSES))}) "
        "ORDER BY r.route_id",
        [now or _now(), *CANDIDATE_STATUSES],
    ).fetchall()
    return [_route(r) for r in rows]


def _current(
    con: duckdb.DuckDBPyConnection, user: auth.User, roles: frozenset[str], what: str
) -> auth.User:
    current = auth.get_user(con, user.username)
    if current.role not in roles:
        raise PermissionDenied(
            f"{current.username} is {current.role_phrase} and cannot {what}; it needs one of: "
            f"{', '.join(r for r in auth.ROLES if r in roles)}."
        )
    return current


def _check_request(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    version: str,
    mode: RouteMode,
    share: float,
    ends_at: dt.datetime,
) -> None:
    found = get_version(con, model_name, version)
    if found.status not in CANDIDATE_STATUSES:
        raise RouteError(
            f"{model_name} {version} is {found.status_label}; only a registered, pending or "
            "approved version that is not the champion can be routed."
        )
    now = _now()
    if not now < ends_at <= now + dt.timedelta(days=MAX_DAYS):
        raise RouteError(f"A route must end within {MAX_DAYS} days from now, in the future.")
    if mode is RouteMode.CANARY and not 0.0 < share <= 0.5:
        raise RouteError("A canary answers a share of traffic above 0 and at most 0.5.")
    if mode is RouteMode.AB and not 0.0 < share < 1.0:
        raise RouteError("An A/B test gives the challenger a share strictly between 0 and 1.")
    if mode is RouteMode.SHADOW and share != 0.0:
        raise RouteError("A shadow route answers no traffic; leave the share out.")
    open_route = con.execute(
        "SELECT route_id, mode, state FROM serve_routes WHERE model_name = ? "
        "AND state IN ('pending', 'active') AND ends_at > ?",
        [model_name, now],
    ).fetchone()
    if open_route:
        raise RouteError(
            f"{model_name} already has route #{open_route[0]} ({open_route[1]}, "
            f"{open_route[2]}); end it first (`vigil routes end {open_route[0]}`)."
        )


def request_route(
    store: Store,
    user: auth.User,
    *,
    model_name: str,
    model_version: str,
    mode: RouteMode,
    share: float,
    ends_at: dt.datetime,
    rationale: str,
) -> Route:
    """Start a shadow route (active at once) or ask for a canary / A/B (pending approval)."""
    if not rationale.strip():
        raise AuthError("Give a reason for the route; it goes into the audit trail.")
    with store.transaction() as con:
        actor = _current(con, user, ASKERS, f"start a {mode.value} route")
        _check_request(con, model_name, model_version, mode, share, ends_at)
        (route_id,) = con.execute("SELECT nextval('serve_route_seq')").fetchall()[0]
        state = RouteState.ACTIVE if mode is RouteMode.SHADOW else RouteState.PENDING
        record = _audit(con, actor, "route_start" if state is RouteState.ACTIVE else "route_request",
                        model_name, model_version, rationale,
                        route_id=route_id, mode=mode.value, share=share, ends_at=ends_at.isoformat())  # fmt: skip
        con.execute(
            f"INSERT INTO serve_routes ({_COLUMNS}, request_seq) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, ?)",
            [route_id, model_name, model_version, mode.value, share, ends_at, state.value,
             actor.username, record["recorded_at"], rationale.strip(), record["seq"]],
        )  # fmt: skip
        return get_route(con, route_id)


def _audit(
    con: duckdb.DuckDBPyConnection,
    actor: auth.User,
    action: str,
    model_name: str,
    model_version: str,
    rationale: str,
    **evidence: Any,
) -> dict[str, Any]:
    return audit.append(
        con,
        actor=actor.username,
        actor_role=actor.role,
        action=action,
        model_name=model_name,
        model_version=model_version,
        rationale=rationale.strip(),
        evidence=evidence,
    )


def decide_route(
    store: Store, user: auth.User, route_id: int, *, approve: bool, rationale: str
) -> Route:
    """Approve or refuse a pending canary / A/B: a second person, never the asker or registrant."""
    if not rationale.strip():
        raise AuthError("Give a reason for the decision; it goes into the audit trail.")
    with store.transaction() as con:
        actor = _current(con, user, DECIDERS, "approve or refuse a route")
        route = get_route(con, route_id)
        if route.state is not RouteState.PENDING:
            raise RouteError(f"Route #{route_id} is {route.state.value}, not pending a decision.")
        registrant = get_version(con, route.model_name, route.model_version).registered_by
        if actor.username in (route.requested_by, registrant):
            raise PermissionDenied(
                f"Four-eyes: {actor.username} requested route #{route_id} or registered "
                f"{route.model_name} {route.model_version}; someone else must decide."
            )
        if approve:
            _check_still_valid(con, route)
        state = RouteState.ACTIVE if approve else RouteState.REFUSED
        record = _audit(con, actor, "route_approve" if approve else "route_refuse",
                        route.model_name, route.model_version, rationale, route_id=route_id,
                        mode=route.mode.value, share=route.share, ends_at=route.ends_at.isoformat())  # fmt: skip
        con.execute(
            "UPDATE serve_routes SET state = ?, decided_by = ?, decided_at = ?, decision_seq = ? "
            "WHERE route_id = ? AND state = 'pending'",
            [state.value, actor.username, record["recorded_at"], record["seq"], route_id],
        )
        return get_route(con, route_id)


def _check_still_valid(con: duckdb.DuckDBPyConnection, route: Route) -> None:
    status = get_version(con, route.model_name, route.model_version).status
    if status not in CANDIDATE_STATUSES:
        raise RouteError(
            f"{route.model_name} {route.model_version} is now {status}; refuse the route."
        )
    if route.ends_at <= _now():
        raise RouteError(f"Route #{route.route_id} passed its end date; refuse it and ask again.")


def end_route(store: Store, user: auth.User, route_id: int, rationale: str) -> Route:
    """Stop a pending or active route now (traffic returns to the champion alone)."""
    if not rationale.strip():
        raise AuthError("Give a reason for ending the route; it goes into the audit trail.")
    with store.transaction() as con:
        actor = _current(con, user, ENDERS, "end a route")
        route = get_route(con, route_id)
        if route.state not in (RouteState.PENDING, RouteState.ACTIVE):
            raise RouteError(f"Route #{route_id} is already {route.state.value}.")
        record = _audit(con, actor, "route_end", route.model_name, route.model_version,
                        rationale, route_id=route_id, mode=route.mode.value)  # fmt: skip
        con.execute(
            "UPDATE serve_routes SET state = 'ended', ended_by = ?, ended_at = ?, end_seq = ? "
            "WHERE route_id = ?",
            [actor.username, record["recorded_at"], record["seq"], route_id],
        )
        return get_route(con, route_id)
