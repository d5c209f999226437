"""`vigil check` (exit 0 pass, 3 fail, 4 no data, 1 error), `vigil rules` and `vigil alerts`
as a pipeline and an on-call analyst use them; `vigil gates` shares the exit codes."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from tests.conftest import DEMO_PASSWORD
from vigil.cli.exits import Exit
from vigil.cli.main import main
from vigil.core.alerts import defaults, records, rules
from vigil.core.alerts.records import AlertState
from vigil.core.alerts.rules import Comparison, RuleSpec
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.store.connection import Store

MODEL = "credit-risk"
DANA = User("dana", "analyst")


@pytest.fixture
def bare(demo_copy: Store) -> Store:
    with demo_copy.transaction() as con:
        con.execute("DELETE FROM alerts")
        con.execute("DELETE FROM alert_rules")
    return demo_copy


@pytest.fixture
def signed_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_PASSWORD", DEMO_PASSWORD)


def _rule(store: Store, metric: str, comparison: Comparison, threshold: float, grain: str) -> None:
    spec = RuleSpec(metric, comparison, threshold, grain)
    rules.add_rule(store, DANA, MODEL, spec, rationale="for the test")


def test_check_exits_3_when_a_rule_fails(bare: Store, capsys: pytest.CaptureFixture[str]) -> None:
    defaults.install_default_rules(bare, DANA, MODEL, "1.0")
    assert main(["check", "--model", MODEL, "--version", "1.0", "--json"]) == Exit.FAILED == 3
    payload = json.loads(capsys.readouterr().out)
    assert payload["outcome"] == "fail" and payload["failed"] is True
    rows = {row["rule"]: row for row in payload["rules"]}
    accuracy = rows["accuracy < validation − 0.05 per week"]
    assert accuracy["outcome"] == "fail" and accuracy["severity"] == "warning"
    assert accuracy["value"] < accuracy["threshold"]
    assert accuracy["window_start"].endswith("T00:00:00+00:00")
    assert payload["alerts_fired"] == len(records.list_alerts(bare, MODEL)) > 0


def test_check_exits_0_when_every_rule_passes(
    bare: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    _rule(bare, "latency_p50", Comparison.ABOVE, 100.0, "week")
    assert main(["check", "--model", MODEL]) == Exit.OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("OK      warning  v1.0   latency_p50 > 100 per week")
    assert lines[-1] == "PASSED: 0 of 2 rule checks failing; 0 new alert(s), 0 resolved."


def test_no_data_is_its_own_outcome_and_can_be_made_to_fail(
    bare: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """Labels have not arrived for the last days: accuracy cannot be judged there."""
    _rule(bare, "accuracy", Comparison.BELOW, 0.0, "day")
    window = ["check", "--model", MODEL, "--since", "2026-11-22", "--until", "2026-11-23"]
    assert main(window) == Exit.NO_DATA == 4
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("NO DATA warning  v1.0   accuracy < 0 per day")
    assert out[-1].startswith("NO DATA: 2 of 2 rule checks had nothing to judge")
    assert main([*window, "--on-no-data", "fail"]) == Exit.FAILED
    assert main([*window, "--on-no-data", "pass"]) == Exit.OK
    assert main(["check", "--model", MODEL, "--since", "2026-10-01", "--until", "2026-10-07"]) == 0


def test_a_model_without_rules_has_no_data(bare: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--model", MODEL]) == Exit.NO_DATA
    assert capsys.readouterr().out.strip() == (
        "NO DATA: no rule could be checked (no enabled rule, or no live version with traffic)."
    )


def test_check_ignores_versions_no_longer_live_unless_asked(
    bare: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    _rule(bare, "error_rate", Comparison.ABOVE, 0.0, "week")
    with bare.transaction() as con:
        con.execute("UPDATE model_versions SET status = 'rejected' WHERE model_version = '1.1'")
    main(["check", "--model", MODEL, "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert payload["versions"] == ["1.0"]
    assert payload["not_checked"] == ["1.1: rejected, no longer live"]
    main(["check", "--model", MODEL, "--json", "--all-versions"])
    assert json.loads(capsys.readouterr().out)["versions"] == ["1.0", "1.1"]


def test_check_of_an_unknown_model_exits_1(bare: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--model", "nope"]) == Exit.ERROR
    assert capsys.readouterr().err.startswith("error: Model 'nope' is not registered")


def test_gates_share_the_exit_codes(demo_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_HOME", str(demo_store.home))
    assert main(["gates", "--model", MODEL, "--version", "1.1"]) == Exit.FAILED


def test_rules_commands(bare: Store, capsys: pytest.CaptureFixture[str], signed_in: None) -> None:
    add = ["rules", "add", "--model", MODEL, "--metric", "error_rate", "--comparison", ">",
           "--threshold", "0.02", "--granularity", "day", "--severity", "critical",
           "--rationale", "Errors cost money."]  # fmt: skip
    assert main([*add, "--user", "vic"]) == Exit.ERROR
    assert capsys.readouterr().err == (
        "error: vic is a viewer and cannot edit alert rules of credit-risk; it needs one of: "
        "analyst, admin.\n"
    )
    assert main([*add, "--user", "dana"]) == Exit.OK
    added = re.fullmatch(
        r"Added #(\d+)   critical error_rate > 0\.02 per day\n", capsys.readouterr().out
    )
    assert added is not None
    rule_id = added.group(1)
    with pytest.raises(SystemExit) as usage:  # no rationale: refused before anything happens
        main(["rules", "edit", rule_id, "--threshold", "0.03", "--user", "adam"])
    assert usage.value.code == Exit.USAGE
    capsys.readouterr()
    edit = ["rules", "edit", rule_id, "--threshold", "0.01", "--rationale", "Noise."]
    assert main([*edit, "--user", "adam"]) == Exit.OK
    assert capsys.readouterr().out == (
        f"The threshold of alert rule {rule_id} of credit-risk is now 0.01 (was 0.02).\n"
    )
    toggle = ["rules", "disable", rule_id, "--rationale", "Maintenance week.", "--user", "dana"]
    assert main(toggle) == Exit.OK
    loosen = ["rules", "edit", rule_id, "--threshold", "0.05", "--rationale", "Too noisy."]
    assert main([*loosen, "--user", "dana"]) == Exit.OK
    assert "waits for a second admin" in capsys.readouterr().out
    assert main(["rules", "list", "--model", MODEL]) == Exit.OK
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .startswith(
            f"pending: rule #{rule_id} threshold 0.01 → 0.05, proposed by dana; waits for a second"
        )
    )
    assert main(["rules", "list", "--model", MODEL, "--json"]) == Exit.OK
    (rule,) = json.loads(capsys.readouterr().out)
    assert (rule["threshold"], rule["enabled"], rule["updated_by"]) == (0.01, False, "dana")
    with bare.connect() as con:
        rationales = [r["rationale"] for r in audit.read_records(con)][-4:]
    assert rationales == ["Errors cost money.", "Noise.", "Maintenance week.", "Too noisy."]
    assert main(["rules", "defaults", "--model", MODEL, "--user", "dana"]) == Exit.OK
    assert capsys.readouterr().out == "credit-risk already has rules; nothing added.\n"


def test_alerts_commands(bare: Store, capsys: pytest.CaptureFixture[str], signed_in: None) -> None:
    _rule(bare, "error_rate", Comparison.ABOVE, 0.0, "week")
    assert main(["check", "--model", MODEL, "--version", "1.0"]) == Exit.FAILED
    capsys.readouterr()
    first, second, third = records.list_alerts(bare, MODEL)[:3]
    act = ["--user", "dana"]
    assert main(["alerts", "acknowledge", str(first.alert_id), "--note", "On it.", *act]) == 0
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    snooze = ["alerts", "snooze", str(second.alert_id), "--until", until, "--note", "Later."]
    assert main([*snooze, *act]) == 0
    assert main(["alerts", "resolve", str(third.alert_id), "--note", "Fixed.", *act]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"Alert {first.alert_id} is now acknowledged: Error rate ")
    states = {a.alert_id: a.state() for a in records.list_alerts(bare, MODEL)}
    assert [states[a.alert_id] for a in (first, second, third)] == [
        AlertState.ACKNOWLEDGED, AlertState.SNOOZED, AlertState.RESOLVED,
    ]  # fmt: skip
    assert main(["alerts", "list", "--model", MODEL, "--state", "active", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {a["state"] for a in listed} == {"open", "acknowledged"}
    assert second.alert_id not in {a["alert_id"] for a in listed}
    past = ["alerts", "snooze", str(first.alert_id), "--until", "2020-01-01", "--note", "x"]
    assert main([*past, *act]) == Exit.ERROR
    assert "Snooze until a time in the future" in capsys.readouterr().err
