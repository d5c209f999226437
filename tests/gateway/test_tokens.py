"""API keys attacked: revoked, expired, out of scope, edited in the database, made by a non-admin."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from tests.gateway.conftest import ADMIN, ANALYST
from vigil.core.errors import AuthError, PermissionDenied, UnknownModelError
from vigil.core.govern import audit, tokens
from vigil.core.store.connection import Store


def issue(store: Store, *scopes: str, days: int = 30) -> tokens.IssuedKey:
    return tokens.create_key(
        store,
        ADMIN,
        account="scoring-app",
        scopes=scopes or ("predict:toy",),
        expires_days=days,
        rationale="loan front end",
    )


def test_a_key_authenticates_for_its_scope_only(served: Store) -> None:
    key = issue(served, "predict:toy")
    principal = tokens.authenticate_token(served, key.token, "predict:toy")
    assert principal.name == "scoring-app"
    assert principal.kind is tokens.PrincipalKind.SERVICE
    assert principal.key_id == key.key_id
    with pytest.raises(PermissionDenied, match="ingest for toy"):
        tokens.authenticate_token(served, key.token, "ingest:toy")
    with pytest.raises(PermissionDenied):
        tokens.authenticate_token(served, key.token, "predict:other-model")


def test_secrets_are_high_entropy_shown_once_and_stored_hashed(served: Store) -> None:
    first, second = issue(served), issue(served)
    assert first.token != second.token and first.key_id != second.key_id
    secret = first.token.rsplit("_", 1)[1]
    assert len(secret) == 64 and int(secret, 16) >= 0  # 32 random bytes
    raw = served.db_path.read_bytes()
    assert secret.encode() not in raw and first.token.encode() not in raw
    with served.connect() as con:
        dump = json.dumps(con.execute("SELECT * FROM api_keys").fetchall(), default=str)
        dump += json.dumps(con.execute("SELECT * FROM audit_log").fetchall(), default=str)
    assert secret not in dump
    # the verifier is SHA-256 over the secret bound to the attributes, recomputed independently
    body = json.dumps(
        [
            first.key_id,
            "scoring-app",
            ["predict:toy"],
            first.expires_at.isoformat(timespec="seconds"),
            secret,
        ],
        separators=(",", ":"),
    )
    with served.connect() as con:
        stored = con.execute(
            "SELECT verifier FROM api_keys WHERE key_id = ?", [first.key_id]
        ).fetchone()[0]
    assert stored == hashlib.sha256(body.encode()).hexdigest()


def test_wrong_secret_garbage_and_unknown_ids_are_refused(served: Store) -> None:
    key = issue(served)
    key_id, secret = tokens.parse_token(key.token)
    forged = f"vgl_{key_id}_{'A' * 43}"
    for token in (forged, "vgl_0000000000000000_" + secret, "hello", ""):
        with pytest.raises(AuthError):
            tokens.authenticate_token(served, token, "predict:toy")


def test_a_revoked_key_is_refused_and_revoking_is_audited(served: Store) -> None:
    key = issue(served)
    info = tokens.revoke_key(served, ADMIN, key.key_id, "app retired")
    assert info.status is tokens.KeyStatus.REVOKED and info.revoked_by == "adam"
    with pytest.raises(AuthError, match="revoked"):
        tokens.authenticate_token(served, key.token, "predict:toy")
    with served.connect() as con:
        actions = [r["action"] for r in audit.read_records(con)]
    assert actions[-2:] == ["api_key_create", "api_key_revoke"]
    with pytest.raises(AuthError, match="already revoked"):
        tokens.revoke_key(served, ADMIN, key.key_id, "again")


def test_an_expired_key_is_refused(served: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    key = issue(served, days=1)
    assert tokens.authenticate_token(served, key.token, "predict:toy")
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1, seconds=5)
    monkeypatch.setattr(tokens, "_now", lambda: later)
    with pytest.raises(AuthError, match="expired"):
        tokens.authenticate_token(served, key.token, "predict:toy")
    assert tokens.list_keys(served)[0].status is tokens.KeyStatus.EXPIRED


@pytest.mark.parametrize(
    "edit",
    [
        'UPDATE api_keys SET scopes = \'["ingest:toy", "predict:toy"]\'',
        "UPDATE api_keys SET expires_at = expires_at + INTERVAL 300 DAY",
        "UPDATE api_keys SET account = 'someone-else'",
    ],
)
def test_a_key_row_edited_in_the_database_stops_working(served: Store, edit: str) -> None:
    key = issue(served, "predict:toy")
    with served.transaction() as con:
        con.execute(edit)
    with pytest.raises(AuthError):
        tokens.authenticate_token(served, key.token, "predict:toy")
    with served.connect() as con:
        assert tokens.verified_keys(con) == []


def test_an_unrevoked_row_with_its_old_verifier_is_still_refused(served: Store) -> None:
    key = issue(served)
    with served.connect() as con:
        old = con.execute("SELECT verifier FROM api_keys").fetchone()[0]
    tokens.revoke_key(served, ADMIN, key.key_id, "leaked")
    with served.transaction() as con:
        con.execute("UPDATE api_keys SET verifier = ?, revoked_at = NULL, revoked_by = NULL", [old])
    with pytest.raises(AuthError, match="edited outside Vigil"):
        tokens.authenticate_token(served, key.token, "predict:toy")
    with served.connect() as con:
        assert tokens.verified_keys(con) == []


def test_a_key_inserted_behind_vigils_back_is_refused(served: Store) -> None:
    """An attacker with database access writes their own key row with a valid verifier."""
    key_id, secret = "ab" * 8, "b" * 64
    expires = dt.datetime(2030, 1, 1)
    verifier = tokens.compute_verifier(secret, key_id, "evil", ("predict:toy",), expires)
    with served.transaction() as con:
        con.execute(
            "INSERT INTO api_keys (key_id, account, scopes, verifier, created_by, created_at, "
            "expires_at) VALUES (?, 'evil', '[\"predict:toy\"]', ?, 'adam', now(), ?)",
            [key_id, verifier, expires],
        )
    with pytest.raises(AuthError, match="audit record"):
        tokens.authenticate_token(served, f"vgl_{key_id}_{secret}", "predict:toy")


def test_only_a_current_admin_creates_or_revokes_keys(served: Store) -> None:
    with pytest.raises(PermissionDenied):
        tokens.create_key(
            served, ANALYST, account="x-app", scopes=("predict:toy",), rationale="please"
        )
    key = issue(served)
    with pytest.raises(PermissionDenied):
        tokens.revoke_key(served, ANALYST, key.key_id, "mine now")
    with served.transaction() as con:  # adam demoted while his session still says admin
        con.execute("UPDATE users SET role = 'viewer' WHERE username = 'adam'")
    with pytest.raises(PermissionDenied):
        issue(served)


def test_bad_requests_for_keys_are_explained(served: Store) -> None:
    with pytest.raises(UnknownModelError, match="nope"):
        issue(served, "predict:nope")
    with pytest.raises(AuthError, match="1 to 730"):
        issue(served, days=0)
    with pytest.raises(AuthError, match="reason"):
        tokens.create_key(served, ADMIN, account="app", scopes=("predict:toy",), rationale=" ")
    with pytest.raises(AuthError, match="Account name"):
        tokens.create_key(served, ADMIN, account="Bad Name", scopes=("predict:toy",), rationale="r")


def test_list_shows_status_and_never_a_verifier(served: Store) -> None:
    kept, dropped = issue(served), issue(served, "ingest:toy")
    tokens.revoke_key(served, ADMIN, dropped.key_id, "done")
    infos = {i.key_id: i for i in tokens.list_keys(served, "toy")}
    assert infos[kept.key_id].status is tokens.KeyStatus.ACTIVE
    assert infos[dropped.key_id].status is tokens.KeyStatus.REVOKED
    assert not any(hasattr(i, "verifier") for i in infos.values())
    assert tokens.list_keys(served, "other") == []


def test_users_and_keys_meet_the_same_scope_check(served: Store) -> None:
    from vigil.core.govern.auth import User

    tokens.require_scope(tokens.user_principal(ANALYST), "ingest:toy")
    with pytest.raises(PermissionDenied, match="vic"):
        tokens.require_scope(tokens.user_principal(User("vic", "viewer")), "ingest:toy")
    with pytest.raises(PermissionDenied):
        tokens.require_scope(tokens.user_principal(User("rita", "approver")), "ingest:toy")
    principal = tokens.authenticate_token(served, issue(served, "ingest:toy").token, "ingest:toy")
    tokens.require_scope(principal, "ingest:toy")
