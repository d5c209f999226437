"""The review calendar: when each model is next due for periodic review, overdue ones first.

A model's next review is its last validation date plus its tier's cadence (core.evidence.
policy). A model with no tier recorded gets the high tier's cadence until one is: the
conservative reading. A model never validated in Vigil is due on the next review date its
reference version declared at registration; with none declared it is due since the day it
was registered. `due_reviews` is the hook for alerting: every model overdue or due within
the horizon, most urgent first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import duckdb

from vigil.core.errors import UnknownModelError
from vigil.core.evidence.common import add_months
from vigil.core.evidence.common import today as utc_today
from vigil.core.evidence.inventory import (
    InventoryEntry,
    MaterialityTier,
    ValidationStatus,
    list_entries,
)
from vigil.core.evidence.policy import Policy, read_policy
from vigil.core.store.connection import Store

DUE_SOON_DAYS = 30


class ReviewState(StrEnum):
    OVERDUE = "overdue"
    DUE_SOON = "due_soon"
    SCHEDULED = "scheduled"

    @property
    def label(self) -> str:
        return {"overdue": "Overdue", "due_soon": "Due soon", "scheduled": "Scheduled"}[self.value]


STATE_ORDER = (ReviewState.OVERDUE, ReviewState.DUE_SOON, ReviewState.SCHEDULED)


@dataclass(frozen=True)
class ReviewItem:
    model_name: str
    tier: MaterialityTier | None
    owner: str | None
    validator: str | None
    validation_status: ValidationStatus
    last_validation: dt.date | None
    cadence_months: int | None  # None when the date did not come from the cadence
    next_review: dt.date
    basis: str  # how the date was derived, in words
    days_left: int  # negative: days overdue
    state: ReviewState


def review_item(
    entry: InventoryEntry,
    policy: Policy,
    today: dt.date,
    registered_on: dt.date,
    due_soon_days: int = DUE_SOON_DAYS,
) -> ReviewItem:
    """One model's next review date and how it was derived."""
    cadence: int | None = None
    if entry.validation_date is not None:
        tier = entry.materiality_tier or MaterialityTier.HIGH
        cadence = policy.cadence_months(tier)
        due = add_months(entry.validation_date, cadence)
        basis = f"validated {entry.validation_date} + {cadence} months ({tier.value} tier"
        basis += ")" if entry.materiality_tier else "; no tier recorded, high assumed)"
    elif entry.registered_review_date is not None:
        due = entry.registered_review_date
        basis = (
            f"not validated in Vigil yet: the review date declared when version "
            f"{entry.source_version} was registered"
        )
    else:
        due = registered_on
        basis = "never validated and no review date declared: due since registration"
    days_left = (due - today).days
    if days_left < 0:
        state = ReviewState.OVERDUE
    elif days_left <= due_soon_days:
        state = ReviewState.DUE_SOON
    else:
        state = ReviewState.SCHEDULED
    return ReviewItem(
        model_name=entry.model_name,
        tier=entry.materiality_tier,
        owner=entry.owner,
        validator=entry.validator,
        validation_status=entry.validation_status,
        last_validation=entry.validation_date,
        cadence_months=cadence,
        next_review=due,
        basis=basis,
        days_left=days_left,
        state=state,
    )


def review_calendar(
    con: duckdb.DuckDBPyConnection, today: dt.date | None = None
) -> list[ReviewItem]:
    """Every model by due date, overdue ones first."""
    day = today or utc_today()
    policy = read_policy(con)
    created = dict(con.execute("SELECT model_name, created_at FROM models").fetchall())
    items = [
        review_item(entry, policy, day, created[entry.model_name].date())
        for entry in list_entries(con)
    ]
    return sorted(items, key=lambda i: (STATE_ORDER.index(i.state), i.next_review, i.model_name))


def calendar(store: Store, today: dt.date | None = None) -> list[ReviewItem]:
    with store.connect() as con:
        return review_calendar(con, today)


def due_reviews(
    store: Store, today: dt.date | None = None, within_days: int = DUE_SOON_DAYS
) -> list[ReviewItem]:
    """Models whose review is overdue or due within `within_days`: what an alert reports."""
    day = today or utc_today()
    return [i for i in calendar(store, day) if i.days_left <= within_days]


def days_until_review(store: Store, model_name: str, as_of: dt.date | None = None) -> int:
    """Days from `as_of` (default today, UTC) to the model's next review; negative when it is
    overdue. The value an alert rule on review due-ness watches (`< 0`: overdue)."""
    day = as_of or utc_today()
    for item in calendar(store, day):
        if item.model_name == model_name:
            return item.days_left
    raise UnknownModelError(f"Model '{model_name}' is not registered.")
