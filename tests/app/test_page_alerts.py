"""AppTest: rules are read-only for viewers; analysts add and disable them; alerts are listed."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.app.helpers import run_page, texts
from vigil.core.alerts import engine as alerts
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.store.connection import Store


@pytest.fixture
def demo_copy(demo_copy: Store) -> Store:
    """The demo without its default rules and alerts, so each test sets the rules it needs."""
    with demo_copy.transaction() as con:
        con.execute("DELETE FROM alerts")
        con.execute("DELETE FROM alert_rules")
    return demo_copy


DANA = User("dana", "analyst")


def test_viewer_sees_rules_and_alerts_read_only(demo_copy: Store) -> None:
    alerts.install_default_rules(demo_copy, DANA, "credit-risk", "1.0")
    alerts.evaluate(demo_copy, "credit-risk", as_of=dt.datetime(2026, 11, 23, 23))
    at = run_page(demo_copy, "alerts", user="vic")
    assert not at.exception, at.exception
    body = texts(at)
    assert "You are signed in as a viewer: rules are read-only for you." in body
    assert not [b for b in at.button if b.label in ("Add rule", "Evaluate rules now")]
    rules = at.dataframe[1].value
    assert list(rules["condition"])[:2] == [
        "roc_auc < validation − 0.05 per week",
        "accuracy < validation − 0.05 per week",
    ]
    active = alerts.overview_status(demo_copy, "credit-risk")
    assert len(at.dataframe[0].value) == len(active) > 0
    assert active[0].describe() in body


def test_analyst_adds_and_disables_a_rule(demo_copy: Store) -> None:
    at = run_page(demo_copy, "alerts", user="dana")
    assert not at.exception, at.exception
    assert "This model has no alert rules yet." in texts(at)
    form = at.get("form")[0]
    form.selectbox[0].select("error_rate")
    form.selectbox[1].select(">")
    form.number_input[0].set_value(0.02)
    form.selectbox[2].select("day")
    form.selectbox[3].select("critical")
    form.text_input[0].input("Errors above 2 %")
    next(b for b in form.button if b.label == "Add rule").click()
    at.run()
    assert not at.exception, at.exception
    (rule,) = alerts.list_rules(demo_copy, "credit-risk")
    assert (rule.metric, rule.comparison, rule.threshold, rule.granularity, rule.severity) == (
        "error_rate",
        ">",
        0.02,
        "day",
        "critical",
    )
    assert rule.created_by == "dana"
    at.button(key="alerts_toggle").click()
    at.run()
    assert alerts.list_rules(demo_copy, "credit-risk")[0].enabled is False
    with demo_copy.connect() as con:
        actions = [r["action"] for r in audit.read_records(con)][-2:]
    assert actions == ["add_alert_rule", "disable_alert_rule"]
    at.button(key="alerts_evaluate").click()
    at.run()
    assert "Evaluated 0 rule checks: 0 new alert(s), 0 resolved." in texts(at)
