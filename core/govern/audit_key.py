"""The audit key: a secret that never lives in the database, so whoever can edit the store
cannot re-sign the audit chain after an edit.

The key comes from VIGIL_AUDIT_KEY, else from the file VIGIL_AUDIT_KEY_FILE (by default
~/.config/vigil/audit.key, outside VIGIL_HOME, mode 0600; `vigil init` creates it). In
production mode (VIGIL_MODE=production) Vigil refuses to sign anyone in or change the store
without it. Signed checkpoints of the chain go to an append-only file beside the key.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from vigil.core import settings
from vigil.core.errors import AuditKeyError

MIN_KEY_CHARS = 32
_KEY_ID_LABEL = b"vigil audit key id"


class Mode(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


def mode() -> Mode:
    value = settings.get("mode").strip().lower()
    try:
        return Mode(value)
    except ValueError:
        raise AuditKeyError(
            f"VIGIL_MODE={value!r} is not a mode; use development or production."
        ) from None


@dataclass(frozen=True)
class AuditKey:
    """The HMAC-SHA256 key of the audit chain and where it came from (never its value)."""

    secret: bytes
    source: str

    def mac(self, text: str) -> str:
        return hmac.new(self.secret, text.encode("utf-8"), hashlib.sha256).hexdigest()

    @property
    def key_id(self) -> str:
        """A fingerprint that names the key in records and messages without revealing it."""
        return hmac.new(self.secret, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def key_file() -> Path:
    return Path(settings.get("audit_key_file")).expanduser().resolve()


def checkpoint_file() -> Path:
    configured = settings.get("checkpoint_file").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    return key_file().parent / "checkpoints.jsonl"


def _checked(text: str, source: str) -> AuditKey:
    value = text.strip()
    if len(value) < MIN_KEY_CHARS:
        raise AuditKeyError(
            f"The audit key from {source} has {len(value)} characters; it needs at least "
            f"{MIN_KEY_CHARS}. Create a proper one with `vigil init`."
        )
    return AuditKey(value.encode("utf-8"), source)


def load_key() -> AuditKey | None:
    """The configured key, or None when there is none; a key that exists but is unsafe
    (too short, readable by others) is refused rather than silently used."""
    from_env = settings.get("audit_key")
    if from_env.strip():
        return _checked(from_env, "VIGIL_AUDIT_KEY")
    path = key_file()
    if not path.exists():
        return None
    mode_bits = stat.S_IMODE(path.stat().st_mode)
    if mode_bits & 0o077:
        raise AuditKeyError(
            f"The audit key file {path} can be read by other users (mode {mode_bits:o}); "
            f"restrict it with `chmod 600 {path}`."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise AuditKeyError(f"Cannot read the audit key file {path}: {err.strerror}.") from err
    return _checked(text, str(path))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def require_audit_key() -> AuditKey | None:
    """The key; in production mode, refuse to go on without one or with one kept in the store's
    own folder (whoever copies the store would copy the key with it)."""
    key = load_key()
    if mode() is not Mode.PRODUCTION:
        return key
    if key is None:
        raise AuditKeyError(
            "VIGIL_MODE=production needs an audit key and none is configured: run `vigil init` "
            f"to create {key_file()}, or set VIGIL_AUDIT_KEY_FILE or VIGIL_AUDIT_KEY."
        )
    if key.source != "VIGIL_AUDIT_KEY" and _inside(Path(key.source), settings.home()):
        raise AuditKeyError(
            f"The audit key file {key.source} is inside VIGIL_HOME ({settings.home()}); move it "
            "elsewhere and point VIGIL_AUDIT_KEY_FILE at it."
        )
    return key


@dataclass(frozen=True)
class KeySetup:
    """What `vigil init` did about the key, for its report."""

    source: str
    created: bool


def create_key() -> KeySetup:
    """Create the key file (0600, in a 0700 folder) unless a key is already configured."""
    existing = load_key()
    if existing is not None:
        return KeySetup(existing.source, created=False)
    path = key_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another init won the race: use its key
        return KeySetup(str(path), created=False)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return KeySetup(str(path), created=True)
