"""The model inventory as the Registry page shows it: each version, its aliases, and whether
its review date has passed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from vigil.core.registry.versions import Status, list_versions
from vigil.core.store.connection import Store


@dataclass(frozen=True)
class InventoryRow:
    """One version as the inventory shows it, with its aliases and review-date standing."""

    model_name: str
    model_version: str
    status: Status
    aliases: tuple[str, ...]
    owner: str
    risk_tier: str | None
    next_review_date: dt.date | None
    review_overdue: bool
    intended_use: str | None
    limitations: str | None
    training_date: dt.date
    training_data_version: str
    code_commit: str
    hyperparameters: dict[str, Any]
    validation_metrics: dict[str, dict[str, float]]
    artifact_sha256: str
    previous_version: str | None
    registered_by: str
    registered_at: dt.datetime

    @property
    def status_label(self) -> str:
        return self.status.label


def inventory(store: Store, today: dt.date | None = None) -> tuple[InventoryRow, ...]:
    """Every model and version; a next review date before `today` (UTC) is overdue."""
    today = today or dt.datetime.now(dt.UTC).date()
    with store.connect() as con:
        versions = list_versions(con)
        alias_rows = con.execute(
            "SELECT model_name, model_version, alias FROM aliases ORDER BY alias"
        ).fetchall()
    by_version: dict[tuple[str, str], list[str]] = {}
    for model, version, alias in alias_rows:
        by_version.setdefault((model, version), []).append(alias)
    return tuple(
        InventoryRow(
            model_name=v.model_name,
            model_version=v.model_version,
            status=v.status,
            aliases=tuple(by_version.get((v.model_name, v.model_version), [])),
            owner=v.owner,
            risk_tier=v.risk_tier,
            next_review_date=v.next_review_date,
            review_overdue=v.next_review_date is not None and v.next_review_date < today,
            intended_use=v.intended_use,
            limitations=v.limitations,
            training_date=v.training_date,
            training_data_version=v.training_data_version,
            code_commit=v.code_commit,
            hyperparameters=v.hyperparameters,
            validation_metrics=v.validation_metrics,
            artifact_sha256=v.artifact_sha256,
            previous_version=v.previous_version,
            registered_by=v.registered_by,
            registered_at=v.registered_at,
        )
        for v in versions
    )
