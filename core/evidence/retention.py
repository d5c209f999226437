"""Retention of raw prediction logs: keep them the policy's months (never under six), then
delete them, keeping the day profiles every monitoring summary is computed from.

A purge is one transaction per run: for each model it first brings the day profiles of every
version up to date (so no logged day is lost unprofiled), then deletes the log rows served
before the cutoff (midnight UTC, `months` before today) and writes one audit record with the
cutoff, the policy and the rows deleted. Only the model's raw log table is purged; labels,
quarantined rows, reference data and profiles stay. Only admins purge.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from vigil.core.evidence.common import ADMIN_ROLES, add_months, require_role
from vigil.core.evidence.common import today as utc_today
from vigil.core.evidence.policy import MIN_RETENTION_MONTHS, read_policy
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.monitor import profiles
from vigil.core.monitor.selection import log_table
from vigil.core.registry.versions import list_model_names, list_versions, model_tables
from vigil.core.store.connection import Store
from vigil.core.store.sql import quote_ident


@dataclass(frozen=True)
class RetentionStatus:
    model_name: str
    months: int
    cutoff: dt.datetime  # rows served before this are past retention
    raw_rows: int
    rows_past_retention: int
    oldest_row: dt.datetime | None
    profiled_days: int


@dataclass(frozen=True)
class PurgeResult:
    months: int
    cutoff: dt.datetime
    deleted: tuple[tuple[str, int], ...]  # (model, rows deleted)
    audit_seqs: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(n for _, n in self.deleted)


def retention_months(con: duckdb.DuckDBPyConnection) -> int:
    """The policy's months, never under the legal floor even if the table was edited."""
    return max(read_policy(con).retention_months, MIN_RETENTION_MONTHS)


def cutoff(months: int, today: dt.date) -> dt.datetime:
    return dt.datetime.combine(add_months(today, -months), dt.time())


def status_con(
    con: duckdb.DuckDBPyConnection, model_name: str, today: dt.date | None = None
) -> RetentionStatus:
    months = retention_months(con)
    limit = cutoff(months, today or utc_today())
    total, old, oldest = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE served_at < ?), min(served_at) "
        f"FROM {log_table(con, model_name)}",
        [limit],
    ).fetchone() or (0, 0, None)
    days = con.execute(
        "SELECT count(*) FROM profile_days WHERE model_name = ?", [model_name]
    ).fetchone()
    return RetentionStatus(
        model_name, months, limit, int(total), int(old), oldest, int(days[0]) if days else 0
    )


def retention_status(store: Store, today: dt.date | None = None) -> list[RetentionStatus]:
    """Per model: raw rows stored, rows past retention, the oldest row, days profiled."""
    with store.connect() as con:
        return [status_con(con, name, today) for name in list_model_names(con)]


def _purge_model(
    con: duckdb.DuckDBPyConnection, user: User, model_name: str, months: int, limit: dt.datetime
) -> tuple[int, int]:
    for version in list_versions(con, model_name):
        profiles.refresh(con, model_name, version.model_version)
    table = quote_ident(model_tables(con, model_name).log_table)  # the table itself
    deleted = con.execute(f"DELETE FROM {table} WHERE served_at < ?", [limit]).fetchone()
    rows = int(deleted[0]) if deleted else 0
    kept = con.execute(
        "SELECT count(*), coalesce(sum(rows), 0) FROM profile_days WHERE model_name = ? "
        "AND day < ?",
        [model_name, limit.date()],
    ).fetchone() or (0, 0)
    record = audit.append(
        con,
        actor=user.username,
        actor_role=user.role,
        action="purge_logs",
        model_name=model_name,
        rationale=(
            f"Raw prediction logs served before {limit:%Y-%m-%d} deleted under the "
            f"{months}-month retention policy; {rows} rows deleted, day profiles kept."
        ),
        evidence={
            "cutoff": limit.isoformat(),
            "retention_months": months,
            "rows_deleted": rows,
            "profiled_days_before_cutoff": int(kept[0]),
            "profiled_rows_before_cutoff": int(kept[1]),
        },
    )
    return rows, int(record["seq"])


def purge_logs(
    store: Store,
    user: User,
    *,
    today: dt.date | None = None,
    model_name: str | None = None,
) -> PurgeResult:
    """Delete raw log rows older than the retention (admins), audited, profiles kept."""
    require_role(user, ADMIN_ROLES, "purge raw logs")
    with store.transaction() as con:
        months = retention_months(con)
        limit = cutoff(months, today or utc_today())
        names = [model_name] if model_name else list_model_names(con)
        deleted, seqs = [], []
        for name in names:
            rows, seq = _purge_model(con, user, name, months, limit)
            deleted.append((name, rows))
            seqs.append(seq)
    return PurgeResult(months, limit, tuple(deleted), tuple(seqs))
