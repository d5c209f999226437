"""API keys for service accounts (pipelines, applications calling the gateway).

A key is `vgl_<key id>_<secret>`: the key id is public (it names the key in lists and the audit
log), the secret has 256 bits of entropy and is shown once. The store keeps only a verifier:
SHA-256 over the secret *and* the key's attributes (account, scopes, expiry). Whoever edits a
key row in the database (wider scopes, a later expiry, another account) cannot recompute it
without the secret, so the edited key stops working. A key must also match the audit record of
its creation and have no revocation record, so a row inserted or "un-revoked" behind Vigil's
back is refused too. Only admins create and revoke keys, each change audited.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

import duckdb

from vigil.core import settings
from vigil.core.errors import AuthError, PermissionDenied, UnknownModelError
from vigil.core.govern import audit, auth
from vigil.core.store.connection import Store

TOKEN_PREFIX = "vgl"
SCOPE_KINDS = ("predict", "ingest")
ACCOUNT = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")
TOKEN = re.compile(r"^vgl_([0-9a-f]{16})_([0-9a-f]{64})$")
MAX_DAYS = 730


class KeyStatus(enum.Enum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class PrincipalKind(enum.Enum):
    USER = "user"
    SERVICE = "service"
    OAUTH = "oauth"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a signed-in user, a service account's key, or an OAuth2 client."""

    name: str
    kind: PrincipalKind
    scopes: frozenset[str]
    key_id: str | None = None
    role: str | None = None

    def allows(self, scope: str) -> bool:
        kind = scope.split(":", 1)[0]
        return scope in self.scopes or f"{kind}:*" in self.scopes


@dataclass(frozen=True)
class KeyRecord:
    """What verifying a key needs; the gateway's snapshot carries these for active keys."""

    key_id: str
    account: str
    scopes: tuple[str, ...]
    verifier: str | None
    expires_at: dt.datetime
    revoked_at: dt.datetime | None


@dataclass(frozen=True)
class IssuedKey:
    """A new key; `token` exists only here and is never stored."""

    key_id: str
    account: str
    scopes: tuple[str, ...]
    expires_at: dt.datetime
    token: str


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    account: str
    scopes: tuple[str, ...]
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    revoked_by: str | None
    status: KeyStatus


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def scope_for(kind: str, model_name: str) -> str:
    if kind not in SCOPE_KINDS:
        raise AuthError(f"Scope {kind!r} does not exist; choose one of {', '.join(SCOPE_KINDS)}.")
    return f"{kind}:{model_name}"


def compute_verifier(
    secret: str, key_id: str, account: str, scopes: tuple[str, ...], expires_at: dt.datetime
) -> str:
    """SHA-256 binding the secret to the attributes it was issued with."""
    body = json.dumps(
        [key_id, account, sorted(scopes), expires_at.isoformat(timespec="seconds"), secret],
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str]:
    """(key id, secret), or AuthError for anything that is not a Vigil API key."""
    match = TOKEN.match(token.strip())
    if match is None:
        raise AuthError("This is not a Vigil API key (expected vgl_<key id>_<secret>).")
    return match.group(1), match.group(2)


def check_key(record: KeyRecord | None, token: str, scope: str, now: dt.datetime) -> Principal:
    """The key's principal if the secret matches, the key is live and allows `scope`.

    Pure (no store), so the gateway checks keys from its snapshot exactly as the CLI does."""
    key_id, secret = parse_token(token)
    if record is None or record.key_id != key_id:
        raise AuthError("API key not recognised.")
    if record.revoked_at is not None or record.verifier is None:
        raise AuthError(f"API key {key_id} was revoked; ask an admin for a new key.")
    expected = compute_verifier(
        secret, record.key_id, record.account, record.scopes, record.expires_at
    )
    if not hmac.compare_digest(expected, record.verifier):
        raise AuthError("API key not recognised.")
    if record.expires_at <= now:
        raise AuthError(
            f"API key {key_id} expired on {record.expires_at:%Y-%m-%d %H:%M} UTC; ask an admin "
            "for a new key."
        )
    principal = Principal(record.account, PrincipalKind.SERVICE, frozenset(record.scopes), key_id)
    require_scope(principal, scope)
    return principal


USER_SCOPES = {"ingest": "ingest"}  # scope kind -> the role permission that grants it


