"""Encryption at rest: with a key, no feature value is in the file in clear; without, it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.factories import log_rows, register_toy
from vigil.core.errors import StoreError
from vigil.core.ingest.predictions import ingest_predictions
from vigil.core.store import connection
from vigil.core.store.connection import Store

SECRET = "zanzibar-7f3c9e"  # a feature value nobody should read off the disk


def _ingest_secret(home: Path, folder: Path) -> Store:
    store = Store(home)
    register_toy(store, folder)
    rows = log_rows(40)
    rows["region"] = SECRET
    rows.to_csv(folder / "logs.csv", index=False)
    assert ingest_predictions(store, "toy", folder / "logs.csv").stored == 40
    return store


def _on_disk(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.iterdir() if p.name.startswith("vigil.duckdb"))


@pytest.mark.parametrize("encrypted", [True, False])
def test_the_file_on_disk_holds_feature_values_only_when_not_encrypted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encrypted: bool
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("VIGIL_HOME", str(home))
    if encrypted:
        monkeypatch.setenv("VIGIL_STORE_KEY", "correct horse battery staple")
        monkeypatch.setenv("VIGIL_STORE_UNSAFE_CRYPTO", "1")  # no OpenSSL build here
    store = _ingest_secret(home, tmp_path)
    with store.connect() as con:
        assert con.execute("SELECT count(*) FROM log_toy WHERE region = ?", [SECRET]).fetchone()
    assert (SECRET.encode() in _on_disk(home)) is not encrypted


def test_the_key_comes_from_a_private_file_outside_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    key_file = tmp_path / "store.key"
    key_file.write_text("a key kept in a file, not in the store\n")
    key_file.chmod(0o600)
    monkeypatch.setenv("VIGIL_STORE_KEY_FILE", str(key_file))
    monkeypatch.setenv("VIGIL_STORE_UNSAFE_CRYPTO", "1")
    with Store(home).connect() as con:
        con.execute("CREATE TABLE note AS SELECT ? AS s", [SECRET])
    assert SECRET.encode() not in _on_disk(home)
    key_file.chmod(0o644)
    with pytest.raises(StoreError, match=r"store\.key is readable by others; run `chmod 600"):
        Store(home).connect().__enter__()


def test_a_missing_or_wrong_key_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("VIGIL_STORE_KEY", "the first key, long enough")
    monkeypatch.setenv("VIGIL_STORE_UNSAFE_CRYPTO", "1")
    with Store(home).connect():
        pass
    monkeypatch.delenv("VIGIL_STORE_KEY")
    connection._migrated.discard(Store(home).db_path)
    with pytest.raises(StoreError, match=r"is encrypted: set VIGIL_STORE_KEY"):
        Store(home).connect().__enter__()
    monkeypatch.setenv("VIGIL_STORE_KEY", "a different key, also long")
    with pytest.raises(StoreError, match=r"Cannot open the encrypted store"):
        Store(home).connect().__enter__()


def test_weak_crypto_is_never_chosen_silently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without OpenSSL (httpfs) DuckDB's built-in crypto would reuse-prone nonces: refused."""
    monkeypatch.setenv("VIGIL_STORE_KEY", "correct horse battery staple")
    monkeypatch.delenv("VIGIL_STORE_UNSAFE_CRYPTO", raising=False)
    try:
        with Store(tmp_path / "home").connect():
            return  # httpfs is installed here: encryption is the real thing
    except StoreError as err:
        assert "httpfs" in str(err) and "unset the key to keep a plain store" in str(err)
    assert not (tmp_path / "home" / "vigil.duckdb").exists()
