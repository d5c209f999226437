"""The model-level inventory entry: derived from metadata until recorded, edited by the roles
that own each field, independent validation, every change audited, DB edits detected."""

from __future__ import annotations

import datetime as dt

import pytest

from vigil.core.errors import PermissionDenied, UnknownModelError
from vigil.core.evidence import inventory, inventory_history
from vigil.core.evidence.common import EvidenceError, StaleEditError
from vigil.core.evidence.inventory import (
    AiActRiskClass,
    AiActRole,
    MaterialityTier,
    ValidationStatus,
)
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.store.connection import Store

MODEL = "credit-risk"
DANA, RITA, OMAR = User("dana", "analyst"), User("rita", "approver"), User("omar", "approver")
ADAM, VIC = User("adam", "admin"), User("vic", "viewer")


def test_unrecorded_entry_comes_from_the_champion_metadata(demo_store: Store) -> None:
    with demo_store.connect() as con:
        owner, use, limits, tier, review = con.execute(
            "SELECT v.owner, v.intended_use, v.limitations, v.risk_tier, v.next_review_date "
            "FROM model_versions v JOIN aliases a USING (model_name, model_version) "
            "WHERE a.alias = 'champion' AND model_name = ?",
            [MODEL],
        ).fetchone()
    entry = inventory.entry(demo_store, MODEL)
    assert not entry.recorded and entry.source_version == "1.0"
    assert (entry.owner, entry.intended_use, entry.limitations) == (owner, use, limits)
    assert entry.materiality_tier is MaterialityTier(tier)
    assert entry.registered_review_date == review
    assert entry.validation_status is ValidationStatus.NOT_VALIDATED
    with pytest.raises(UnknownModelError):
        inventory.entry(demo_store, "no-such-model")


def test_analyst_documents_the_model_and_the_change_is_audited(demo_copy: Store) -> None:
    entry = inventory.update_entry(
        demo_copy,
        DANA,
        MODEL,
        {"limitations": "Not for business loans.", "vendor_model": False},
        "Limitations reworded after the validation meeting.",
        expected_row_version=0,
    )
    assert entry.recorded and entry.row_version == 1 and entry.updated_by == "dana"
    assert entry.limitations == "Not for business loans."
    with demo_copy.connect() as con:
        record = audit.query(con, audit.AuditFilter(action="update_inventory"))[-1]
        assert inventory_history.inventory_mismatches(con) == []
    assert record["actor"] == "dana" and record["model_name"] == MODEL
    assert record["evidence"]["changes"]["limitations"]["new"] == "Not for business loans."
    assert record["evidence"]["changes"]["limitations"]["old"].startswith("Trained on 1,000")
    assert set(record["evidence"]["changes"]) == {"limitations"}  # vendor_model did not change
    assert record["evidence"]["entry"]["owner"] == "Retail Credit Analytics"


@pytest.mark.parametrize(
    ("user", "field", "value"),
    [
        (DANA, "materiality_tier", "low"),
        (DANA, "validation_status", "in_progress"),
        (DANA, "post_model_adjustments", "None"),
        (VIC, "owner", "Somebody"),
        (VIC, "materiality_tier", "low"),
    ],
)
def test_fields_are_edited_only_by_their_owning_roles(
    demo_copy: Store, user: User, field: str, value: str
) -> None:
    with pytest.raises(PermissionDenied):
        inventory.update_entry(demo_copy, user, MODEL, {field: value}, "An attempt to change.")
    assert not inventory.entry(demo_copy, MODEL).recorded


def test_risk_fields_recorded_by_an_approver(demo_copy: Store) -> None:
    day = dt.date(2026, 11, 20)
    entry = inventory.update_entry(
        demo_copy,
        RITA,
        MODEL,
        {
            "materiality_tier": "medium",
            "validator": "omar",
            "validation_status": "validated_with_conditions",
            "validation_date": day,
            "ai_act_role": "deployer",
            "ai_act_risk_class": "high_risk",
            "post_model_adjustments": "Scores of applicants aged 19-21 capped at 0.6.",
        },
        "Annual validation completed with one condition.",
    )
    assert entry.materiality_tier is MaterialityTier.MEDIUM
    assert entry.validation_status is ValidationStatus.CONDITIONAL
    assert (entry.validator, entry.validation_date) == ("omar", day)
    assert entry.ai_act_role is AiActRole.DEPLOYER
    assert entry.ai_act_risk_class is AiActRiskClass.HIGH_RISK
    assert inventory.editable_fields(DANA) == (
        "owner",
        "vendor_model",
        "vendor_name",
        "intended_use",
        "limitations",
    )
    assert inventory.editable_fields(VIC) == ()
    assert set(inventory.editable_fields(RITA)) == set(inventory.STORED)


