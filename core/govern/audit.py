"""The append-only, hash-chained audit log: every state change, who made it, and why."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from vigil.core.errors import VigilError
from vigil.core.store.connection import Store

GENESIS_HASH = "0" * 64


class AuditError(VigilError):
    """An audit record asked for does not exist, or the log cannot be read."""


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
        last = con.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
        raise AuditError(
            f"Audit record {seq} does not exist (the log has records 1 to {last or 0})."
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
    """Where the registry disagrees with the log's last word (a status edited behind Vigil's
    back, or the newest records deleted): each version's status must be the to_status of its
    latest record, and the champion alias must point at the version in production."""
    problems = []
    rows = con.execute(
        """
        SELECT v.model_name, v.model_version, v.status, a.to_status, a.seq
        FROM model_versions v
        LEFT JOIN (
            SELECT model_name, model_version, to_status, seq,
                   row_number() OVER (PARTITION BY model_name, model_version ORDER BY seq DESC) AS rn
            FROM audit_log WHERE model_version IS NOT NULL AND to_status IS NOT NULL
        ) a ON a.model_name = v.model_name AND a.model_version = v.model_version AND a.rn = 1
        ORDER BY v.model_name, v.model_version
        """
    ).fetchall()
    for model, version, status, logged, seq in rows:
        if logged is None:
            problems.append(f"{model} {version} is {status} but has no audit record.")
        elif logged != status:
            problems.append(
                f"{model} {version} is {status}, but its latest audit record (#{seq}) says "
                f"{logged}: the status was changed outside Vigil or records were removed."
            )
    aliases = con.execute(
        "SELECT a.model_name, a.model_version, v.status FROM aliases a JOIN model_versions v "
        "USING (model_name, model_version) WHERE a.alias = 'champion'"
    ).fetchall()
    for model, version, status in aliases:
        if status != "production":
            problems.append(f"{model}: the champion alias points at {version}, which is {status}.")
    return problems


# --- store-level entry points for pages and commands -------------------------------------


@dataclass(frozen=True)
class ChainReport:
    chain: ChainStatus
    mismatches: tuple[str, ...]
    head_hash: str | None

    @property
    def ok(self) -> bool:
        return self.chain.valid and not self.mismatches


def chain_report(store: Store) -> ChainReport:
    """The chain verified, the registry cross-checked against it, and the newest hash."""
    with store.connect() as con:
        chain = verify(con)
        mismatches = tuple(state_mismatches(con))
        head = con.execute("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return ChainReport(chain, mismatches, head[0] if head else None)


def search(store: Store, flt: AuditFilter | None = None) -> list[dict[str, Any]]:
    with store.connect() as con:
        return query(con, flt)


def choices(store: Store) -> dict[str, list[str]]:
    with store.connect() as con:
        return filter_choices(con)
