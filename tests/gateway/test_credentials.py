"""OAuth2 bearer JWTs against the configured issuer key, and the per-key rate limit."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from tests.gateway.helpers import key, rows
from vigil.core.serve import snapshot
from vigil.core.store.connection import Store
from vigil.gateway.app import create_app

URL = "/v1/models/toy/predict"
ISSUER = "https://login.bank.example"


def _pem_pair() -> tuple[bytes, bytes]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return (
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        public,
    )


@pytest.fixture
def issuer(served: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, bytes]:
    private, public = _pem_pair()
    path = tmp_path / "issuer.pem"
    path.write_bytes(public)
    monkeypatch.setenv("VIGIL_GATEWAY_JWT_PUBLIC_KEY", str(path))
    monkeypatch.setenv("VIGIL_GATEWAY_JWT_ISSUER", ISSUER)
    snapshot.publish(served)
    return private, public


def _token(private: bytes, **overrides: object) -> str:
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, object] = {
        "sub": "loan-frontend",
        "iss": ISSUER,
        "aud": "vigil-gateway",
        "scope": "predict:toy openid",
        "exp": now + dt.timedelta(minutes=5),
        "iat": now,
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, private, algorithm="RS256")


def _hs256_with(secret: bytes) -> str:
    """A token 'signed' with HS256 using the public key as the secret, built by hand (PyJWT
    refuses to make one)."""

    def part(data: dict[str, object]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    exp = int((dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).timestamp())
    head = part({"alg": "HS256", "typ": "JWT"})
    body = part(
        {"sub": "x", "aud": "vigil-gateway", "iss": ISSUER, "scope": "predict:toy", "exp": exp}
    )
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_bearer_jwts_are_verified(served: Store, issuer: tuple[bytes, bytes]) -> None:
    private, public = issuer
    other, _ = _pem_pair()
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    cases = {
        _token(private): 200,
        _token(private, scope="predict:other ingest:toy"): 403,
        _token(private, scope=None, scp=["predict:toy"]): 200,
        _token(private, exp=past): 401,
        _token(private, aud="someone-else"): 401,
        _token(private, iss="https://evil.example"): 401,
        _token(private, exp=None): 401,
        _token(other): 401,
        # the issuer's public key used as an HMAC secret (algorithm confusion) is refused
        _hs256_with(public): 401,
    }  # fmt: skip
    with TestClient(create_app(served.home)) as client:
        for token, status in cases.items():
            response = client.post(
                URL, json={"instances": rows(1)}, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == status, (response.text, jwt.get_unverified_header(token))
        assert (
            client.post(
                URL, json={"instances": rows(1)}, headers={"Authorization": "Basic x"}
            ).status_code
            == 401
        )


def test_bearer_refused_without_a_configured_issuer(served: Store) -> None:
    private, _ = _pem_pair()
    snapshot.publish(served)
    with TestClient(create_app(served.home)) as client:
        response = client.post(
            URL, json={"instances": rows(1)}, headers={"Authorization": f"Bearer {_token(private)}"}
        )
    assert response.status_code == 401 and "issuer" in response.json()["detail"]


def test_rate_limit_per_key(served: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_GATEWAY_RATE_LIMIT", "3")
    first, second = key(served), key(served)
    snapshot.publish(served)
    with TestClient(create_app(served.home)) as client:
        codes = [
            client.post(URL, json={"instances": rows(1)}, headers={"X-API-Key": first}).status_code
            for _ in range(4)
        ]
        other = client.post(URL, json={"instances": rows(1)}, headers={"X-API-Key": second})
    if codes[3] == 200:  # the minute turned between two requests: the window restarted
        pytest.skip("minute boundary")
    assert codes == [200, 200, 200, 429] and other.status_code == 200
