"""The append-only, hash-chained audit log: every state change, who made it, and why."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import duckdb

GENESIS_HASH = "0" * 64
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


def record_hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(record).encode()).hexdigest()


def append(
    con: duckdb.DuckDBPyConnection,
    *,
    actor: str,
    actor_role: str,
    action: str,
    rationale: str,
    model_name: str | None = None,
    model_version: str | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    alias: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Append one record chained to the last; call inside the transaction of the change."""
    last = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev_hash = (1, GENESIS_HASH) if last is None else (last[0] + 1, last[1])
    record: dict[str, Any] = {
        "seq": seq,
        "recorded_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "actor": actor,
        "actor_role": actor_role,
        "action": action,
        "model_name": model_name,
        "model_version": model_version,
        "from_status": from_status,
        "to_status": to_status,
        "alias": alias,
        "rationale": rationale,
        "evidence": json.loads(json.dumps(evidence or {}, default=str, sort_keys=True)),
        "prev_hash": prev_hash,
    }
    record["hash"] = record_hash(record)
    con.execute(
        f"INSERT INTO audit_log ({', '.join((*AUDIT_FIELDS, 'hash'))}) "
        f"VALUES ({', '.join('?' * (len(AUDIT_FIELDS) + 1))})",
        [
            *(
                json.dumps(record[k], sort_keys=True) if k == "evidence" else record[k]
                for k in AUDIT_FIELDS
            ),
            record["hash"],
        ],
    )
    return record


@dataclass(frozen=True)
class ChainStatus:
    valid: bool
    records: int
    first_broken_seq: int | None
    message: str


def read_records(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cursor = con.execute(f"SELECT {', '.join((*AUDIT_FIELDS, 'hash'))} FROM audit_log ORDER BY seq")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def verify(con: duckdb.DuckDBPyConnection) -> ChainStatus:
    """Recompute every hash and link; point at the first record that does not match."""
    records = read_records(con)
    expected_prev = GENESIS_HASH
    for index, record in enumerate(records, start=1):
        if record["seq"] != index:
            return ChainStatus(
                False,
                len(records),
                record["seq"],
                f"Record {index} is missing: the next record has sequence {record['seq']}.",
            )
        if record["prev_hash"] != expected_prev:
            return ChainStatus(
                False,
                len(records),
                record["seq"],
                f"Record {record['seq']} does not link to record {index - 1}: a record was "
                "removed, inserted or rewritten.",
            )
        if record_hash(record) != record["hash"]:
            return ChainStatus(
                False,
                len(records),
                record["seq"],
                f"Record {record['seq']} ({record['action']} by {record['actor']}) was edited "
                "after it was written: its content no longer matches its hash.",
            )
        expected_prev = record["hash"]
    return ChainStatus(True, len(records), None, f"All {len(records)} records verified.")
