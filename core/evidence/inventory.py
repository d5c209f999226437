"""The model-level inventory entry (SR 26-2 inventory and tiering, PRA SS1/23 principle 1).

One entry per model, not per version: tier, validation and regulatory role describe the
model a business uses, whichever version serves it. Until someone records an entry, the
champion's (else the newest version's) registration metadata fills owner, intended use,
limitations and tier, and the entry says so (`row_version` 0, `source_version`).

Who edits what (decided here, shown on the Inventory page):
- the first line (analysts, approvers, admins) documents the model: owner, intended use,
  limitations, vendor model and vendor name;
- the second line (approvers and admins: model risk and validation) sets materiality tier,
  independent validator, validation status and date, EU AI Act role and risk class, and the
  post-model adjustments in force (PRA SS1/23 asks for them to be independently overseen).
The validator must be independent: nobody who registered a version of the model or asked
for its promotion may be named validator or record a validation outcome. Every change is one
audit record holding the old and new values and the whole entry as written;
core.evidence.inventory_history reads them back and spots edits made behind Vigil's back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import duckdb

from vigil.core.evidence.common import (
    CONTRIBUTOR_ROLES,
    RISK_ROLES,
    EvidenceError,
    StaleEditError,
    check_text,
    now,
    require_role,
)
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.registry.versions import (
    ModelVersion,
    aliases,
    list_model_names,
    list_versions,
    model_tables,
)
from vigil.core.results import to_jsonable
from vigil.core.store.connection import Store

ACTION = "update_inventory"


class MaterialityTier(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class ValidationStatus(StrEnum):
    NOT_VALIDATED = "not_validated"
    IN_PROGRESS = "in_progress"
    VALIDATED = "validated"
    CONDITIONAL = "validated_with_conditions"
    NOT_APPROVED = "not_approved"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class AiActRole(StrEnum):
    PROVIDER = "provider"
    DEPLOYER = "deployer"
    NOT_APPLICABLE = "not_applicable"


class AiActRiskClass(StrEnum):
    HIGH_RISK = "high_risk"
    LIMITED_RISK = "limited_risk"
    MINIMAL_RISK = "minimal_risk"
    OUT_OF_SCOPE = "out_of_scope"


VALIDATION_OUTCOMES = frozenset(
    {ValidationStatus.VALIDATED, ValidationStatus.CONDITIONAL, ValidationStatus.NOT_APPROVED}
)
ENUMS: dict[str, type[StrEnum]] = {
    "materiality_tier": MaterialityTier,
    "validation_status": ValidationStatus,
    "ai_act_role": AiActRole,
    "ai_act_risk_class": AiActRiskClass,
}
FIELD_ROLES: dict[str, frozenset[str]] = {
    "owner": CONTRIBUTOR_ROLES,
    "intended_use": CONTRIBUTOR_ROLES,
    "limitations": CONTRIBUTOR_ROLES,
    "vendor_model": CONTRIBUTOR_ROLES,
    "vendor_name": CONTRIBUTOR_ROLES,
    "materiality_tier": RISK_ROLES,
    "validator": RISK_ROLES,
    "validation_status": RISK_ROLES,
    "validation_date": RISK_ROLES,
    "ai_act_role": RISK_ROLES,
    "ai_act_risk_class": RISK_ROLES,
    "post_model_adjustments": RISK_ROLES,
}
FIELD_LABELS = {
    "materiality_tier": "Materiality tier",
    "owner": "Owner",
    "validator": "Independent validator",
    "validation_status": "Validation status",
    "validation_date": "Validation date",
    "vendor_model": "Vendor model",
    "vendor_name": "Vendor",
    "intended_use": "Intended use",
    "limitations": "Limitations",
    "ai_act_role": "EU AI Act role",
    "ai_act_risk_class": "EU AI Act risk class",
    "post_model_adjustments": "Post-model adjustments in force",
}
STORED = tuple(FIELD_LABELS)  # the editable columns, in the order pages and the pack show them


@dataclass(frozen=True)
class InventoryEntry:
    model_name: str
    materiality_tier: MaterialityTier | None
    owner: str | None
    validator: str | None
    validation_status: ValidationStatus
    validation_date: dt.date | None
    vendor_model: bool
    vendor_name: str | None
    intended_use: str | None
    limitations: str | None
    ai_act_role: AiActRole | None
    ai_act_risk_class: AiActRiskClass | None
    post_model_adjustments: str | None
    row_version: int  # 0: nothing recorded yet; the values come from `source_version`
    updated_by: str | None
    updated_at: dt.datetime | None
    source_version: str | None  # the champion, else the newest version
    registered_review_date: dt.date | None  # that version's next_review_date at registration

    @property
    def recorded(self) -> bool:
        return self.row_version > 0

    def values(self) -> dict[str, Any]:
        """The editable fields, JSON-ready (what the audit snapshot holds)."""
        return {name: to_jsonable(getattr(self, name)) for name in STORED}


def _reference_version(con: duckdb.DuckDBPyConnection, model_name: str) -> ModelVersion | None:
    versions = list_versions(con, model_name)
    champion = aliases(con, model_name).get("champion")
    for version in versions:
        if version.model_version == champion:
            return version
    return versions[-1] if versions else None


def _tier(text: str | None) -> MaterialityTier | None:
    value = (text or "").strip().lower()
    return MaterialityTier(value) if value in set(MaterialityTier) else None


def _from_metadata(model_name: str, version: ModelVersion | None) -> InventoryEntry:
    return InventoryEntry(
        model_name=model_name,
        materiality_tier=_tier(version.risk_tier) if version else None,
        owner=version.owner if version else None,
        validator=None,
        validation_status=ValidationStatus.NOT_VALIDATED,
        validation_date=None,
        vendor_model=False,
        vendor_name=None,
        intended_use=version.intended_use if version else None,
        limitations=version.limitations if version else None,
        ai_act_role=None,
        ai_act_risk_class=None,
        post_model_adjustments=None,
        row_version=0,
        updated_by=None,
        updated_at=None,
        source_version=version.model_version if version else None,
        registered_review_date=version.next_review_date if version else None,
    )


def _coerce(name: str, value: Any) -> Any:
    """A field's value as stored: enums checked, texts stripped (empty means none)."""
    if name == "vendor_model":
        if not isinstance(value, bool):
            raise EvidenceError(f"Vendor model must be yes or no, not {value!r}.")
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        if name == "validation_status":
            return ValidationStatus.NOT_VALIDATED
        return None
    if name == "validation_date":
        if isinstance(value, str):
            value = dt.date.fromisoformat(value)
        if not isinstance(value, dt.date):
            raise EvidenceError(f"Validation date must be a date, not {value!r}.")
        return value
    if name in ENUMS:
        enum = ENUMS[name]
        try:
            return enum(str(value).strip().lower())
        except ValueError:
            choices = ", ".join(e.value for e in enum)
            raise EvidenceError(
                f"{FIELD_LABELS[name]} {value!r} is not one of: {choices}."
            ) from None
    return str(value).strip()