def user_principal(user: auth.User) -> Principal:
    """A signed-in user as a principal: ingest on every model if the role may ingest. Lets a
    command accept either a user or a service account's key and check one scope."""
    scopes = frozenset(
        f"{kind}:*" for kind, permission in USER_SCOPES.items() if user.can(permission)
    )
    return Principal(user.username, PrincipalKind.USER, scopes, role=user.role)


def require_scope(principal: Principal, scope: str) -> None:
    if not principal.allows(scope):
        held = ", ".join(sorted(principal.scopes)) or "none"
        raise PermissionDenied(
            f"{principal.name} may not {scope.replace(':', ' for ', 1)} (its scopes: {held})."
        )


def _admin(con: duckdb.DuckDBPyConnection, actor: auth.User, action: str) -> auth.User:
    """The actor as the store knows them now: a demoted or disabled admin is refused."""
    current = auth.get_user(con, actor.username)
    auth.require(current, "manage_users", action)
    return current


def _check_models(con: duckdb.DuckDBPyConnection, scopes: tuple[str, ...]) -> None:
    known = {r[0] for r in con.execute("SELECT model_name FROM models").fetchall()}
    for scope in scopes:
        kind, _, model = scope.partition(":")
        if kind not in SCOPE_KINDS:
            raise AuthError(f"Scope {scope!r}: {kind!r} is not one of {', '.join(SCOPE_KINDS)}.")
        if model != "*" and model not in known:
            raise UnknownModelError(f"Scope {scope!r}: model '{model}' is not registered.")


def create_key(
    store: Store,
    actor: auth.User,
    *,
    account: str,
    scopes: tuple[str, ...],
    expires_days: int | None = None,
    rationale: str,
) -> IssuedKey:
    """Issue a key for a service account; admins only, audited. The token is shown once."""
    if not ACCOUNT.match(account):
        raise AuthError(
            f"Account name {account!r} must be 2–64 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter."
        )
    if not scopes:
        raise AuthError("Give the key at least one scope, e.g. predict:credit-risk.")
    days = int(settings.get("api_key_days")) if expires_days is None else expires_days
    if not 0 < days <= MAX_DAYS:
        raise AuthError(f"A key expires after 1 to {MAX_DAYS} days (asked for {days}).")
    if not rationale.strip():
        raise AuthError("Give a reason for the key; it goes into the audit trail.")
    scopes = tuple(sorted(set(scopes)))
    key_id, secret = secrets.token_hex(8), secrets.token_hex(32)
    expires_at = (_now() + dt.timedelta(days=days)).replace(microsecond=0)
    verifier = compute_verifier(secret, key_id, account, scopes, expires_at)
    with store.transaction() as con:
        admin = _admin(con, actor, "create API keys")
        _check_models(con, scopes)
        con.execute(
            "INSERT INTO api_keys (key_id, account, scopes, verifier, created_by, created_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [key_id, account, json.dumps(scopes), verifier, admin.username, _now(), expires_at],
        )
        audit.append(
            con,
            actor=admin.username,
            actor_role=admin.role,
            action="api_key_create",
            rationale=rationale.strip(),
            model_name=_single_model(scopes),
            evidence={
                "key_id": key_id,
                "account": account,
                "scopes": list(scopes),
                "expires_at": expires_at.isoformat(timespec="seconds"),
                "verifier": verifier,
            },
        )
    return IssuedKey(key_id, account, scopes, expires_at, f"{TOKEN_PREFIX}_{key_id}_{secret}")


def _single_model(scopes: tuple[str, ...]) -> str | None:
    models = {s.partition(":")[2] for s in scopes}
    return models.pop() if len(models) == 1 else None


def revoke_key(store: Store, actor: auth.User, key_id: str, rationale: str) -> KeyInfo:
    """Revoke a key for good: its verifier is erased, so no edit can bring it back."""
    if not rationale.strip():
        raise AuthError("Give a reason for revoking the key; it goes into the audit trail.")
    with store.transaction() as con:
        admin = _admin(con, actor, "revoke API keys")
        info = _info(con, key_id)
        if info.revoked_at is not None:
            raise AuthError(f"API key {key_id} was already revoked on {info.revoked_at:%Y-%m-%d}.")
        con.execute(
            "UPDATE api_keys SET verifier = NULL, revoked_at = ?, revoked_by = ? WHERE key_id = ?",
            [_now(), admin.username, key_id],
        )
        audit.append(
            con,
            actor=admin.username,
            actor_role=admin.role,
            action="api_key_revoke",
            rationale=rationale.strip(),
            model_name=_single_model(info.scopes),
            evidence={"key_id": key_id, "account": info.account},
        )
        return _info(con, key_id)


