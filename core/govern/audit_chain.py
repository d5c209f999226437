"""The audit chain: what each record's hash covers, how it is keyed, and how it is verified.

Every record's hash covers its content and the previous record's hash, so no record can be
changed, removed or inserted without breaking the links after it. From the record that
introduced the audit key on ("audit_key_introduced"), the hash is an HMAC-SHA256 with a key
that does not live in the database: someone who can edit the store but does not hold the key
cannot recompute a valid chain after an edit, nor append a record that verifies. Records
written before the key are plain SHA-256; the key-introduced record seals their head hash as
it was then, and verification says which records those are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from vigil.core.govern.audit_key import AuditKey

GENESIS_HASH = "0" * 64
KEY_INTRODUCED = "audit_key_introduced"
AUDIT_FIELDS = (
    "seq",
    "recorded_at",
    "actor",
    "actor_role",
    "action",
    "model_name",
    "model_version",
    "from_status",
    "to_status",
    "alias",
    "rationale",
    "evidence",
    "prev_hash",
)


def canonical(record: dict[str, Any]) -> str:
    """The exact text that is hashed: sorted keys, no whitespace, ISO-8601 UTC times."""
    body = {key: record[key] for key in AUDIT_FIELDS}
    if isinstance(body["recorded_at"], dt.datetime):
        body["recorded_at"] = body["recorded_at"].isoformat(timespec="microseconds")
    if isinstance(body["evidence"], str):
        body["evidence"] = json.loads(body["evidence"])
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def record_hash(record: dict[str, Any], key: AuditKey | None = None) -> str:
    """HMAC-SHA256 of the canonical text with the audit key; plain SHA-256 without one."""
    text = canonical(record)
    return key.mac(text) if key is not None else hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ChainStatus:
    """The chain's verdict. `keyed_from` is the record that introduced the audit key (records
    before it predate the key); `key_id` the fingerprint of that key."""

    valid: bool
    records: int
    first_broken_seq: int | None
    message: str
    keyed_from: int | None = None
    key_id: str | None = None


def keying_note(status: ChainStatus, key: AuditKey | None) -> str:
    """Which records the key protects, in a sentence for people."""
    n, first = status.records, status.keyed_from
    if n == 0:
        return "The log is empty." + ("" if key else " No audit key is configured.")
    if first is None:
        nxt = " The next change introduces the configured key." if key else ""
        return (
            f"None of the {n} records is keyed: they were written without an audit key, so "
            f"anyone who can write the store could rewrite and re-hash them undetected.{nxt}"
        )
    keyed = f"keyed with HMAC-SHA256 (key id {status.key_id})"
    if first == 1:
        return f"All {n} records are {keyed}."
    return (
        f"Records 1–{first - 1} predate the audit key: they are plain SHA-256, sealed as they "
        f"were by record {first}, which introduced the key. Records {first}–{n} are {keyed}."
    )


def _broken(
    records: int, seq: int, message: str, first: int | None, kid: str | None
) -> ChainStatus:
    return ChainStatus(False, records, seq, message, first, kid)


def verify_records(records: list[dict[str, Any]], key: AuditKey | None) -> ChainStatus:
    """Recompute every link and hash, keyed from the key-introduced record on; point at the
    first record that does not match."""
    n = len(records)
    expected_prev = GENESIS_HASH
    keyed_from: int | None = None
    key_id: str | None = None
    for index, record in enumerate(records, start=1):
        seq = record["seq"]
        if seq != index:
            message = f"Record {index} is missing: the next record has sequence {seq}."
            return _broken(n, seq, message, keyed_from, key_id)
        if record["prev_hash"] != expected_prev:
            message = (
                f"Record {seq} does not link to record {index - 1}: a record was removed, "
                "inserted or rewritten."
            )
            return _broken(n, seq, message, keyed_from, key_id)
        if keyed_from is None and record["action"] == KEY_INTRODUCED:
            keyed_from, key_id = seq, _evidence(record).get("key_id")
            problem = _key_problem(record, n, key_id, key)
            if problem:
                return _broken(n, seq, problem, keyed_from, key_id)
        if record_hash(record, key if keyed_from else None) != record["hash"]:
            who = f"Record {seq} ({record['action']} by {record['actor']})"
            message = (
                f"{who} does not carry the audit key's signature: it was edited, re-hashed or "
                "added by someone without the key."
                if keyed_from
                else f"{who} was edited after it was written: its content no longer matches "
                "its hash."
            )
            return _broken(n, seq, message, keyed_from, key_id)
        expected_prev = record["hash"]
    return ChainStatus(True, n, None, f"All {n} records verified.", keyed_from, key_id)


def _evidence(record: dict[str, Any]) -> dict[str, Any]:
    evidence = record["evidence"]
    parsed = json.loads(evidence) if isinstance(evidence, str) else evidence
    return parsed if isinstance(parsed, dict) else {}


def _key_problem(
    record: dict[str, Any], n: int, key_id: str | None, key: AuditKey | None
) -> str | None:
    """Why the keyed part cannot be checked: no key, or a key other than the one it names."""
    seq = record["seq"]
    if key is None:
        return (
            f"Records {seq}–{n} are keyed (key id {key_id}) and no audit key is configured: set "
            "VIGIL_AUDIT_KEY_FILE or VIGIL_AUDIT_KEY to the key this store was keyed with."
        )
    if key.key_id != key_id and record_hash(record, key) != record["hash"]:
        return (
            f"Records {seq}–{n} are keyed with key id {key_id}, but the configured key has id "
            f"{key.key_id}: point VIGIL_AUDIT_KEY_FILE at the key this store was keyed with "
            f"(or record {seq} was edited)."
        )
    return None


# --- reading the chain from the store ----------------------------------------------------


def read_records(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every record, oldest first, as stored (evidence as JSON text)."""
    cursor = con.execute(f"SELECT {', '.join((*AUDIT_FIELDS, 'hash'))} FROM audit_log ORDER BY seq")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def keyed_by(con: duckdb.DuckDBPyConnection) -> tuple[int, str | None] | None:
    """(seq, key id) of the record that introduced the audit key, or None."""
    row = con.execute(
        "SELECT seq, evidence FROM audit_log WHERE action = ? ORDER BY seq LIMIT 1",
        [KEY_INTRODUCED],
    ).fetchone()
    if row is None:
        return None
    return int(row[0]), json.loads(row[1]).get("key_id")


def store_path(con: duckdb.DuckDBPyConnection) -> str | None:
    """The database file behind `con`, resolved: the store's name in checkpoint lines."""
    row = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return str(Path(row[0]).resolve()) if row and row[0] else None
