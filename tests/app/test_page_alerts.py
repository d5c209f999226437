"""AppTest: the Alerts page follows the sidebar's version and range; viewers read, analysts
acknowledge, snooze and resolve alerts and edit rules, each with a note for the audit trail;
what people typed is shown as text, never as markdown."""

from __future__ import annotations

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.helpers import pick_dates, run_page, texts
from vigil.core.alerts import defaults, evaluate, records, rules
from vigil.core.alerts.records import AlertState
from vigil.core.alerts.rules import Comparison, RuleSpec
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.store.connection import Store

MODEL = "credit-risk"
DANA = User("dana", "analyst")
AS_OF = dt.datetime(2026, 11, 23, 23)


@pytest.fixture
def bare(demo_copy: Store) -> Store:
    """The demo without its default rules and alerts, so each test sets the rules it needs."""
    with demo_copy.transaction() as con:
        con.execute("DELETE FROM alerts")
        con.execute("DELETE FROM alert_rules")
    return demo_copy


@pytest.fixture
def fired(bare: Store) -> Store:
    defaults.install_default_rules(bare, DANA, MODEL, "1.0")
    evaluate.evaluate(bare, MODEL, as_of=AS_OF)
    return bare


def _choose(at: AppTest, version: str, start: dt.date, end: dt.date) -> None:
    at.sidebar.selectbox(key="vigil_version").select(version).run()
    pick_dates(at, version, start, end)
    assert not at.exception, at.exception


def _shown_ids(at: AppTest, expander: str | None = None) -> list[int]:
    """Alert ids in the active table, or in the expander whose label starts with `expander`."""
    if expander is None:
        frames = [d.value for d in at.dataframe if "alert" in d.value.columns]
        active = [f for f in frames if f["state"].str.match("open|acknowledged").all()]
        return [int(i) for i in active[0]["alert"]] if active else []
    (box,) = [e for e in at.expander if e.label.startswith(expander)]
    return [int(i) for i in box.dataframe[0].value["alert"]]


def _expected(store: Store, version: str, start: dt.date, end: dt.date) -> list[int]:
    active = (AlertState.OPEN, AlertState.ACKNOWLEDGED)
    found = records.list_alerts(
        store, MODEL, version=version, states=active,
        start=dt.datetime.combine(start, dt.time()),
        end=dt.datetime.combine(end + dt.timedelta(days=1), dt.time()),
    )  # fmt: skip
    return [a.alert_id for a in found]


def test_the_page_follows_the_sidebars_version_and_range(fired: Store) -> None:
    at = run_page(fired, "alerts", user="vic")
    assert not at.exception, at.exception
    for version, start, end in (
        ("1.0", dt.date(2026, 10, 12), dt.date(2026, 10, 25)),
        ("1.1", dt.date(2026, 11, 3), dt.date(2026, 11, 23)),
        ("1.0", dt.date(2026, 11, 16), dt.date(2026, 11, 23)),
    ):
        _choose(at, version, start, end)
        expected = _expected(fired, version, start, end)
        assert expected and _shown_ids(at) == expected
        assert f"Alerts of version {version} in this range" in texts(at)
    everything = records.list_alerts(fired, MODEL)
    assert len(everything) > len(_shown_ids(at))


def test_viewers_read_only(fired: Store) -> None:
    at = run_page(fired, "alerts", user="vic")
    assert not at.exception, at.exception
    body = texts(at)
    assert "You are signed in as a viewer: rules and alerts are read-only for you." in body
    labels = [b.label for b in at.button]
    assert not {"Add rule", "Evaluate rules now", "Apply"} & set(labels)
    rules_frame = next(d for d in at.dataframe if "condition" in d.value.columns)
    assert list(rules_frame.value["condition"])[:2] == [
        "roc_auc < validation − 0.05 per week",
        "accuracy < validation − 0.05 per week",
    ]


def _handle(at: AppTest, alert_id: int, action: str, note: str) -> None:
    form = next(f for f in at.get("form") if f.proto.form.form_id == "alerts_handle")
    form.selectbox[0].select(alert_id)
    form.radio(key="alerts_action").set_value(action)
    form.text_area(key="alerts_note").input(note)
    next(b for b in form.button if b.label == "Apply").click()
    at.run()
    assert not at.exception, at.exception


