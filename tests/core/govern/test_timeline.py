"""What was live when: spells in production derived from the audit log."""

from __future__ import annotations

import datetime as dt

from vigil.core.govern import audit
from vigil.core.govern.timeline import Timeline, intervals_from_records, timeline
from vigil.core.store.connection import Store


def at(hour: int) -> dt.datetime:
    return dt.datetime(2026, 11, 1, hour)


RECORDS = [
    # seq, recorded_at, actor, action, version, from, to
    (5, at(1), "rita", "promote", "1", "approved", "production"),
    (9, at(3), "rita", "archive", "1", "production", "archived"),
    (10, at(3), "rita", "promote", "2", "approved", "production"),
    (11, at(5), "omar", "rollback", "2", "production", "rolled_back"),
    (12, at(5), "omar", "restore", "1", "archived", "production"),
]


def test_intervals_pair_entries_with_exits() -> None:
    spells = intervals_from_records("m", RECORDS)
    assert [(i.model_version, i.start, i.end, i.started_by, i.ended_by) for i in spells] == [
        ("1", at(1), at(3), "promote", "archive"),
        ("2", at(3), at(5), "promote", "rollback"),
        ("1", at(5), None, "restore", None),
    ]
    assert (spells[1].started_actor, spells[1].ended_actor, spells[1].ended_seq) == (
        "rita",
        "omar",
        11,
    )


def test_live_at_and_previous_champions() -> None:
    line = Timeline("m", intervals_from_records("m", RECORDS))
    assert line.live_at(at(0)) is None
    assert line.live_at(at(1)) == "1"
    assert line.live_at(at(2)) == "1"
    assert line.live_at(at(3)) == "2"  # the switch instant belongs to the new champion
    assert line.live_at(at(4)) == "2"
    assert line.live_at(at(6)) == "1"
    assert line.current.model_version == "1"
    assert line.previous_champions() == ("2",)
    first_two = Timeline("m", intervals_from_records("m", RECORDS[:3]))
    assert first_two.previous_champions() == ("1",)


def test_demo_timeline(demo_store: Store) -> None:
    line = timeline(demo_store, "credit-risk")
    assert len(line.intervals) == 1
    spell = line.intervals[0]
    with demo_store.connect() as con:
        imported = audit.query(con, audit.AuditFilter(action="import_deployment"))
    assert (spell.model_version, spell.started_by, spell.started_seq, spell.end) == (
        "1.0",
        "import_deployment",
        imported[0]["seq"],
        None,
    )
    assert (spell.start, spell.imported) == (dt.datetime(2026, 8, 26), True)  # simulated day 1
    assert line.live_at(spell.start - dt.timedelta(seconds=1)) is None
    assert line.live_at(spell.start) == "1.0"
    assert line.previous_champions() == ()
