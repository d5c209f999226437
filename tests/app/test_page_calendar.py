"""AppTest: the Review calendar shows the demo's next review, lists overdue models first,
and lets approvers set the cadence and admins the retention (audited); nobody else."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.app.helpers import run_page
from tests.core.factories import register_toy
from vigil.core.evidence import policy
from vigil.core.store.connection import Store

MODEL = "credit-risk"


def _state(days_left: int) -> str:
    return "Overdue" if days_left < 0 else "Due soon" if days_left <= 30 else "Scheduled"


def test_demo_next_review_is_shown(demo_store: Store) -> None:
    at = run_page(demo_store, "calendar", user="vic")
    assert not at.exception, at.exception
    with demo_store.connect() as con:
        declared = con.execute(
            "SELECT next_review_date FROM model_versions WHERE model_name = ? "
            "AND model_version = '1.0'",
            [MODEL],
        ).fetchone()[0]
    table = at.dataframe[0].value
    today = dt.datetime.now(dt.UTC).date()
    assert list(table["model"]) == [MODEL]
    assert list(table["next review"]) == [declared]
    assert list(table["days left"]) == [(declared - today).days]
    assert list(table["review"]) == [_state((declared - today).days)]
    assert not at.get("form")  # a viewer changes no policy
    assert not [b for b in at.button if b.label.startswith("Purge")]


def test_overdue_models_first(demo_copy: Store, tmp_path: Path) -> None:
    register_toy(demo_copy, tmp_path, risk_tier="low", next_review_date="2026-01-31")
    at = run_page(demo_copy, "calendar", user="vic")
    table = at.dataframe[0].value
    assert list(table["model"]) == ["toy", MODEL]
    assert table["review"].iloc[0] == "Overdue"
    assert "1 review(s) overdue: listed first below." in [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Reviews overdue"] == "1"


def test_approver_sets_the_cadence_and_admin_the_retention(demo_copy: Store) -> None:
    at = run_page(demo_copy, "calendar", user="rita")
    assert not at.exception, at.exception
    assert [n.key for n in at.number_input] == ["calendar_months"]  # retention: admins only
    at.selectbox(key="calendar_tier").set_value("medium")
    at.number_input(key="calendar_months").set_value(18)
    at.text_input(key="calendar_cadence_why").input("Medium models yearly and a half.")
    next(b for b in at.button if b.label == "Set cadence").click()
    at.run()
    assert "Cadence of medium set." in [s.value for s in at.success]
    assert policy.policy(demo_copy).cadence_months(policy.MaterialityTier.MEDIUM) == 18
    admin = run_page(demo_copy, "calendar", user="adam")
    admin.number_input(key="calendar_keep").set_value(9)
    admin.text_input(key="calendar_retention_why").input("Nine months for disputes.")
    next(b for b in admin.button if b.label == "Set retention").click()
    admin.run()
    assert "Retention set to 9 months." in [s.value for s in admin.success]
    assert policy.policy(demo_copy).retention_months == 9
    analyst = run_page(demo_copy, "calendar", user="dana")
    assert not analyst.get("form")
    policies = analyst.dataframe[1].value
    assert list(policies["value"]) == [12, 18, 36, 9]
    assert list(policies["set by"]) == ["default", "rita", "default", "adam"]