def test_an_analyst_acknowledges_snoozes_and_resolves_with_a_note(fired: Store) -> None:
    at = run_page(fired, "alerts", user="dana")
    _choose(at, "1.0", dt.date(2026, 10, 12), dt.date(2026, 11, 1))
    first, second, third = _shown_ids(at)[:3]
    _handle(at, first, "Acknowledge", "   ")
    assert [e.value for e in at.error] == [
        "Add a note: what was seen or done (it is kept in the audit trail)."
    ]
    _handle(at, first, "Acknowledge", "Looking at the age bands.")
    assert f"Alert #{first} is now acknowledged by dana." in texts(at)
    _handle(at, second, "Snooze", "Retraining lands on Monday.")
    _handle(at, third, "Resolve", "Accepted risk, see MRM-42.")
    states = {a.alert_id: a for a in records.list_alerts(fired, MODEL)}
    assert states[first].state() is AlertState.ACKNOWLEDGED
    assert states[second].state() is AlertState.SNOOZED
    assert states[second].snoozed_until.time() == dt.time(9, 0)
    assert states[third].state() is AlertState.RESOLVED and states[third].resolved_by == "dana"
    assert second not in _shown_ids(at) and third not in _shown_ids(at)
    assert second in _shown_ids(at, "Snoozed") and third in _shown_ids(at, "Resolved")
    with fired.connect() as con:
        last = audit.read_records(con)[-3:]
    assert [(r["action"], r["actor"], r["rationale"]) for r in last] == [
        ("acknowledge_alert", "dana", "Looking at the age bands."),
        ("snooze_alert", "dana", "Retraining lands on Monday."),
        ("resolve_alert", "dana", "Accepted risk, see MRM-42."),
    ]


def _rule_form(at: AppTest):  # type: ignore[no-untyped-def]
    return next(f for f in at.get("form") if f.proto.form.form_id == "alerts_add_form")


def test_an_analyst_adds_a_rule_only_with_a_rationale_and_disables_it(bare: Store) -> None:
    at = run_page(bare, "alerts", user="dana")
    assert not at.exception, at.exception
    assert "This model has no alert rules yet." in texts(at)
    for why in ("", "Errors above 2 % cost us a batch a day."):
        form = _rule_form(at)
        form.selectbox[0].select("error_rate")
        form.selectbox[1].select(Comparison.ABOVE)
        form.number_input[0].set_value(0.02)
        form.selectbox[2].select("day")
        form.selectbox[3].select("critical")
        form.text_input[0].input("Errors above 2 %")
        form.text_area[0].input(why)
        next(b for b in form.button if b.label == "Add rule").click()
        at.run()
        assert not at.exception, at.exception
        if not why:
            assert at.error[0].value.startswith("Say why (a rationale)")
            assert rules.list_rules(bare, MODEL) == ()
    (rule,) = rules.list_rules(bare, MODEL)
    assert (rule.metric, rule.comparison, rule.threshold, rule.granularity, rule.severity) == (
        "error_rate", ">", 0.02, "day", "critical",
    )  # fmt: skip
    assert rule.created_by == "dana"
    at.text_input(key="alerts_toggle_why").input("Maintenance window.")
    at.button(key="alerts_toggle").click().run()
    assert rules.list_rules(bare, MODEL)[0].enabled is False
    with bare.connect() as con:
        last = [(r["action"], r["rationale"]) for r in audit.read_records(con)][-2:]
    assert last == [
        ("add_alert_rule", "Errors above 2 % cost us a batch a day."),
        ("disable_alert_rule", "Maintenance window."),
    ]
    at.button(key="alerts_evaluate").click().run()
    assert "Evaluated 0 rule checks: 0 new alert(s), 0 resolved." in texts(at)


def test_what_people_typed_is_never_rendered_as_markdown(fired: Store) -> None:
    payload = "![ok](http://attacker.example/badge.png) **All gates passed**"
    alert = records.overview_status(fired, MODEL)[0]
    records.acknowledge(fired, DANA, alert.alert_id, note=payload)
    spec = RuleSpec("error_rate", Comparison.ABOVE, 0.5, "day", description=payload)
    rules.add_rule(fired, DANA, MODEL, spec, rationale=payload)
    at = run_page(fired, "alerts", user="vic")
    _choose(at, alert.model_version, alert.window_start.date(), alert.window_start.date())
    shown = [str(v) for d in at.dataframe for column in d.value for v in d.value[column]]
    assert payload in shown  # the note and the description are there, as table cells
    rendered = [m.value for m in (*at.markdown, *at.caption, *at.success, *at.info)]
    assert not [m for m in rendered if "attacker.example" in m]


def test_loosening_a_threshold_on_the_page_waits_for_a_second_admin(bare: Store) -> None:
    spec = RuleSpec("error_rate", Comparison.ABOVE, 0.02, "day")
    rule = rules.add_rule(bare, DANA, MODEL, spec, rationale="Errors cost money.")
    at = run_page(bare, "alerts", user="dana")
    form = next(
        f for f in at.get("form") if f.proto.form.form_id == f"alerts_edit_form_{rule.rule_id}"
    )
    form.number_input[0].set_value(0.05)
    form.text_area[0].input("Too many alerts on quiet days.")
    next(b for b in form.button if b.label == "Save rule").click()
    at.run()
    assert not at.exception, at.exception
    assert "loosens the policy: it waits for a second admin" in texts(at)
    assert rules.list_rules(bare, MODEL)[0].threshold == 0.02
    waiting = next(d.value for d in at.dataframe if "asked for" in d.value.columns)
    assert list(waiting["asked for"]) == [0.05]
    assert list(waiting["why"]) == ["Too many alerts on quiet days."]
