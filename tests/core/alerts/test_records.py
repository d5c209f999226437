"""Alert records: opened once, resolved when the window passes, and what people do about them
(acknowledge, snooze, resolve), each audited with a note and refused when it should be."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.core.alerts.conftest import ADAM, DANA, RITA, VIC, WHY
from vigil.core.alerts import defaults, evaluate, records, rules
from vigil.core.alerts.records import AlertState
from vigil.core.alerts.rules import Comparison, RuleSpec
from vigil.core.errors import AlertError, PermissionDenied
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.store.connection import Store

MODEL = "credit-risk"
AS_OF = dt.datetime(2026, 11, 23, 23, 0)


@pytest.fixture
def fired(bare: Store) -> Store:
    defaults.install_default_rules(bare, DANA, MODEL, "1.0")
    evaluate.evaluate(bare, MODEL, as_of=AS_OF)
    return bare


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _last_audit(store: Store) -> dict:
    with store.connect() as con:
        assert audit.verify(con).valid
        return audit.read_records(con)[-1]


def test_alerts_are_stored_once_and_resolved_when_the_window_passes(fired: Store) -> None:
    active = records.overview_status(fired, MODEL)
    assert active and {a.state() for a in active} == {AlertState.OPEN}
    assert [a.severity for a in active] == sorted(
        (a.severity for a in active), key=["critical", "warning", "info"].index
    )
    again = evaluate.evaluate(fired, MODEL, as_of=AS_OF)
    assert again.fired == 0 and again.resolved == 0
    accuracy = next(r for r in rules.list_rules(fired, MODEL) if r.metric == "accuracy")
    rules.update_rule(fired, DANA, accuracy.rule_id, {"granularity": "month"}, rationale=WHY)
    assert not any(a.metric == "accuracy" for a in records.overview_status(fired, MODEL))
    closed = [a for a in records.list_alerts(fired, MODEL) if a.metric == "accuracy"]
    assert closed and all(
        a.state() is AlertState.RESOLVED and a.resolved_by is None for a in closed
    )
    assert closed[0].note == (
        f"rule {accuracy.rule_id} changed: accuracy < validation − 0.05 per month"
    )
    later = evaluate.evaluate(fired, MODEL, as_of=AS_OF)
    assert later.fired == len([r for r in later.failures if r.rule.metric == "accuracy"]) > 0


def test_alerts_follow_a_version_and_a_range(fired: Store) -> None:
    everything = records.list_alerts(fired, MODEL)
    start, end = dt.datetime(2026, 10, 12), dt.datetime(2026, 10, 19)
    chosen = records.list_alerts(fired, MODEL, version="1.0", start=start, end=end)
    assert chosen == tuple(
        a
        for a in everything
        if a.model_version == "1.0" and a.window_end > start and a.window_start < end
    )
    assert chosen and {a.model_version for a in everything} == {"1.0", "1.1"}


@pytest.mark.parametrize("user", [VIC, RITA])
def test_viewers_and_approvers_cannot_handle_alerts(fired: Store, user: User) -> None:
    alert = records.overview_status(fired, MODEL)[0]
    with pytest.raises(PermissionDenied) as err:
        records.acknowledge(fired, user, alert.alert_id, note="mine")
    assert "cannot handle alerts of credit-risk" in str(err.value)
    assert records.list_alerts(fired, MODEL)[0].state() is AlertState.OPEN


def test_acknowledge_is_audited_with_its_note(fired: Store) -> None:
    alert = records.overview_status(fired, MODEL)[0]
    with pytest.raises(AlertError) as err:
        records.acknowledge(fired, DANA, alert.alert_id, note="  ")
    assert str(err.value).startswith("Add a note")
    done = records.acknowledge(fired, DANA, alert.alert_id, note="Looking into the age bands.")
    assert done.state() is AlertState.ACKNOWLEDGED and done.acknowledged_by == "dana"
    assert done.note == "Looking into the age bands."
    assert done in records.overview_status(fired, MODEL)  # still active: someone owns it
    record = _last_audit(fired)
    assert (record["action"], record["actor"], record["rationale"]) == (
        "acknowledge_alert", "dana", "Looking into the age bands.",
    )  # fmt: skip
    with pytest.raises(AlertError) as twice:
        records.acknowledge(fired, ADAM, alert.alert_id, note="me too")
    assert (
        str(twice.value)
        == f"Alert {alert.alert_id} is acknowledged; it cannot be acknowledged now."
    )


def test_a_snoozed_alert_leaves_the_active_list_until_its_time(fired: Store) -> None:
    alert = records.overview_status(fired, MODEL)[0]
    with pytest.raises(AlertError) as err:
        records.snooze(fired, DANA, alert.alert_id, until=_now() - dt.timedelta(hours=1), note="x")
    assert str(err.value).startswith("Snooze until a time in the future, not ")
    until = _now() + dt.timedelta(days=2)
    done = records.snooze(fired, DANA, alert.alert_id, until=until, note="Retraining on Monday.")
    assert done.state() is AlertState.SNOOZED and done.snoozed_until == until
    assert done.alert_id not in {a.alert_id for a in records.overview_status(fired, MODEL)}
    assert done.state(now=until + dt.timedelta(seconds=1)) is AlertState.OPEN
    assert _last_audit(fired)["action"] == "snooze_alert"


def test_a_resolved_alert_stays_resolved_while_its_window_still_fails(fired: Store) -> None:
    alert = records.overview_status(fired, MODEL)[0]
    done = records.resolve(fired, ADAM, alert.alert_id, note="Accepted: documented in MRM-42.")
    assert done.state() is AlertState.RESOLVED and done.resolved_by == "adam"
    assert evaluate.evaluate(fired, MODEL, as_of=AS_OF).fired == 0
    (after,) = [a for a in records.list_alerts(fired, MODEL) if a.alert_id == alert.alert_id]
    assert after.state() is AlertState.RESOLVED and after.resolved_by == "adam"
    for act in (records.acknowledge, records.resolve):
        with pytest.raises(AlertError) as err:
            act(fired, DANA, alert.alert_id, note="again")
        assert str(err.value).startswith(f"Alert {alert.alert_id} is resolved (by adam)")
    assert _last_audit(fired)["action"] == "resolve_alert"


def test_an_alert_resolved_by_evaluation_reopens_when_it_fails_again(bare: Store) -> None:
    rule = rules.add_rule(
        bare, DANA, MODEL, RuleSpec("error_rate", Comparison.ABOVE, 0.0, "week"), rationale=WHY
    )
    first = evaluate.evaluate(bare, MODEL, "1.0")
    assert first.fired > 0
    rules.update_rule(bare, DANA, rule.rule_id, {"description": "same rule"}, rationale=WHY)
    with bare.transaction() as con:  # the window passes once (the rule itself unchanged)
        con.execute("UPDATE alert_rules SET threshold = 1.0 WHERE rule_id = ?", [rule.rule_id])
    assert evaluate.evaluate(bare, MODEL, "1.0").resolved == first.fired
    with bare.transaction() as con:
        con.execute("UPDATE alert_rules SET threshold = 0.0 WHERE rule_id = ?", [rule.rule_id])
    assert evaluate.evaluate(bare, MODEL, "1.0").fired == first.fired
    assert all(a.state() is AlertState.OPEN for a in records.list_alerts(bare, MODEL))


def test_an_unknown_alert(bare: Store) -> None:
    with pytest.raises(AlertError) as err:
        records.resolve(bare, DANA, 12345, note="x")
    assert str(err.value) == "Alert 12345 does not exist; the Alerts page lists them."