def get_entry(con: duckdb.DuckDBPyConnection, model_name: str) -> InventoryEntry:
    """The model's entry: recorded values, else its reference version's metadata."""
    model_tables(con, model_name)  # UnknownModelError with the registered names
    base = _from_metadata(model_name, _reference_version(con, model_name))
    cursor = con.execute("SELECT * FROM model_inventory WHERE model_name = ?", [model_name])
    row = cursor.fetchone()
    if row is None:
        return base
    stored = dict(zip([d[0] for d in cursor.description], row, strict=True))
    values = {name: _coerce(name, stored[name]) for name in STORED}
    return replace(
        base,
        **values,
        row_version=int(stored["row_version"]),
        updated_by=stored["updated_by"],
        updated_at=stored["updated_at"],
    )


def list_entries(con: duckdb.DuckDBPyConnection) -> list[InventoryEntry]:
    return [get_entry(con, name) for name in list_model_names(con)]


def entries(store: Store) -> list[InventoryEntry]:
    with store.connect() as con:
        return list_entries(con)


def entry(store: Store, model_name: str) -> InventoryEntry:
    with store.connect() as con:
        return get_entry(con, model_name)


def developers(con: duckdb.DuckDBPyConnection, model_name: str) -> frozenset[str]:
    """Who registered a version of the model or asked for its promotion (not independent)."""
    rows = con.execute(
        "SELECT DISTINCT actor FROM audit_log WHERE model_name = ? "
        "AND action IN ('register', 'request_promotion') "
        "UNION SELECT registered_by FROM model_versions WHERE model_name = ?",
        [model_name, model_name],
    ).fetchall()
    return frozenset(r[0] for r in rows)


