"""What verification reports, and what `vigil init` sets up for the audit trail.

`chain_report` is the one verdict the Audit page and `vigil audit verify` show: the keyed chain,
its checkpoints outside the database, which records the key covers, and where the governed
tables disagree with the log. `latest_checkpoint` is the line to hand to an external witness.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vigil.core.govern import audit, checkpoints
from vigil.core.govern.audit_chain import (
    ChainStatus,
    keyed_by,
    keying_note,
    read_records,
    store_path,
    verify_records,
)
from vigil.core.govern.audit_key import checkpoint_file, create_key, load_key
from vigil.core.govern.checkpoints import CheckpointStatus
from vigil.core.store.connection import Store


@dataclass(frozen=True)
class ChainReport:
    """Everything `vigil audit verify` and the Audit page show: the chain (failed as well when
    the checkpoints show truncation), the checkpoints, which records the key covers, and the
    tables' disagreements with the log."""

    chain: ChainStatus
    checkpoint: CheckpointStatus
    keying: str
    mismatches: tuple[str, ...]
    head_hash: str | None

    witness: CheckpointStatus | None = None

    @property
    def ok(self) -> bool:
        witnessed = self.witness is None or self.witness.ok
        return self.chain.valid and witnessed and not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        """The verdict as JSON for `vigil audit verify --json`."""
        return {
            "valid": self.chain.valid,
            "records": self.chain.records,
            "first_broken_seq": self.chain.first_broken_seq,
            "message": self.chain.message,
            "keyed_from": self.chain.keyed_from,
            "key_id": self.chain.key_id,
            "keying": self.keying,
            "checkpoint": _checkpoint_dict(self.checkpoint),
            "witness": None if self.witness is None else _checkpoint_dict(self.witness),
            "state_mismatches": list(self.mismatches),
            "head_hash": self.head_hash,
        }

    def describe(self) -> tuple[list[str], list[str]]:
        """Lines for people: what holds (stdout) and what does not (stderr)."""
        out: list[str] = []
        err: list[str] = []
        if self.chain.valid:
            out.append(f"Chain intact: {self.chain.records} records verified.")
        else:
            err.append(
                f"Chain BROKEN at record {self.chain.first_broken_seq}: {self.chain.message}"
            )
        out.append(self.keying)
        (out if self.checkpoint.ok else err).append(f"Checkpoints: {self.checkpoint.message}")
        if self.witness is not None:
            (out if self.witness.ok else err).append(f"Witness: {self.witness.message}")
        if self.head_hash:
            out.append(f"Head hash: {self.head_hash}")
        err.extend(f"Tables disagree with the log: {problem}" for problem in self.mismatches)
        return out, err


def _checkpoint_dict(status: CheckpointStatus) -> dict[str, Any]:
    return {
        "state": status.state.value,
        "message": status.message,
        "checked": status.checked,
        "newest": None if status.newest is None else status.newest.to_line(),
    }


def chain_report(store: Store, witness: Path | None = None) -> ChainReport:
    """The chain, its checkpoints (and, given a witness's copy of earlier checkpoints, those
    too), which records the key covers, and the tables' disagreements with the log."""
    key = load_key()
    with store.connect() as con:
        records = read_records(con)
        raw = verify_records(records, key)
        checkpoint = audit.checkpoint_status(con, records, key)
        mismatches = tuple(audit.state_mismatches(con))
    witnessed = None
    if witness is not None:
        if not witness.is_file():
            raise audit.AuditError(f"The witness file {witness} does not exist.")
        found = checkpoints.read(witness, store=None)
        witnessed = checkpoints.compare(found, [r["hash"] for r in records], key)
    return ChainReport(
        audit.combined(raw, checkpoint),
        checkpoint,
        keying_note(raw, key),
        mismatches,
        records[-1]["hash"] if records else None,
        witnessed,
    )


def latest_checkpoint(store: Store) -> checkpoints.Checkpoint | None:
    """The newest checkpoint of this store (what to hand to an external witness)."""
    with store.connect() as con:
        db = store_path(con)
    if db is None:
        return None
    found = checkpoints.read(checkpoint_file(), db).checkpoints
    return max(found, key=lambda c: (c.records, c.line)) if found else None


@dataclass(frozen=True)
class AuditSetup:
    """What `vigil init` did for the audit trail."""

    key_source: str
    key_created: bool
    introduced_at: int | None  # the key-introduced record written now, if any
    checkpoint_path: Path

    def summary(self) -> list[str]:
        lines = [
            f"Audit key created at {self.key_source} (mode 0600, outside VIGIL_HOME). Keep a "
            "copy somewhere safe: without it the log can be neither verified nor extended."
            if self.key_created
            else f"Audit key: {self.key_source}",
            f"Audit checkpoints: {self.checkpoint_path}",
        ]
        if self.introduced_at is not None:
            lines.append(f"The audit log is keyed from record {self.introduced_at} on.")
        return lines


def initialise(store: Store) -> AuditSetup:
    """Create the audit key if none is configured and key the store's chain with it now."""
    setup = create_key()
    key = load_key()
    introduced = None
    with store.transaction() as con:
        if key is not None and keyed_by(con) is None:
            intro = audit.introduce_key(con, audit.head(con), key)
            audit.checkpoint_after_commit(con, intro, key)
            introduced = intro["seq"]
    return AuditSetup(setup.source, setup.created, introduced, checkpoint_file())
