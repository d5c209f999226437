"""Signed checkpoints of the audit chain, kept outside the database.

After every unit of work that adds audit records, one line is appended to an append-only
file (VIGIL_CHECKPOINT_FILE, by default beside the key): the store, its record count, the
hash of its newest record, the time and an HMAC of all of it. A chain that is keyed cannot be
edited without the key, but its newest records can still be deleted; the checkpoints say how
long the chain was, so verification catches that. The lines are plain JSON, so anyone can
copy them to an external witness (a ticket, a mail, a write-once bucket): a copy held by
someone who does not have the key catches even a rewrite by someone who does.
"""

from __future__ import annotations

import datetime as dt
import enum
import fcntl
import hmac
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vigil.core.errors import AuditKeyError
from vigil.core.govern.audit_key import AuditKey

SIGNED_FIELDS = ("store", "records", "head", "at", "key_id")


@dataclass(frozen=True)
class Checkpoint:
    store: str
    records: int
    head: str
    at: str
    key_id: str
    mac: str
    line: int = 0  # line number in the file it was read from (1-based), 0 if not read

    def body(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SIGNED_FIELDS}

    def to_line(self) -> str:
        """The exact JSON line in the file: what to hand to an external witness."""
        return json.dumps({**self.body(), "mac": self.mac}, sort_keys=True, separators=(",", ":"))


def _signed_text(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def sign(store: str, records: int, head: str, key: AuditKey) -> Checkpoint:
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    unsigned = Checkpoint(store, records, head, at, key.key_id, mac="")
    return replace(unsigned, mac=key.mac(_signed_text(unsigned.body())))


def is_signed_by(checkpoint: Checkpoint, key: AuditKey) -> bool:
    return checkpoint.key_id == key.key_id and hmac.compare_digest(
        checkpoint.mac, key.mac(_signed_text(checkpoint.body()))
    )


def append(path: Path, checkpoint: Checkpoint) -> None:
    """Append one line (0600 file, 0700 folder), locked against concurrent writers, synced."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(checkpoint.to_line() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as err:
        raise AuditKeyError(
            f"The change was saved, but its audit checkpoint could not be written to {path}: "
            f"{err.strerror}. Fix the file's permissions; the next change writes a new one."
        ) from err


def parse(text: str, line: int = 0) -> Checkpoint:
    """One checkpoint from its JSON line; ValueError if it is not one."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return Checkpoint(
        store=str(data["store"]),
        records=int(data["records"]),
        head=str(data["head"]),
        at=str(data["at"]),
        key_id=str(data["key_id"]),
        mac=str(data["mac"]),
        line=line,
    )


@dataclass(frozen=True)
class CheckpointFile:
    """The checkpoints of one store found in the file, and lines that could not be read."""

    path: Path
    checkpoints: tuple[Checkpoint, ...]
    damaged_lines: tuple[int, ...]
    other_stores: int


def read(path: Path, store: str | None) -> CheckpointFile:
    """The checkpoints of `store` in the file (every line if store is None: a witness's copy)."""
    if not path.exists():
        return CheckpointFile(path, (), (), 0)
    mine: list[Checkpoint] = []
    damaged: list[int] = []
    others = 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                checkpoint = parse(text, number)
            except (ValueError, KeyError, TypeError):
                damaged.append(number)
                continue
            if store is None or checkpoint.store == store:
                mine.append(checkpoint)
            else:
                others += 1
    return CheckpointFile(path, tuple(mine), tuple(damaged), others)


class CheckpointState(enum.StrEnum):
    MATCHES = "matches"
    NONE = "none"  # nothing to compare with yet: not a proof of anything
    NO_KEY = "no key"
    BROKEN = "broken"  # truncation, rewrite, forged or damaged checkpoint


@dataclass(frozen=True)
class CheckpointStatus:
    state: CheckpointState
    message: str
    newest: Checkpoint | None = None
    checked: int = 0
    first_bad_seq: int | None = None  # the first record the checkpoints show is gone or changed

    @property
    def ok(self) -> bool:
        return self.state is not CheckpointState.BROKEN


def _broken(
    message: str, newest: Checkpoint | None, checked: int, seq: int | None = None
) -> CheckpointStatus:
    return CheckpointStatus(CheckpointState.BROKEN, message, newest, checked, seq)


def compare(found: CheckpointFile, hashes: list[str], key: AuditKey | None) -> CheckpointStatus:
    """Check every checkpoint of the store against the chain's hashes (hashes[i] = record i+1):
    each must be signed by the key and name a record that still exists with that hash."""
    if key is None:
        return CheckpointStatus(
            CheckpointState.NO_KEY,
            "Checkpoints are signed with the audit key and none is configured: truncation of "
            "the log cannot be checked.",
        )
    if found.damaged_lines:
        lines = ", ".join(map(str, found.damaged_lines))
        return _broken(
            f"Line(s) {lines} of {found.path} are not checkpoints: the file was edited.", None, 0
        )
    if not found.checkpoints:
        others = f" ({found.other_stores} belong to other stores)" if found.other_stores else ""
        return CheckpointStatus(
            CheckpointState.NONE,
            f"No checkpoint of this store in {found.path}{others}: truncation of the log cannot "
            "be checked until the next change writes one.",
        )
    ordered = sorted(found.checkpoints, key=lambda c: (c.records, c.line), reverse=True)
    newest = ordered[0]
    for checkpoint in ordered:  # the newest first: it is the one that catches truncation
        problem = _problem(checkpoint, hashes, key, found.path)
        if problem:
            return _broken(problem[0], newest, len(ordered), problem[1])
    added = len(hashes) - newest.records
    tail = f"; {span(newest.records + 1, len(hashes))} written after it" if added > 0 else ""
    return CheckpointStatus(
        CheckpointState.MATCHES,
        f"Newest checkpoint ({newest.at}, {newest.records} records, head "
        f"{newest.head[:16]}…) matches the log{tail}.",
        newest,
        len(found.checkpoints),
    )


def span(first: int, last: int) -> str:
    """'record 7 was' or 'records 7–9 were': for sentences about a run of records."""
    return f"record {first} was" if first == last else f"records {first}–{last} were"


def _problem(
    checkpoint: Checkpoint, hashes: list[str], key: AuditKey, path: Path
) -> tuple[str, int | None] | None:
    """What is wrong with one checkpoint, and the first record it shows as gone or changed."""
    where = f"the checkpoint on line {checkpoint.line} of {path} ({checkpoint.at})"
    if not is_signed_by(checkpoint, key):
        if checkpoint.key_id != key.key_id:
            return (
                f"{where[0].upper()}{where[1:]} is signed with another key (id {checkpoint.key_id}).",
                None,
            )
        return f"{where[0].upper()}{where[1:]} is not signed by the audit key: it was forged.", None
    if checkpoint.records > len(hashes):
        return (
            f"The log has {len(hashes)} records but {where} recorded {checkpoint.records}: "
            f"{span(len(hashes) + 1, checkpoint.records)} removed.",
            len(hashes) + 1,
        )
    if checkpoint.records and hashes[checkpoint.records - 1] != checkpoint.head:
        return (
            f"Record {checkpoint.records} no longer has the hash {where} recorded: the log was "
            f"rewritten up to record {checkpoint.records}.",
            checkpoint.records,
        )
    return None
