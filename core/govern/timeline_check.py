"""The deployment timeline cross-checked against the traffic each version logged.

The timeline (core.govern.timeline) says which version was live when; the prediction log says
which version answered when. Two disagreements are flagged:
- a version served traffic while it was not live, other than as a shadow or canary beside
  the champion: a row counts as shadow or canary when the gateway logged it on that arm
  (`serve_predictions`), or, as a documented fallback, when its prediction id carries its
  version suffix (`-v<version>`, `:<version>`) and another version logged the same request
  within a minute (the pairing of core.govern.gates.live);
- a version was live for at least one whole UTC day without logging a prediction, within the
  span the model's log covers (before its first logged prediction nothing was collected,
  after its latest nothing has arrived yet: those days are not judged).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import duckdb

from vigil.core.govern.gates.live import PAIR_SECONDS, _version_suffix
from vigil.core.govern.timeline import LiveInterval, read_timeline
from vigil.core.monitor.selection import log_table
from vigil.core.store.connection import Store

SIDE_ARMS = ("shadow", "canary", "ab")


class FlagKind(StrEnum):
    NOT_LIVE = "served traffic while not live"
    SILENT = "live without traffic"


@dataclass(frozen=True)
class TimelineFlag:
    model_version: str
    kind: FlagKind
    start: dt.datetime  # first prediction outside a spell / first silent day
    end: dt.datetime  # last prediction outside a spell / the day after the last silent day
    predictions: int  # rows served while not live (0 for a silent spell)

    @property
    def sentence(self) -> str:
        if self.kind is FlagKind.NOT_LIVE:
            return (
                f"{self.model_version} served {self.predictions:,} predictions between "
                f"{_day(self.start)} {self.start:%H:%M} and {_day(self.end)} {self.end:%H:%M} UTC "
                "while it was not live (neither champion nor shadow or canary beside it)."
            )
        last = self.end - dt.timedelta(days=1)
        days = (self.end - self.start).days
        return (
            f"{self.model_version} was live but logged no prediction for {days} whole day(s), "
            f"{_day(self.start)} to {_day(last)}."
        )


def _day(moment: dt.datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


def _outside(spells: list[LiveInterval]) -> tuple[str, list[object]]:
    """SQL condition: served outside every spell of the version."""
    if not spells:
        return "TRUE", []
    parts: list[str] = []
    params: list[object] = []
    for s in spells:
        if s.end is None:
            parts.append("l.served_at >= ?")
            params.append(s.start)
        else:
            parts.append("(l.served_at >= ? AND l.served_at < ?)")
            params += [s.start, s.end]
    return f"NOT ({' OR '.join(parts)})", params


def _stripped(versions: list[str]) -> tuple[str, list[object]]:
    """SQL: o.prediction_id without its own version's suffix (constant patterns)."""
    cases = " ".join("WHEN ? THEN regexp_replace(o.prediction_id, ?, '')" for _ in versions)
    params: list[object] = []
    for v in versions:
        params += [v, _version_suffix(v)]
    return f"CASE o.model_version {cases} ELSE o.prediction_id END", params


def _live_rows(spells: tuple[LiveInterval, ...]) -> tuple[str, list[object]]:
    """SQL condition on `o`: the row was served by the version live at that moment."""
    if not spells:
        return "FALSE", []
    parts: list[str] = []
    params: list[object] = []
    for s in spells:
        parts.append("(o.model_version = ? AND o.served_at >= ? AND o.served_at < ?)")
        params += [s.model_version, s.start, s.end or dt.datetime.max]
    return f"({' OR '.join(parts)})", params


def _not_live(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    version: str,
    spells: tuple[LiveInterval, ...],
    versions: list[str],
) -> TimelineFlag | None:
    logs = log_table(con, model_name)
    outside, params = _outside([s for s in spells if s.model_version == version])
    live, live_params = _live_rows(spells)
    suffix = _version_suffix(version)
    stripped, strip_params = _stripped(versions)
    row = con.execute(
        f"""
        WITH off AS (
            SELECT l.prediction_id, l.served_at, regexp_replace(l.prediction_id, ?, '') AS k
            FROM {logs} l
            WHERE l.model_version = ? AND {outside}
              AND l.prediction_id NOT IN (
                  SELECT prediction_id FROM serve_predictions
                  WHERE model_name = ? AND arm IN {SIDE_ARMS})
        ),
        beside AS (
            SELECT DISTINCT off.prediction_id FROM off
            JOIN (SELECT o.served_at, {stripped} AS k FROM {logs} o
                  WHERE o.model_version <> ? AND {live}) o
              ON o.k = off.k
             AND o.served_at BETWEEN off.served_at - INTERVAL {PAIR_SECONDS} SECOND
                                 AND off.served_at + INTERVAL {PAIR_SECONDS} SECOND
            WHERE regexp_matches(off.prediction_id, ?)
        )
        SELECT count(*), min(served_at), max(served_at) FROM off
        WHERE prediction_id NOT IN (SELECT prediction_id FROM beside)
        """,
        [suffix, version, *params, model_name, *strip_params, version, *live_params, suffix],
    ).fetchone()
    if row is None or not row[0]:
        return None
    return TimelineFlag(version, FlagKind.NOT_LIVE, row[1], row[2], int(row[0]))


def _silent(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    spell: LiveInterval,
    logged: tuple[dt.datetime, dt.datetime],
) -> list[TimelineFlag]:
    """Whole UTC days inside the spell and inside the span the model's log covers (`logged`:
    its first and last prediction, any version) without a prediction of the spell's version."""
    first, last = logged
    begins = max(spell.start, first)
    first_day = dt.datetime.combine(begins.date() + dt.timedelta(days=1), dt.time())
    end = min(spell.end or last, last)
    end_day = dt.datetime.combine(end.date(), dt.time())
    if end_day <= first_day:
        return []
    served = {
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT CAST(served_at AS DATE) FROM {log_table(con, model_name)} "
            "WHERE model_version = ? AND served_at >= ? AND served_at < ?",
            [spell.model_version, first_day, end_day],
        ).fetchall()
    }
    flags: list[TimelineFlag] = []
    day, gap_start = first_day, None
    while day <= end_day:
        quiet = day < end_day and day.date() not in served
        if quiet and gap_start is None:
            gap_start = day
        elif not quiet and gap_start is not None:
            flags.append(TimelineFlag(spell.model_version, FlagKind.SILENT, gap_start, day, 0))
            gap_start = None
        day += dt.timedelta(days=1)
    return flags


def check(con: duckdb.DuckDBPyConnection, model_name: str) -> tuple[TimelineFlag, ...]:
    """Every disagreement between the model's deployment timeline and its traffic."""
    spells = read_timeline(con, model_name).intervals
    logs = log_table(con, model_name)
    rows = con.execute(f"SELECT DISTINCT model_version FROM {logs} ORDER BY 1").fetchall()
    versions = [str(r[0]) for r in rows]
    span = con.execute(f"SELECT min(served_at), max(served_at) FROM {logs}").fetchone()
    flags: list[TimelineFlag] = []
    for version in versions:
        found = _not_live(con, model_name, version, spells, versions)
        if found is not None:
            flags.append(found)
    if span is not None and span[0] is not None:
        for spell in spells:
            flags += _silent(con, model_name, spell, (span[0], span[1]))
    return tuple(flags)


def cross_check(store: Store, model_name: str) -> tuple[TimelineFlag, ...]:
    with store.connect() as con:
        return check(con, model_name)
