"""Password hashing: Argon2id with OWASP's parameters, and the old scrypt hashes read once more.

OWASP's Password Storage Cheat Sheet (2024) recommends Argon2id with at least 19 MiB of
memory, 2 iterations and 1 degree of parallelism; argon2-cffi is the vetted binding of the
reference implementation. Hashes written by earlier Vigil versions (`scrypt$n$r$p$salt$digest`)
are still verified, and `Verification.needs_upgrade` tells the caller to store an Argon2id
hash in their place once the password is known to be right.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP Password Storage Cheat Sheet: m=19456 KiB (19 MiB), t=2, p=1.
ARGON2_MEMORY_KIB = 19_456
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1

_HASHER = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_KIB,
    parallelism=ARGON2_PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)
_LEGACY_PREFIX = "scrypt$"
# Verified instead of a real hash when the user does not exist, so that an unknown name costs
# the same work (and time) as a known one. Its password is irrelevant: nobody can match it.
_DUMMY_HASH = _HASHER.hash("vigil: no such user, this hash only spends the same time")


@dataclass(frozen=True)
class Verification:
    """Whether the password matched, and whether its stored hash should be rewritten."""

    ok: bool
    needs_upgrade: bool = False


def hash_password(password: str) -> str:
    """An Argon2id hash in PHC string form ($argon2id$v=19$m=...,t=...,p=...$salt$hash)."""
    return _HASHER.hash(password)


def verify_password(password: str, stored: str) -> Verification:
    """Check `password` against an Argon2id or legacy scrypt hash; never raises on bad input."""
    if stored.startswith(_LEGACY_PREFIX):
        return Verification(_verify_scrypt(password, stored), needs_upgrade=True)
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return Verification(False)
    return Verification(True, needs_upgrade=_HASHER.check_needs_rehash(stored))


def spend_equal_time(password: str) -> None:
    """Do the work of one verification against a hash that matches nothing."""
    verify_password(password, _DUMMY_HASH)


def _verify_scrypt(password: str, stored: str) -> bool:
    """Earlier Vigil versions' format: scrypt$n$r$p$salt_hex$digest_hex, 32-byte digest."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), dklen=32, n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)