def test_validator_must_be_independent(demo_copy: Store) -> None:
    with pytest.raises(EvidenceError, match="dana registered a version of credit-risk"):
        inventory.update_entry(demo_copy, RITA, MODEL, {"validator": "dana"}, "Name validator.")
    with demo_copy.transaction() as con:  # setup: adam asked for a promotion of this model
        audit.append(
            con,
            actor="adam",
            actor_role="admin",
            action="request_promotion",
            model_name=MODEL,
            model_version="1.1",
            rationale="Setup: adam takes part in development.",
        )
    with pytest.raises(EvidenceError, match="adam took part in developing credit-risk"):
        inventory.update_entry(
            demo_copy,
            ADAM,
            MODEL,
            {
                "validator": "omar",
                "validation_status": "validated",
                "validation_date": "2026-11-01",
            },
            "Validated.",
        )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"validation_status": "validated", "validator": "omar"}, "needs the date"),
        ({"validation_status": "validated", "validation_date": "2026-11-01"}, "validator's name"),
        ({"validation_date": "2999-01-01", "validator": "omar"}, "in the future"),
        ({"vendor_model": True}, "name the vendor"),
        ({"materiality_tier": "extreme"}, "not one of: high, medium, low"),
        ({"colour": "red"}, "Unknown inventory field"),
    ],
)
def test_inconsistent_entries_are_refused(demo_copy: Store, changes: dict, message: str) -> None:
    with pytest.raises(EvidenceError, match=message):
        inventory.update_entry(demo_copy, RITA, MODEL, changes, "Recording the validation.")


def test_rationale_required_and_stale_edit_refused(demo_copy: Store) -> None:
    with pytest.raises(EvidenceError, match="rationale"):
        inventory.update_entry(demo_copy, DANA, MODEL, {"owner": "Credit Risk"}, "  ")
    same = {"owner": "Retail Credit Analytics"}  # unrecorded: confirming the derived value
    assert inventory.update_entry(demo_copy, DANA, MODEL, same, "Confirmed.").row_version == 1
    with pytest.raises(EvidenceError, match="Nothing to change"):
        inventory.update_entry(demo_copy, DANA, MODEL, same, "Confirmed again.")
    inventory.update_entry(demo_copy, DANA, MODEL, {"owner": "Credit Risk"}, "Team renamed.")
    with pytest.raises(StaleEditError, match="changed by dana"):
        inventory.update_entry(
            demo_copy,
            RITA,
            MODEL,
            {"materiality_tier": "low"},
            "Tier lowered.",
            expected_row_version=1,
        )


def test_direct_database_edit_is_detected(demo_copy: Store) -> None:
    inventory.update_entry(demo_copy, RITA, MODEL, {"materiality_tier": "high"}, "Confirmed tier.")
    with demo_copy.transaction() as con:  # an edit behind Vigil's back
        con.execute("UPDATE model_inventory SET materiality_tier = 'low'")
    with demo_copy.connect() as con:
        problems = inventory_history.inventory_mismatches(con)
    assert problems == [
        "The inventory entry of credit-risk differs from its latest audit record (Materiality "
        "tier): it was changed outside Vigil or records were removed."
    ]


def test_history_lists_each_change_newest_first(demo_copy: Store) -> None:
    inventory.update_entry(demo_copy, DANA, MODEL, {"owner": "Credit Risk"}, "Team renamed.")
    inventory.update_entry(demo_copy, RITA, MODEL, {"materiality_tier": "medium"}, "Re-tiered.")
    first, second = inventory_history.history(demo_copy, MODEL)
    assert (first.actor, first.rationale) == ("rita", "Re-tiered.")
    assert first.changes == (("Materiality tier", "high", "medium"),)
    assert second.changes == (("Owner", "Retail Credit Analytics", "Credit Risk"),)
    assert first.seq > second.seq
