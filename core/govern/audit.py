"""The append-only audit log: every state change, who made it, and why.

Records are chained and, once an audit key is configured, keyed (core/govern/audit_chain.py,
audit_key.py); every unit of work that adds records appends a signed checkpoint outside the
database (checkpoints.py); verification also replays the log against the governed tables
(audit_state.py). This module is the entry point the rest of Vigil calls.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from vigil.core.errors import AuditKeyError, VigilError
from vigil.core.govern import audit_state, checkpoints
from vigil.core.govern.audit_chain import (
    AUDIT_FIELDS,
    GENESIS_HASH,
    KEY_INTRODUCED,
    ChainStatus,
    keyed_by,
    read_records,
    record_hash,
    store_path,
    verify_records,
)
from vigil.core.govern.audit_key import (
    AuditKey,
    Mode,
    checkpoint_file,
    load_key,
    mode,
    require_audit_key,
)
from vigil.core.govern.checkpoints import CheckpointState, CheckpointStatus
from vigil.core.store.connection import Store, after_commit

SYSTEM = ("vigil", "system")  # the actor of what Vigil records by itself


class AuditError(VigilError):
    """An audit record asked for does not exist, or the log cannot be read."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _insert(
    con: duckdb.DuckDBPyConnection,
    last: tuple[int, str] | None,
    fields: dict[str, Any],
    key: AuditKey | None,
) -> dict[str, Any]:
    seq, prev_hash = (1, GENESIS_HASH) if last is None else (last[0] + 1, last[1])
    record: dict[str, Any] = {
        "seq": seq,
        "recorded_at": _now(),
        "model_name": None,
        "model_version": None,
        "from_status": None,
        "to_status": None,
        "alias": None,
        **fields,
        "evidence": json.loads(
            json.dumps(fields.get("evidence") or {}, default=str, sort_keys=True)
        ),
        "prev_hash": prev_hash,
    }
    record["hash"] = record_hash(record, key)
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


def head(con: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
    """(seq, hash) of the newest record, or None for an empty log."""
    row = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def introduce_key(
    con: duckdb.DuckDBPyConnection, last: tuple[int, str] | None, key: AuditKey
) -> dict[str, Any]:
    """The record from which the chain is keyed: it seals the head of the unkeyed records
    before it and snapshots the governed tables as found, which the state check starts from."""
    count = 0 if last is None else last[0]
    return _insert(
        con,
        last,
        {
            "actor": SYSTEM[0],
            "actor_role": SYSTEM[1],
            "action": KEY_INTRODUCED,
            "rationale": (
                f"Audit key introduced (key id {key.key_id}); records 1–{count} predate it."
                if count
                else f"Audit key introduced (key id {key.key_id}) on an empty log."
            ),
            "evidence": {
                "key_id": key.key_id,
                "sealed_records": count,
                "sealed_head": GENESIS_HASH if last is None else last[1],
                "state": audit_state.snapshot(con),
            },
        },
        key,
    )


def _checked_key(
    con: duckdb.DuckDBPyConnection,
) -> tuple[AuditKey | None, tuple[int, str | None] | None]:
    """The key to write with and where the chain is keyed from; refused when the chain is
    keyed and this is not its key."""
    key = require_audit_key()
    keyed = keyed_by(con)
    if keyed is not None and key is None:
        raise AuditKeyError(
            f"The audit log is keyed since record {keyed[0]} (key id {keyed[1]}) and no audit "
            "key is configured: set VIGIL_AUDIT_KEY_FILE or VIGIL_AUDIT_KEY to that key."
        )
    if keyed is not None and key is not None and key.key_id != keyed[1]:
        raise AuditKeyError(
            f"The audit log is keyed with key id {keyed[1]}, but the configured key has id "
            f"{key.key_id}: point VIGIL_AUDIT_KEY_FILE at the key this store was keyed with."
        )
    return key, keyed


def checkpoint_after_commit(
    con: duckdb.DuckDBPyConnection, record: dict[str, Any], key: AuditKey
) -> None:
    """Sign `record` as the store's newest checkpoint once the unit of work commits (the last
    record of a batch wins); nothing is written if it rolls back."""
    db = store_path(con)
    if db is None:  # an in-memory database has nothing outside to anchor
        return
    path, seq, newest = checkpoint_file(), record["seq"], record["hash"]
    after_commit(
        con,
        "audit_checkpoint",
        lambda: checkpoints.append(path, checkpoints.sign(db, seq, newest, key)),
    )


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
    """Append one record chained to the last; call inside the transaction of the change.

    With a key, the record is keyed (the first one after the key appears is preceded by a
    key-introduced record) and a signed checkpoint is appended once the transaction commits.
    Without one, production mode refuses; development mode writes an unkeyed record."""
    key, keyed = _checked_key(con)
    last = head(con)
    if key is not None and keyed is None:
        intro = introduce_key(con, last, key)
        last = (intro["seq"], intro["hash"])
    fields = {
        "actor": actor,
        "actor_role": actor_role,
        "action": action,
        "model_name": model_name,
        "model_version": model_version,
        "from_status": from_status,
        "to_status": to_status,
        "alias": alias,
        "rationale": rationale,
        "evidence": evidence,
    }
    record = _insert(con, last, fields, key)
    if key is not None:
        checkpoint_after_commit(con, record, key)
    return record


def checkpoint_status(
    con: duckdb.DuckDBPyConnection, records: list[dict[str, Any]], key: AuditKey | None
) -> CheckpointStatus:
    db = store_path(con)
    if db is None:
        return CheckpointStatus(CheckpointState.NONE, "An in-memory store has no checkpoints.")
    found = checkpoints.read(checkpoint_file(), db)
    return checkpoints.compare(found, [r["hash"] for r in records], key)


def combined(chain: ChainStatus, checkpoint: CheckpointStatus) -> ChainStatus:
    """The chain's verdict, failed if the checkpoints show truncation or a rewrite, or if a
    production store's log is not keyed at all (then nothing could tell a forgery apart)."""
    if not chain.valid:
        return chain
    if not checkpoint.ok:
        message, seq = checkpoint.message, checkpoint.first_bad_seq
    elif chain.records and chain.keyed_from is None and mode() is Mode.PRODUCTION:
        message, seq = (
            f"None of the {chain.records} records is keyed and VIGIL_MODE=production: a "
            "rewritten log would verify too. Run `vigil init` to key it.",
            1,
        )
    else:
        return chain
    return ChainStatus(False, chain.records, seq, message, chain.keyed_from, chain.key_id)


def verify(con: duckdb.DuckDBPyConnection) -> ChainStatus:
    """Recompute every hash and link (keyed from the key-introduced record on) and compare
    the chain with its checkpoints; point at the first record that does not match."""
    records = read_records(con)
    key = load_key()
    return combined(verify_records(records, key), checkpoint_status(con, records, key))


# --- reading for people: filters, exports, state cross-check -----------------------------

EXPORT_FIELDS = (*AUDIT_FIELDS, "hash")


@dataclass(frozen=True)
class AuditFilter:
    """Which records to show; every field optional. Dates are inclusive, UTC."""

    model_name: str | None = None
    action: str | None = None
    actor: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("model_name", self.model_name),
            ("action", self.action),
            ("actor", self.actor),
        ):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.start:
            clauses.append("recorded_at >= ?")
            params.append(dt.datetime.combine(self.start, dt.time()))
        if self.end:
            clauses.append("recorded_at < ?")
            params.append(dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time()))
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def query(con: duckdb.DuckDBPyConnection, flt: AuditFilter | None = None) -> list[dict[str, Any]]:
    """Records matching the filter, oldest first, evidence parsed."""
    where, params = (flt or AuditFilter()).where()
    cursor = con.execute(
        f"SELECT {', '.join(EXPORT_FIELDS)} FROM audit_log {where} ORDER BY seq", params
    )
    names = [d[0] for d in cursor.description]
    out = []
    for row in cursor.fetchall():
        record = dict(zip(names, row, strict=True))
        record["evidence"] = json.loads(record["evidence"]) if record["evidence"] else {}
        out.append(record)
    return out