def editable_fields(user: User) -> tuple[str, ...]:
    """The fields this user's role may change (pages disable the others)."""
    return tuple(name for name in STORED if user.role in FIELD_ROLES[name])


def _check_independence(
    con: duckdb.DuckDBPyConnection, user: User, current: InventoryEntry, new: InventoryEntry
) -> None:
    builders = developers(con, current.model_name)
    if new.validator and new.validator != current.validator and new.validator in builders:
        raise EvidenceError(
            f"{new.validator} registered a version of {current.model_name} or asked for its "
            "promotion, so cannot be its independent validator; name someone outside its "
            "development."
        )
    outcome_changed = (new.validation_status, new.validation_date) != (
        current.validation_status,
        current.validation_date,
    )
    if (
        outcome_changed
        and new.validation_status in VALIDATION_OUTCOMES
        and user.username in (builders)
    ):
        raise EvidenceError(
            f"{user.username} took part in developing {current.model_name} and cannot record "
            "its validation outcome; the independent validator or another approver records it."
        )


def _check_consistency(new: InventoryEntry, today: dt.date) -> None:
    if new.validation_date is not None and new.validation_date > today:
        raise EvidenceError(
            f"The validation date {new.validation_date} of {new.model_name} is in the future; "
            "record the date the validation was completed."
        )
    if new.validation_status in VALIDATION_OUTCOMES and new.validation_date is None:
        raise EvidenceError(
            f"{new.validation_status.label} needs the date the validation was completed."
        )
    if new.validation_status in VALIDATION_OUTCOMES and not new.validator:
        raise EvidenceError(
            f"{new.validation_status.label} needs the independent validator's name."
        )
    if new.vendor_model and not new.vendor_name:
        raise EvidenceError(f"{new.model_name} is a vendor model: name the vendor.")


def update_entry(
    store: Store,
    user: User,
    model_name: str,
    changes: dict[str, Any],
    rationale: str,
    *,
    expected_row_version: int | None = None,
) -> InventoryEntry:
    """Change some fields of a model's entry; one audit record with old and new values."""
    unknown = sorted(set(changes) - set(STORED))
    if unknown:
        raise EvidenceError(f"Unknown inventory field(s): {', '.join(unknown)}.")
    rationale = check_text(rationale, f"a rationale for changing the inventory of {model_name}")
    with store.transaction() as con:
        current = get_entry(con, model_name)
        if expected_row_version is not None and expected_row_version != current.row_version:
            raise StaleEditError(
                f"The inventory entry of {model_name} was changed by {current.updated_by} at "
                f"{current.updated_at:%Y-%m-%d %H:%M} UTC after this page was loaded; reload "
                "and make the change again."
            )
        coerced = {name: _coerce(name, value) for name, value in changes.items()}
        changed = {k: v for k, v in coerced.items() if v != getattr(current, k)}
        if not changed and current.recorded:
            raise EvidenceError(f"Nothing to change in the inventory entry of {model_name}.")
        for name in changed or coerced:  # unrecorded: confirming the derived values records them
            require_role(user, FIELD_ROLES[name], f"change the {FIELD_LABELS[name].lower()}")
        new = replace(current, **changed, row_version=current.row_version + 1)
        _check_independence(con, user, current, new)
        _check_consistency(new, now().date())
        _write(con, new, user, rationale, {k: (getattr(current, k), v) for k, v in changed.items()})
        return get_entry(con, model_name)


def _write(
    con: duckdb.DuckDBPyConnection,
    new: InventoryEntry,
    user: User,
    rationale: str,
    diff: dict[str, tuple[Any, Any]],
) -> None:
    columns = ("model_name", *STORED, "row_version", "updated_by", "updated_at")
    values = [new.model_name, *(getattr(new, n) for n in STORED)]
    con.execute(
        f"INSERT OR REPLACE INTO model_inventory ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})",
        [*values, new.row_version, user.username, now()],
    )
    audit.append(
        con,
        actor=user.username,
        actor_role=user.role,
        action=ACTION,
        model_name=new.model_name,
        rationale=rationale,
        evidence={
            "changes": {
                k: {"old": to_jsonable(old), "new": to_jsonable(val)}
                for k, (old, val) in diff.items()
            },
            "entry": new.values(),
            "row_version": new.row_version,
        },
    )
