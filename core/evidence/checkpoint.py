"""The audit chain checkpoint a pack carries, and the check a validator runs against a store.

A checkpoint is the chain's length and the hash of its last record when the pack was built,
the chain's verification at that moment (keyed hashes, signed checkpoints outside the
database), the state cross-checks (registry, policy, inventory, findings) and the newest
signed checkpoint line, whose HMAC is the chain's signature. Verifying a
checkpoint later recomputes the chain and checks that record number `records` still has
hash `head_hash`: a pack whose checkpoint verifies describes a log that has not been
rewritten since, only appended to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from vigil.core.evidence.common import now
from vigil.core.evidence.findings import finding_mismatches
from vigil.core.evidence.inventory_history import inventory_mismatches
from vigil.core.govern import audit
from vigil.core.govern.audit_report import chain_report, latest_checkpoint
from vigil.core.store.connection import Store


@dataclass(frozen=True)
class Checkpoint:
    records: int
    head_hash: str | None
    chain_valid: bool
    message: str
    keying: str  # which records the audit key protects, in words
    key_id: str | None
    mismatches: tuple[str, ...]  # governed tables (registry, policy, inventory, findings) vs log
    signed_checkpoint: str | None  # the newest signed checkpoint line (JSON, HMAC in "mac")
    signed_records: int | None  # the record count that signed line covers
    signature: str | None  # that line's HMAC, when it covers exactly this head
    checkpoints: str  # how the chain compares with its signed checkpoints, in words
    taken_at: dt.datetime


@dataclass(frozen=True)
class CheckpointCheck:
    ok: bool
    message: str


def take_checkpoint(store: Store) -> Checkpoint:
    """The chain as it stands: verified (keyed hashes and signed checkpoints), cross-checked
    with the governed tables, its head hash and the newest signed checkpoint line."""
    report = chain_report(store)
    signed = latest_checkpoint(store)
    with store.connect() as con:
        extra = (*inventory_mismatches(con), *finding_mismatches(con))
    return Checkpoint(
        records=report.chain.records,
        head_hash=report.head_hash,
        chain_valid=report.chain.valid,
        message=report.chain.message,
        keying=report.keying,
        key_id=report.chain.key_id,
        mismatches=(*report.mismatches, *extra),
        signed_checkpoint=signed.to_line() if signed else None,
        signed_records=signed.records if signed else None,
        signature=signed.mac if signed and signed.records == report.chain.records else None,
        checkpoints=report.checkpoint.message,
        taken_at=now(),
    )


def verify_checkpoint(store: Store, records: int, head_hash: str | None) -> CheckpointCheck:
    """Does the store's chain still hold the pack's checkpoint as one of its records?"""
    report = chain_report(store)
    if not report.chain.valid:
        return CheckpointCheck(False, f"The store's audit chain is broken: {report.chain.message}")
    if records == 0:
        return CheckpointCheck(True, "The pack was built on an empty audit log.")
    if records > report.chain.records:
        return CheckpointCheck(
            False,
            f"The pack names record {records} but the store has only {report.chain.records}: "
            "records were removed after the pack was built, or it comes from another store.",
        )
    with store.connect() as con:
        stored = audit.get_record(con, records)["hash"]
    if stored != head_hash:
        return CheckpointCheck(
            False,
            f"Record {records} has hash {stored} in the store, not {head_hash} as in the pack: "
            "the log was rewritten, or the pack comes from another store.",
        )
    later = report.chain.records - records
    return CheckpointCheck(
        True,
        f"Record {records} still has the pack's head hash and the chain verifies; "
        f"{later} record(s) were appended since.",
    )
