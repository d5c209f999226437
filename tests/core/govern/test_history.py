"""Imported deployment history: audited, labelled, at the time it happened, and only before
Vigil's own history; the timeline cross-checked against the traffic each version logged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.core.factories import register_toy
from tests.core.govern.test_live_gate import _ingest, _log
from vigil.core.errors import PermissionDenied, RegistryError
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.govern.history import DeploymentEvent, import_deployments
from vigil.core.govern.lifecycle import apply_transition
from vigil.core.govern.timeline import timeline
from vigil.core.govern.timeline_check import FlagKind, cross_check
from vigil.core.registry.versions import Status, aliases, get_version
from vigil.core.store.connection import Store

ADAM, DANA = User("adam", "admin"), User("dana", "analyst")
T1, T2 = dt.datetime(2026, 1, 5, 9, 30), dt.datetime(2026, 2, 20, 14, 0)


def _two_versions(store: Store, folder: Path) -> None:
    register_toy(store, folder, "1")
    register_toy(store, folder, "2")


def _import(store: Store, events: list[DeploymentEvent], actor: User = ADAM) -> list[int]:
    with store.transaction() as con:
        return import_deployments(con, actor, "toy", events, source="old release log")


def test_import_records_each_event_at_its_time(store: Store, tmp_path: Path) -> None:
    _two_versions(store, tmp_path)
    seqs = _import(store, [DeploymentEvent("1", T1, "rita"), DeploymentEvent("2", T2, "omar")])
    with store.connect() as con:
        records = [audit.get_record(con, s) for s in seqs]
        statuses = {v: get_version(con, "toy", v).status for v in ("1", "2")}
        assert aliases(con, "toy") == {"champion": "2"}
        assert audit.verify(con).valid  # the state replay agrees with the tables
    assert [(r["action"], r["actor"], r["model_version"], r["to_status"]) for r in records] == [
        ("import_deployment", "adam", "1", "production"),
        ("import_deployment", "adam", "1", "archived"),
        ("import_deployment", "adam", "2", "production"),
    ]
    assert records[0]["evidence"] == {
        "imported": True, "effective_at": "2026-01-05T09:30:00", "deployed_by": "rita",
        "source": "old release log",
    }  # fmt: skip
    assert records[0]["rationale"] == (
        "Imported deployment history (old release log): 1 went live at 5 Jan 2026, 09:30 UTC, "
        "deployed by rita."
    )
    assert records[0]["recorded_at"] > T2  # recorded now, effective then
    assert statuses == {"1": Status.ARCHIVED, "2": Status.PRODUCTION}
    spells = timeline(store, "toy").intervals
    assert [(s.model_version, s.start, s.end, s.imported) for s in spells] == [
        ("1", T1, T2, True),
        ("2", T2, None, True),
    ]


def test_import_is_refused_when_it_would_rewrite_history(store: Store, tmp_path: Path) -> None:
    _two_versions(store, tmp_path)
    with pytest.raises(PermissionDenied):
        _import(store, [DeploymentEvent("1", T1, "rita")], actor=DANA)
    with pytest.raises(RegistryError, match="in time order"):
        _import(store, [DeploymentEvent("1", T2, "rita"), DeploymentEvent("2", T1, "rita")])
    future = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1)
    with pytest.raises(RegistryError, match="not in the past"):
        _import(store, [DeploymentEvent("1", future, "rita")])
    with store.transaction() as con:  # 2 is put up for promotion in Vigil
        apply_transition(
            con, actor=DANA, model_name="toy", model_version="2", action="request_promotion",
            to_status=Status.PENDING_APPROVAL, rationale="Shadow results attached.",
        )  # fmt: skip
    with pytest.raises(RegistryError, match="only registered, approved or archived"):
        _import(store, [DeploymentEvent("2", T1, "rita")])
    _import(store, [DeploymentEvent("1", T1, "rita")])
    with pytest.raises(RegistryError, match="already has deployment history in Vigil"):
        _import(store, [DeploymentEvent("1", T2, "rita")])
    with store.connect() as con:  # nothing half-done: one import, one record
        imported = audit.query(con, audit.AuditFilter(action="import_deployment"))
    assert len(imported) == 1


def test_demo_champion_is_live_from_the_first_simulated_day(demo_store: Store) -> None:
    spells = timeline(demo_store, "credit-risk").intervals
    assert [(s.model_version, s.start, s.end, s.imported, s.started_actor) for s in spells] == [
        ("1.0", dt.datetime(2026, 8, 26), None, True, "adam")
    ]
    assert cross_check(demo_store, "credit-risk") == ()  # 1.1 ran in shadow beside 1.0


def test_traffic_while_not_live_is_flagged(store: Store, tmp_path: Path) -> None:
    """Version 1 logged a week before its imported go-live; version 2 answered on its own."""
    _two_versions(store, tmp_path)
    minutes = np.arange(0, 10 * 24 * 60, 240.0)  # every 4 hours for 10 days from 1 March 08:00
    scores = np.full(len(minutes), 0.5)
    ids = [f"r{i}-v1" for i in range(len(minutes))]
    _ingest(store, [_log(tmp_path, "1", ids, scores, minutes)], [])
    go_live = dt.datetime(2026, 3, 8)
    _import(store, [DeploymentEvent("1", go_live, "rita")])
    flags = cross_check(store, "toy")
    served = pd.Timestamp("2026-03-01T08:00:00") + pd.to_timedelta(minutes, unit="min")
    before = served[served < pd.Timestamp(go_live)]
    assert [(f.model_version, f.kind, f.predictions, f.start, f.end) for f in flags] == [
        ("1", FlagKind.NOT_LIVE, len(before), before.min(), before.max())
    ]
    assert flags[0].sentence == (
        f"1 served {len(before)} predictions between 1 Mar 2026 08:00 and "
        f"{before.max():%-d %b %Y %H:%M} UTC while it was not live (neither champion nor "
        "shadow or canary beside it)."
    )


def test_shadow_beside_the_champion_is_not_flagged_but_alone_it_is(
    store: Store, tmp_path: Path
) -> None:
    _two_versions(store, tmp_path)
    _import(store, [DeploymentEvent("1", dt.datetime(2026, 2, 1), "rita")])
    minutes = np.arange(0, 48 * 60, 60.0)
    scores = np.full(len(minutes), 0.4)
    keys = [f"q{i}" for i in range(len(minutes))]
    _ingest(
        store,
        [
            _log(tmp_path, "1", [f"{k}-v1" for k in keys], scores, minutes),
            _log(tmp_path, "2", [f"{k}-v2" for k in keys[:30]], scores[:30], minutes[:30]),
        ],
        [],
    )
    assert cross_check(store, "toy") == ()
    alone = tmp_path / "alone"
    alone.mkdir()  # 2 answers requests the champion never saw
    _ingest(store, [_log(alone, "2", ["x1-v2", "x2-v2"], scores[:2], minutes[:2] + 7)], [])
    flags = cross_check(store, "toy")
    assert [(f.model_version, f.kind, f.predictions) for f in flags] == [
        ("2", FlagKind.NOT_LIVE, 2)
    ]


def test_live_days_without_traffic_are_flagged(store: Store, tmp_path: Path) -> None:
    _two_versions(store, tmp_path)
    _import(store, [DeploymentEvent("1", dt.datetime(2026, 2, 28, 12), "rita")])
    # traffic on 1 and 2 March, none on 3-5 March, again on 6 March
    minutes = np.array([0.0, 60.0, 24 * 60.0, 5 * 24 * 60.0])
    ids = [f"s{i}-v1" for i in range(4)]
    _ingest(store, [_log(tmp_path, "1", ids, np.full(4, 0.3), minutes)], [])
    flags = cross_check(store, "toy")
    assert [(f.kind, f.start, f.end) for f in flags] == [
        (FlagKind.SILENT, dt.datetime(2026, 3, 3), dt.datetime(2026, 3, 6))
    ]
    assert flags[0].sentence == (
        "1 was live but logged no prediction for 3 whole day(s), 3 Mar 2026 to 5 Mar 2026."
    )
