"""Who is calling the gateway: an API key (from the published state) or an OAuth2 bearer JWT.

API keys are checked exactly as `tokens.authenticate_token` checks them, against the keys the
publisher verified against the audit log. Bearer JWTs are verified with PyJWT against the
configured issuer's public key (asymmetric algorithms only, so a token signed with the public
key as an HMAC secret is refused), with a required expiry, audience and, when set, issuer;
their scopes come from the standard `scope` claim (space separated) or `scp` (a list).
The rate limit counts requests per principal per minute in this worker.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from vigil.core import settings
from vigil.core.errors import AuthError, VigilError
from vigil.core.govern import tokens
from vigil.core.govern.tokens import Principal, PrincipalKind

JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


class RateLimited(VigilError):
    """Too many requests from one key or client in the current minute."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class JwtConfig:
    public_key: str
    issuer: str | None
    audience: str

    @classmethod
    def from_settings(cls) -> JwtConfig | None:
        path = settings.get("gateway_jwt_public_key").strip()
        if not path:
            return None
        try:
            key = Path(path).expanduser().read_text()
        except OSError as err:
            raise VigilError(
                f"VIGIL_GATEWAY_JWT_PUBLIC_KEY={path}: cannot read the issuer's public key ({err})."
            ) from err
        return cls(
            key,
            settings.get("gateway_jwt_issuer").strip() or None,
            settings.get("gateway_jwt_audience"),
        )


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    raw = claims.get("scope", claims.get("scp", []))
    if isinstance(raw, str):
        return frozenset(raw.split())
    if isinstance(raw, list):
        return frozenset(str(s) for s in raw)
    return frozenset()


def jwt_principal(token: str, config: JwtConfig | None, scope: str) -> Principal:
    if config is None:
        raise AuthError(
            "Bearer tokens are not accepted here (no issuer key configured); use an API key."
        )
    try:
        claims = jwt.decode(
            token,
            config.public_key,
            algorithms=JWT_ALGORITHMS,
            audience=config.audience,
            issuer=config.issuer,
            options={"require": ["exp", "sub"] + (["iss"] if config.issuer else [])},
        )
    except jwt.ExpiredSignatureError as err:
        raise AuthError("The bearer token has expired.") from err
    except jwt.PyJWTError as err:
        raise AuthError(f"The bearer token is not valid: {err}.") from err
    principal = Principal(str(claims["sub"]), PrincipalKind.OAUTH, _scopes(claims))
    tokens.require_scope(principal, scope)
    return principal


def principal_for(
    keys: dict[str, tokens.KeyRecord],
    *,
    api_key: str | None,
    authorization: str | None,
    jwt_config: JwtConfig | None,
    scope: str,
    now: dt.datetime,
    cache: KeyCache | None = None,
) -> Principal:
    """The caller, allowed `scope`; AuthError (401) or PermissionDenied (403) otherwise."""
    bearer = None
    if authorization:
        kind, _, value = authorization.partition(" ")
        if kind.lower() != "bearer" or not value.strip():
            raise AuthError("Authorization must be 'Bearer <token>'.")
        bearer = value.strip()
    if api_key is None and bearer is not None and bearer.startswith(tokens.TOKEN_PREFIX + "_"):
        api_key, bearer = bearer, None
    if api_key is not None:
        return _api_key_principal(keys, api_key, scope, now, cache)
    if bearer is not None:
        return jwt_principal(bearer, jwt_config, scope)
    raise AuthError("Send an API key (X-API-Key header) or an OAuth2 bearer token.")


KeyCache = dict[str, tuple[tokens.KeyRecord, Principal]]
CACHE_SIZE = 10_000


def _api_key_principal(
    keys: dict[str, tokens.KeyRecord],
    token: str,
    scope: str,
    now: dt.datetime,
    cache: KeyCache | None,
) -> Principal:
    """check_key, skipping the hash for a token already verified against this very record
    (the same published state); expiry and scope are checked every time."""
    key_id = token.strip().split("_")[1] if token.count("_") == 2 else ""
    record = keys.get(key_id)
    hit = cache.get(token) if cache is not None else None
    if hit is None or record is None or hit[0] is not record:
        principal = tokens.check_key(record, token, scope, now)
        if cache is not None and record is not None:
            if len(cache) >= CACHE_SIZE:
                cache.clear()
            cache[token] = (record, principal)
        return principal
    if record.expires_at <= now:
        return tokens.check_key(record, token, scope, now)  # raises with the expiry message
    tokens.require_scope(hit[1], scope)
    return hit[1]


class RateLimiter:
    """Fixed one-minute windows per principal; `limit` 0 means no limit."""

    def __init__(self, limit_per_minute: int) -> None:
        self.limit = limit_per_minute
        self._counts: dict[str, int] = {}
        self._window = 0
        self._lock = threading.Lock()

    def check(self, who: str, now: float | None = None) -> None:
        if self.limit <= 0:
            return
        now = time.time() if now is None else now
        window = int(now // 60)
        with self._lock:
            if window != self._window:
                self._window, self._counts = window, {}
            count = self._counts.get(who, 0) + 1
            self._counts[who] = count
        if count > self.limit:
            raise RateLimited(
                f"{who} made more than {self.limit} requests this minute; slow down.",
                retry_after_s=60 - int(now % 60),
            )