def get_record(con: duckdb.DuckDBPyConnection, seq: int) -> dict[str, Any]:
    cursor = con.execute(
        f"SELECT {', '.join(EXPORT_FIELDS)} FROM audit_log WHERE seq = ?", [int(seq)]
    )
    row = cursor.fetchone()
    if row is None:
        newest = head(con)
        raise AuditError(
            f"Audit record {seq} does not exist (the log has records 1 to "
            f"{newest[0] if newest else 0})."
        )
    found = dict(zip([d[0] for d in cursor.description], row, strict=True))
    found["evidence"] = json.loads(found["evidence"]) if found["evidence"] else {}
    return found


def filter_choices(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Distinct models, actions and actors, for filter drop-downs."""
    return {
        column: [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT {column} FROM audit_log WHERE {column} IS NOT NULL "
                f"ORDER BY {column}"
            ).fetchall()
        ]
        for column in ("model_name", "action", "actor")
    }


def export_csv(records: list[dict[str, Any]]) -> bytes:
    """CSV bytes with one row per record; evidence as compact JSON in one column."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    for record in records:
        writer.writerow(
            [
                json.dumps(record[k], sort_keys=True, separators=(",", ":"), default=str)
                if k == "evidence"
                else (record[k].isoformat() if isinstance(record[k], dt.datetime) else record[k])
                for k in EXPORT_FIELDS
            ]
        )
    return buffer.getvalue().encode("utf-8")


def export_json(records: list[dict[str, Any]]) -> bytes:
    """JSON array bytes; times in ISO-8601 UTC, so the chain can be re-verified elsewhere."""
    payload = [
        {
            k: (record[k].isoformat(timespec="microseconds") if k == "recorded_at" else record[k])
            for k in EXPORT_FIELDS
        }
        for record in records
    ]
    return json.dumps(payload, indent=2, sort_keys=True, default=str).encode("utf-8")


def state_mismatches(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Where the governed tables disagree with the log's last word: users and roles, version
    statuses, aliases, gate and drift thresholds and alert rules are replayed from the log
    (from the key-introduced record's snapshot, if any) and compared row by row; and the
    champion alias must point at the version in production."""
    records = read_records(con)
    keyed = keyed_by(con)
    expected = audit_state.replay(records, start_after=keyed[0] if keyed else 0)
    problems = audit_state.mismatches(audit_state.read_tables(con), expected)
    aliases = con.execute(
        "SELECT a.model_name, a.model_version, v.status FROM aliases a JOIN model_versions v "
        "USING (model_name, model_version) WHERE a.alias = 'champion'"
    ).fetchall()
    for model, version, status in aliases:
        if status != "production":
            problems.append(f"{model}: the champion alias points at {version}, which is {status}.")
    return problems


# --- store-level entry points for pages and commands -------------------------------------


def search(store: Store, flt: AuditFilter | None = None) -> list[dict[str, Any]]:
    with store.connect() as con:
        return query(con, flt)


def choices(store: Store) -> dict[str, list[str]]:
    with store.connect() as con:
        return filter_choices(con)
