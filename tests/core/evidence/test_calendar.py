"""Review calendar and policies: next review by tier cadence, overdue first, the due-review
hook, and cadence / retention changes restricted, bounded and audited."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import DEMO_END
from tests.core.factories import register_toy
from vigil.core.errors import PermissionDenied, UnknownModelError
from vigil.core.evidence import calendar, inventory, policy
from vigil.core.evidence.calendar import ReviewState
from vigil.core.evidence.common import EvidenceError, add_months
from vigil.core.evidence.inventory import MaterialityTier
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.store.connection import Store

MODEL = "credit-risk"
DANA, RITA, ADAM = User("dana", "analyst"), User("rita", "approver"), User("adam", "admin")


@pytest.mark.parametrize("months", [-25, -13, -12, -1, 1, 6, 11, 12, 18, 36])
def test_add_months_matches_pandas(months: int) -> None:
    for day in pd.date_range("2023-01-01", "2025-12-31", freq="D"):
        expected = (day + pd.DateOffset(months=months)).date()
        assert add_months(day.date(), months) == expected


def test_defaults(demo_store: Store) -> None:
    current = policy.policy(demo_store)
    assert [(t.value, p.value) for t, p in current.cadence] == [
        ("high", 12),
        ("medium", 24),
        ("low", 36),
    ]
    assert current.retention_months == 6 and current.retention.set_by is None


def test_demo_calendar_shows_the_declared_review(demo_store: Store) -> None:
    with demo_store.connect() as con:
        declared = con.execute(
            "SELECT next_review_date FROM model_versions WHERE model_name = ? "
            "AND model_version = '1.0'",
            [MODEL],
        ).fetchone()[0]
    [item] = calendar.calendar(demo_store, DEMO_END)
    assert item.model_name == MODEL and item.next_review == declared
    assert item.days_left == (declared - DEMO_END).days
    assert item.state is ReviewState.SCHEDULED and item.cadence_months is None
    assert "declared when version 1.0 was registered" in item.basis
    assert calendar.due_reviews(demo_store, DEMO_END) == []
    soon = declared - dt.timedelta(days=calendar.DUE_SOON_DAYS)
    assert [i.state for i in calendar.due_reviews(demo_store, soon)] == [ReviewState.DUE_SOON]
    late = declared + dt.timedelta(days=1)
    [overdue] = calendar.due_reviews(demo_store, late)
    assert overdue.state is ReviewState.OVERDUE and overdue.days_left == -1


def test_validation_and_cadence_drive_the_next_review(demo_copy: Store) -> None:
    validated = dt.date(2026, 8, 31)
    inventory.update_entry(
        demo_copy,
        RITA,
        MODEL,
        {"validator": "omar", "validation_status": "validated", "validation_date": validated},
        "Periodic validation done.",
    )
    [item] = calendar.calendar(demo_copy, DEMO_END)
    assert item.next_review == dt.date(2027, 8, 31) and item.cadence_months == 12
    policy.set_review_cadence(demo_copy, RITA, "high", 6, "Tighter cycle after findings.")
    [item] = calendar.calendar(demo_copy, DEMO_END)
    assert item.next_review == dt.date(2027, 2, 28)  # 31 August + 6 months, clamped
    with demo_copy.connect() as con:
        record = audit.query(con, audit.AuditFilter(action="set_review_cadence"))[-1]
    assert record["actor"] == "rita"
    assert record["evidence"] == {"policy": "review_cadence_months:high", "old": 12, "new": 6}


def test_overdue_models_come_first(demo_copy: Store, tmp_path: Path) -> None:
    register_toy(demo_copy, tmp_path, risk_tier="low", next_review_date="2026-01-31")
    register_toy(
        demo_copy,
        tmp_path,
        "1",
        model_name="toy-2",
        risk_tier="medium",
        next_review_date="2027-06-30",
    )
    register_toy(demo_copy, tmp_path, "1", model_name="toy-3")  # no review date declared
    with demo_copy.transaction() as con:  # setup: toy-3 was registered in June
        con.execute("UPDATE models SET created_at = '2026-06-01 09:00' WHERE model_name = 'toy-3'")
    items = calendar.calendar(demo_copy, DEMO_END)
    assert [i.model_name for i in items] == ["toy", "toy-3", "credit-risk", "toy-2"]
    assert [i.state for i in items] == [
        ReviewState.OVERDUE,
        ReviewState.OVERDUE,
        ReviewState.SCHEDULED,
        ReviewState.SCHEDULED,
    ]
    assert [i.next_review for i in items] == [
        dt.date(2026, 1, 31),
        dt.date(2026, 6, 1),
        dt.date(2026, 12, 27),
        dt.date(2027, 6, 30),
    ]
    assert "due since registration" in items[1].basis
    due = calendar.due_reviews(demo_copy, DEMO_END)
    assert [i.model_name for i in due] == ["toy", "toy-3"]


def test_no_tier_means_the_high_cadence(demo_copy: Store, tmp_path: Path) -> None:
    register_toy(demo_copy, tmp_path)
    inventory.update_entry(
        demo_copy,
        RITA,
        "toy",
        {"validator": "omar", "validation_status": "validated", "validation_date": "2026-03-15"},
        "Validated.",
    )
    item = next(i for i in calendar.calendar(demo_copy, DEMO_END) if i.model_name == "toy")
    assert item.tier is None and item.next_review == dt.date(2027, 3, 15)
    assert "no tier recorded, high assumed" in item.basis


def test_policy_changes_are_restricted_and_bounded(demo_copy: Store) -> None:
    with pytest.raises(PermissionDenied):
        policy.set_review_cadence(demo_copy, DANA, MaterialityTier.LOW, 12, "Shorter.")
    with pytest.raises(EvidenceError, match="out of range"):
        policy.set_review_cadence(demo_copy, RITA, MaterialityTier.LOW, 0, "Never review.")
    with pytest.raises(EvidenceError, match="already 36"):
        policy.set_review_cadence(demo_copy, RITA, MaterialityTier.LOW, 36, "Same again.")
    with pytest.raises(PermissionDenied):
        policy.set_retention(demo_copy, RITA, 12, "Keep a year.")
    with pytest.raises(EvidenceError, match="at least 6 months"):
        policy.set_retention(demo_copy, ADAM, 5, "Save disk.")
    current = policy.set_retention(demo_copy, ADAM, 12, "Keep a year of raw logs.")
    assert current.retention_months == 12 and current.retention.set_by == "adam"
    with demo_copy.connect() as con:
        [record] = audit.query(con, audit.AuditFilter(action="set_log_retention"))
    assert record["evidence"] == {"policy": "log_retention_months", "old": 6, "new": 12}


def test_days_until_review_is_the_alert_hook(demo_store: Store) -> None:
    [item] = calendar.calendar(demo_store, DEMO_END)
    assert calendar.days_until_review(demo_store, MODEL, DEMO_END) == item.days_left > 0
    late = item.next_review + dt.timedelta(days=3)
    assert calendar.days_until_review(demo_store, MODEL, late) == -3
    with pytest.raises(UnknownModelError):
        calendar.days_until_review(demo_store, "nope", DEMO_END)
