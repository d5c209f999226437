"""Encryption at rest: the store's file, its write-ahead log and its spill files, with DuckDB's
own AES-GCM database encryption and a key that never lives in VIGIL_HOME.

The key comes from VIGIL_STORE_KEY, or from the file VIGIL_STORE_KEY_FILE names (readable by
its owner only). Without either, the store is a plain DuckDB file. DuckDB writes encrypted
files only through OpenSSL, which its httpfs extension brings; Vigil loads that extension if
it is installed and never downloads it. VIGIL_STORE_UNSAFE_CRYPTO=1 lets DuckDB's built-in
crypto write instead, whose nonces come from a weak generator: for tests, not for a bank.
"""

from __future__ import annotations

import stat
from pathlib import Path

import duckdb

from vigil.core import settings
from vigil.core.errors import StoreError
from vigil.core.store.locks import is_lock_conflict
from vigil.core.store.sql import quote_literal

CATALOG = "vigil"
MIN_KEY_CHARS = 16


def store_key(home: Path) -> str | None:
    """The configured key, or None for a plain store; refuses weak or badly kept keys."""
    key = settings.get("store_key")
    source = "VIGIL_STORE_KEY"
    key_file = settings.get("store_key_file").strip()
    if not key and key_file:
        path = Path(key_file).expanduser().resolve()
        source = str(path)
        if not path.is_file():
            raise StoreError(f"VIGIL_STORE_KEY_FILE={key_file}: no such file")
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise StoreError(
                f"The store key file {path} is readable by others; run `chmod 600 {path}`."
            )
        if path.is_relative_to(home.resolve()):
            raise StoreError(
                f"The store key file {path} lies inside VIGIL_HOME ({home}), next to the data "
                "it protects; keep it elsewhere."
            )
        key = path.read_text().strip()
    if not key:
        return None
    if len(key) < MIN_KEY_CHARS:
        raise StoreError(f"The store key from {source} is shorter than {MIN_KEY_CHARS} characters.")
    return key


def enable_writing(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET autoinstall_known_extensions = false")
    try:
        con.execute("LOAD httpfs")
        return
    except duckdb.Error:
        pass
    if settings.get("store_unsafe_crypto").strip() != "1":
        raise StoreError(
            "The store is set to be encrypted (VIGIL_STORE_KEY or VIGIL_STORE_KEY_FILE), but "
            "DuckDB can write encrypted files only through OpenSSL, which its httpfs "
            f"extension brings, and that extension is not installed for DuckDB "
            f"{duckdb.__version__}. Install it (`INSTALL httpfs` in DuckDB on a machine that "
            "may download it, or copy the extension file into ~/.duckdb/extensions), or unset "
            "the key to keep a plain store."
        )
    con.execute("SET force_mbedtls_unsafe = true")


def connect_encrypted(db_path: Path, key: str) -> duckdb.DuckDBPyConnection:
    """A connection whose default catalog is the encrypted store (created if missing)."""
    con = duckdb.connect(":memory:")
    try:
        enable_writing(con)
        con.execute(
            f"ATTACH {quote_literal(str(db_path))} AS {CATALOG} "
            f"(ENCRYPTION_KEY {quote_literal(key)})"
        )
    except duckdb.IOException:
        con.close()
        raise  # a lock held by another process: the caller waits and retries
    except duckdb.Error as err:
        con.close()
        if is_lock_conflict(err):  # attached in another instance of this process
            raise
        raise StoreError(_explain(db_path, err)) from err
    except StoreError:
        con.close()
        raise
    con.execute(f"USE {CATALOG}")
    con.execute("SET temp_file_encryption = true")
    return con


def _explain(db_path: Path, err: duckdb.Error) -> str:
    text = str(err)
    if "is not encrypted" in text:
        return (
            f"The store {db_path} is not encrypted, but a store key is set. Encrypt it with "
            "vigil.core.store.encryption.encrypt_copy, or unset VIGIL_STORE_KEY(_FILE)."
        )
    if "Wrong encryption key" in text or "key" in text.lower():
        return f"Cannot open the encrypted store {db_path}: the key does not fit ({text[:200]})."
    return f"Cannot open the encrypted store {db_path}: {text[:200]}"


def refuse_plain_open_of_encrypted(db_path: Path, err: duckdb.Error) -> StoreError | None:
    """The message for opening an encrypted store without a key, if that is what happened."""
    if "encrypted database" in str(err) and "without a key" in str(err):
        return StoreError(
            f"The store {db_path} is encrypted: set VIGIL_STORE_KEY or VIGIL_STORE_KEY_FILE."
        )
    return None


def encrypt_copy(plain: Path, encrypted: Path, key: str) -> None:
    """Copy a plain store into a new encrypted file (then swap the files while Vigil is
    stopped): DuckDB cannot encrypt a database in place."""
    if encrypted.exists():
        raise StoreError(f"{encrypted} exists already; choose a new file.")
    con = duckdb.connect(":memory:")
    try:
        enable_writing(con)
        con.execute(f"ATTACH {quote_literal(str(plain))} AS plain_store (READ_ONLY)")
        con.execute(
            f"ATTACH {quote_literal(str(encrypted))} AS {CATALOG} "
            f"(ENCRYPTION_KEY {quote_literal(key)})"
        )
        con.execute(f"COPY FROM DATABASE plain_store TO {CATALOG}")
    finally:
        con.close()
