"""What was live when: each version's spells as champion, derived from the audit log alone.

The audit log is the record of every status change, so "which model scored this applicant on
12 October?" is answered from it rather than from a second table that could disagree.
A spell starts at a record moving a version into production and ends at the record moving
it out (archived when superseded, rolled back); a spell with no end is the current one.
Records of an imported deployment history (core.govern.history) count from the moment they
say the event happened (`effective_at`), not from when they were imported, and their spells
say they were imported.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from vigil.core.govern.lifecycle import IMPORT_ACTION
from vigil.core.store.connection import Store


@dataclass(frozen=True)
class LiveInterval:
    """One version's spell in production."""

    model_name: str
    model_version: str
    start: dt.datetime
    end: dt.datetime | None  # None: still live
    started_by: str  # action that put it live: promote, restore
    started_seq: int
    started_actor: str
    ended_by: str | None  # action that took it down: archive, rollback
    ended_seq: int | None
    ended_actor: str | None

    @property
    def current(self) -> bool:
        return self.end is None

    @property
    def imported(self) -> bool:
        """Put live by an imported history record, not by a decision taken in Vigil."""
        return self.started_by == IMPORT_ACTION

    def contains(self, when: dt.datetime) -> bool:
        return self.start <= when and (self.end is None or when < self.end)


@dataclass(frozen=True)
class Timeline:
    model_name: str
    intervals: tuple[LiveInterval, ...]

    def live_at(self, when: dt.datetime) -> str | None:
        """The version that was champion at `when` (UTC), or None."""
        for interval in self.intervals:
            if interval.contains(when):
                return interval.model_version
        return None

    @property
    def current(self) -> LiveInterval | None:
        return next((i for i in self.intervals if i.current), None)

    def previous_champions(self) -> tuple[str, ...]:
        """Versions that were champion before the current one, most recent first, unique."""
        seen: list[str] = []
        current = self.current
        for interval in sorted(self.intervals, key=lambda i: i.started_seq, reverse=True):
            if interval is current or interval.model_version in seen:
                continue
            if current is not None and interval.model_version == current.model_version:
                continue
            seen.append(interval.model_version)
        return tuple(seen)


def intervals_from_records(
    model_name: str, records: list[tuple[int, dt.datetime, str, str, str, str | None, str | None]]
) -> tuple[LiveInterval, ...]:
    """Pair production entries with exits. Records: (seq, recorded_at, actor, action,
    model_version, from_status, to_status), in sequence order."""
    open_spells: dict[str, tuple[int, dt.datetime, str, str]] = {}
    out: list[LiveInterval] = []
    for seq, at, actor, action, version, from_status, to_status in records:
        if to_status == "production" and from_status != "production":
            open_spells[version] = (seq, at, action, actor)
        elif from_status == "production" and to_status != "production" and version in open_spells:
            s_seq, s_at, s_action, s_actor = open_spells.pop(version)
            out.append(
                LiveInterval(
                    model_name, version, s_at, at, s_action, s_seq, s_actor, action, seq, actor
                )
            )
    for version, (s_seq, s_at, s_action, s_actor) in open_spells.items():
        out.append(
            LiveInterval(
                model_name, version, s_at, None, s_action, s_seq, s_actor, None, None, None
            )
        )
    return tuple(sorted(out, key=lambda i: i.started_seq))


def read_timeline(con: duckdb.DuckDBPyConnection, model_name: str) -> Timeline:
    """The spells, each imported record at the moment it says its event happened."""
    rows = con.execute(
        "SELECT seq, CASE WHEN action = ? THEN coalesce(TRY_CAST(json_extract_string("
        "evidence, '$.effective_at') AS TIMESTAMP), recorded_at) ELSE recorded_at END, "
        "actor, action, model_version, from_status, to_status "
        "FROM audit_log WHERE model_name = ? AND model_version IS NOT NULL "
        "AND (to_status = 'production' OR from_status = 'production') ORDER BY seq",
        [IMPORT_ACTION, model_name],
    ).fetchall()
    return Timeline(model_name, intervals_from_records(model_name, rows))


def timeline(store: Store, model_name: str) -> Timeline:
    """Every spell in production of the model's versions, oldest first."""
    with store.connect() as con:
        return read_timeline(con, model_name)


def rollback_target(con: duckdb.DuckDBPyConnection, model_name: str) -> str | None:
    """The most recent earlier champion that can be put back (archived, not rolled back)."""
    statuses = dict(
        con.execute(
            "SELECT model_version, status FROM model_versions WHERE model_name = ?", [model_name]
        ).fetchall()
    )
    for version in read_timeline(con, model_name).previous_champions():
        if statuses.get(version) == "archived":
            return version
    return None
