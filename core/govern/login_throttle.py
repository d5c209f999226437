"""Slowing password guessing down without giving anyone a way to lock an account.

Every attempt is counted, atomically, in three buckets: the account name (known or not, so an
unknown name behaves exactly like a known one), the client (the dashboard passes the remote
address, the CLI "cli") and the (account, client) pair. After `free_attempts` failures a
bucket makes the next check wait `base * 2^(failures - free)` seconds, at most `max` seconds:
an attacker slows down exponentially, and an account is never hard-locked.

The pair bucket always applies. The account and client buckets do not apply to a client the
account signed in from within `trust_days`: a stranger hammering the admin's name from
elsewhere slows the admin's unknown clients down, never the admin's own.

DuckDB serialises concurrent writers optimistically: of 20 threads updating one row, 19 get a
transaction conflict. `retrying` repeats the unit of work until it commits, so 20 parallel
guesses count 20 failures and nobody sees a raw DuckDB error.
"""

from __future__ import annotations

import datetime as dt
import enum
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import duckdb

from vigil.core import settings
from vigil.core.errors import AuthError
from vigil.core.store.connection import Store

T = TypeVar("T")
FORGET_AFTER = dt.timedelta(hours=24)  # a bucket idle this long starts from zero again
RETRY_FOR_S = 15.0
MAX_SUBJECT = 200  # client identifiers come from the caller: keep them bounded


class Bucket(enum.StrEnum):
    ACCOUNT = "account"
    CLIENT = "client"
    PAIR = "pair"


@dataclass(frozen=True)
class Policy:
    free_attempts: int
    base_s: float
    max_s: float
    trust_days: int

    @classmethod
    def from_settings(cls) -> Policy:
        return cls(
            free_attempts=int(settings.get("login_free_attempts")),
            base_s=float(settings.get("login_delay_base_s")),
            max_s=float(settings.get("login_delay_max_s")),
            trust_days=int(settings.get("login_trust_days")),
        )

    def delay_s(self, failures: int) -> float:
        """Seconds the bucket waits after its `failures`-th failure: 0, then doubling, bounded."""
        if failures < self.free_attempts:
            return 0.0
        exponent = min(failures - self.free_attempts, 62)
        return float(min(self.base_s * 2.0**exponent, self.max_s))


@dataclass(frozen=True)
class Attempt:
    """The outcome of reserving one attempt: may the password be checked, else how long to wait."""

    allowed: bool
    wait_s: float
    trusted: bool


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _subjects(username: str, client: str) -> dict[Bucket, str]:
    name, where = username[:MAX_SUBJECT], client[:MAX_SUBJECT]
    return {Bucket.ACCOUNT: name, Bucket.CLIENT: where, Bucket.PAIR: f"{name}\n{where}"}


def _is_trusted(
    con: duckdb.DuckDBPyConnection, username: str, client: str, at: dt.datetime, policy: Policy
) -> bool:
    row = con.execute(
        "SELECT 1 FROM login_trusted WHERE username = ? AND client = ? AND last_success >= ?",
        [username[:MAX_SUBJECT], client[:MAX_SUBJECT], at - dt.timedelta(days=policy.trust_days)],
    ).fetchone()
    return row is not None


def reserve(
    con: duckdb.DuckDBPyConnection, username: str, client: str, at: dt.datetime, policy: Policy
) -> Attempt:
    """Count one attempt in every bucket (inside the caller's transaction) and decide whether
    its password may be checked. The attempt counts as a failure until `record_success` says
    otherwise, so a crash or a race can never leave a guess uncounted."""
    trusted = _is_trusted(con, username, client, at, policy)
    enforced = {Bucket.PAIR} if trusted else set(Bucket)
    subjects = _subjects(username, client)
    state: dict[Bucket, tuple[int, dt.datetime]] = {}
    for bucket, subject in subjects.items():
        row = con.execute(
            "SELECT failures, not_before, last_attempt FROM login_throttle "
            "WHERE bucket = ? AND subject = ?",
            [bucket.value, subject],
        ).fetchone()
        if row is None or at - row[2] > FORGET_AFTER:
            state[bucket] = (0, at)
        else:
            state[bucket] = (int(row[0]), row[1])
    wait = max(
        (max((nb - at).total_seconds(), 0.0) for b, (_, nb) in state.items() if b in enforced),
        default=0.0,
    )
    allowed = wait <= 0
    for bucket, (failures, not_before) in state.items():
        counted = failures + 1
        if allowed:
            not_before = max(not_before, at + dt.timedelta(seconds=policy.delay_s(counted)))
        con.execute(
            "INSERT OR REPLACE INTO login_throttle VALUES (?, ?, ?, ?, ?)",
            [bucket.value, subjects[bucket], counted, not_before, at],
        )
    return Attempt(allowed, wait, trusted)


def record_success(
    con: duckdb.DuckDBPyConnection,
    username: str,
    client: str,
    at: dt.datetime,
    policy: Policy,
) -> None:
    """The password was right: the pair starts afresh and the client becomes trusted.

    The account and client buckets only take back this attempt's count: a success on one's own
    account must not wipe the evidence of guessing elsewhere (it decays after a day), and many
    people signing in from one office address must not add up to a delay."""
    subjects = _subjects(username, client)
    con.execute(
        "DELETE FROM login_throttle WHERE bucket = ? AND subject = ?",
        [Bucket.PAIR.value, subjects[Bucket.PAIR]],
    )
    for bucket in (Bucket.ACCOUNT, Bucket.CLIENT):
        con.execute(
            "UPDATE login_throttle SET failures = greatest(failures - 1, 0), "
            "not_before = CASE WHEN failures - 1 < ? THEN least(not_before, ?) "
            "ELSE not_before END WHERE bucket = ? AND subject = ?",
            [policy.free_attempts, at, bucket.value, subjects[bucket]],
        )
    con.execute(
        "INSERT OR REPLACE INTO login_trusted VALUES (?, ?, ?)",
        [username[:MAX_SUBJECT], client[:MAX_SUBJECT], at],
    )
    con.execute("DELETE FROM login_throttle WHERE last_attempt < ?", [at - FORGET_AFTER])


def failures(con: duckdb.DuckDBPyConnection, bucket: Bucket, subject: str) -> int:
    """How many attempts a bucket has counted (0 if none): for pages, tests and audits."""
    row = con.execute(
        "SELECT failures FROM login_throttle WHERE bucket = ? AND subject = ?",
        [bucket.value, subject],
    ).fetchone()
    return 0 if row is None else int(row[0])


def _is_conflict(err: duckdb.Error) -> bool:
    """A write-write conflict between concurrent transactions (both kinds DuckDB raises)."""
    return isinstance(err, duckdb.TransactionException | duckdb.ConstraintException)


def retrying(store: Store, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run `work` in a transaction, again and again while it loses a write conflict."""
    deadline = time.monotonic() + RETRY_FOR_S
    delay = 0.002
    while True:
        try:
            with store.transaction() as con:
                return work(con)
        except duckdb.Error as err:
            if not _is_conflict(err):
                raise
            if time.monotonic() >= deadline:
                raise AuthError(
                    "Signing in is very busy right now (many attempts at once); try again in "
                    "a moment."
                ) from err
        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 0.1)