_COLUMNS = (
    "key_id, account, scopes, created_by, created_at, expires_at, revoked_at, revoked_by, verifier"
)


def _to_info(row: tuple[Any, ...], now: dt.datetime) -> KeyInfo:
    revoked, expires = row[6], row[5]
    status = (
        KeyStatus.REVOKED
        if revoked is not None
        else KeyStatus.EXPIRED
        if expires <= now
        else KeyStatus.ACTIVE
    )
    return KeyInfo(
        key_id=row[0],
        account=row[1],
        scopes=tuple(json.loads(row[2])),
        created_by=row[3],
        created_at=row[4],
        expires_at=expires,
        revoked_at=revoked,
        revoked_by=row[7],
        status=status,
    )


def _info(con: duckdb.DuckDBPyConnection, key_id: str) -> KeyInfo:
    row = con.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", [key_id]).fetchone()
    if row is None:
        raise AuthError(f"API key {key_id} does not exist (see `vigil keys list`).")
    return _to_info(row, _now())


def list_keys(store: Store, model_name: str | None = None) -> list[KeyInfo]:
    """Every key (never a secret or verifier), newest first; optionally those for one model."""
    with store.connect() as con:
        rows = con.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at DESC").fetchall()
    now = _now()
    infos = [_to_info(r, now) for r in rows]
    if model_name is None:
        return infos
    return [i for i in infos if any(s.partition(":")[2] in (model_name, "*") for s in i.scopes)]


def _audited(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Creation evidence per key id, and the key ids with a revocation record."""
    created: dict[str, dict[str, Any]] = {}
    revoked: set[str] = set()
    rows = con.execute(
        "SELECT action, evidence FROM audit_log "
        "WHERE action IN ('api_key_create', 'api_key_revoke') ORDER BY seq"
    ).fetchall()
    for action, evidence in rows:
        body = json.loads(evidence)
        if action == "api_key_create":
            created.setdefault(str(body.get("key_id")), body)
        else:
            revoked.add(str(body.get("key_id")))
    return created, revoked


def _record(row: tuple[Any, ...]) -> KeyRecord:
    return KeyRecord(row[0], row[1], tuple(json.loads(row[2])), row[8], row[5], row[6])


def _matches_audit(
    record: KeyRecord, created: dict[str, dict[str, Any]], revoked: set[str]
) -> bool:
    evidence = created.get(record.key_id)
    return (
        evidence is not None
        and record.key_id not in revoked
        and evidence.get("account") == record.account
        and sorted(evidence.get("scopes", [])) == sorted(record.scopes)
        and evidence.get("expires_at") == record.expires_at.isoformat(timespec="seconds")
        and evidence.get("verifier") == record.verifier
    )


def verified_keys(con: duckdb.DuckDBPyConnection) -> list[KeyRecord]:
    """Unrevoked, unexpired keys whose row equals the audit record that created them."""
    created, revoked = _audited(con)
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM api_keys WHERE revoked_at IS NULL AND verifier IS NOT NULL "
        "AND expires_at > ?",
        [_now()],
    ).fetchall()
    records = [_record(r) for r in rows]
    return [r for r in records if _matches_audit(r, created, revoked)]


def authenticate_token(store: Store, token: str, scope: str) -> Principal:
    """The service account behind `token`, allowed `scope` (e.g. 'ingest:credit-risk').

    Raises AuthError (unknown, revoked, expired or tampered key) or PermissionDenied (scope)."""
    key_id, _ = parse_token(token)
    with store.connect() as con:
        row = con.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", [key_id]).fetchone()
        created, revoked = _audited(con)
    record = None if row is None else _record(row)
    if record is not None and record.revoked_at is None and key_id in revoked:
        raise AuthError(
            f"API key {key_id} was revoked (audit log), but its row says otherwise: the key row "
            "was edited outside Vigil. Refused."
        )
    principal = check_key(record, token, scope, _now())
    assert record is not None
    if not _matches_audit(record, created, revoked):
        raise AuthError(
            f"API key {key_id} does not match the audit record of its creation: the key row was "
            "changed outside Vigil. Refused; revoke it and issue a new key."
        )
    return principal
