"""AppTest: the Audit page verifies the chain beside its checkpoints, filters the log, names a
tampered record, shows times in one format with the zone, and draws user text as text."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from tests.app.helpers import app_test, run_page
from vigil.core.govern import audit_report, auth, users
from vigil.core.govern.auth import User
from vigil.core.store.connection import Store

ADAM = User("adam", "admin")
DEMO_USERS = 5  # the demo audits its five users first
HOSTILE = "![pixel](http://evil.example/p.png) :green-badge[All gates passed] **approved**"


def total(store: Store) -> int:
    with store.connect() as con:
        return int(con.execute("SELECT count(*) FROM audit_log").fetchone()[0])


def log_table(at):  # type: ignore[no-untyped-def]
    return next(d.value for d in at.dataframe if "rationale" in d.value.columns)


def test_chain_intact_and_filters(demo_store: Store) -> None:
    at = run_page(demo_store, "audit", user="vic")
    assert not at.exception
    n = total(demo_store)
    assert [s.value for s in at.success] == [f"Chain intact: {n} records verified."]
    assert [w.value for w in at.warning] == ["No checkpoint to compare with."]
    shown = [t.value for t in at.text]
    assert any(t.startswith(f"None of the {n} records is keyed") for t in shown)
    assert any(t.startswith("Checkpoints are signed with the audit key") for t in shown)
    assert list(log_table(at)["seq"]) == list(range(n, 0, -1))  # newest first
    at.selectbox(key="audit_actor").set_value("adam")
    at.run()
    assert list(log_table(at)["action"]) == ["Deployment history imported"]
    assert "1 record matches. Times are UTC." in [c.value for c in at.caption]
    labels = [d.label for d in at.get("download_button")]
    assert labels == ["Export CSV", "Export JSON", "Download sign-off report (HTML)"]
    assert not [b for b in at.button if b.label != "Sign out"]


def test_times_are_in_one_human_format_with_the_zone(demo_store: Store) -> None:
    at = run_page(demo_store, "audit", user="vic")
    with demo_store.connect() as con:
        stored = dict(con.execute("SELECT seq, recorded_at FROM audit_log").fetchall())
    table = log_table(at)
    for seq, shown in zip(table["seq"], table["when"], strict=True):
        moment: dt.datetime = stored[seq]
        assert shown == f"{moment.day} {moment.strftime('%b')} {moment.year}, " + (
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} UTC"
        )
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d:\d\d UTC", table["when"][0])


def test_tampered_record_is_named_in_red(demo_copy: Store) -> None:
    seq = DEMO_USERS + 3  # adam's import of 1.0's deployment history
    with demo_copy.transaction() as con:
        con.execute("UPDATE audit_log SET rationale = 'rubber stamp' WHERE seq = ?", [seq])
    at = run_page(demo_copy, "audit", user="vic")
    assert [e.value for e in at.error] == [f"Chain broken at record {seq}."]
    assert (
        f"Record {seq} (import_deployment by adam) was edited after it was written: its content "
        "no longer matches its hash."
    ) in [t.value for t in at.text]
    assert not at.success


def test_checkpoints_beside_the_chain(
    demo_copy: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.delenv("VIGIL_CHECKPOINT_FILE", raising=False)
    audit_report.initialise(demo_copy)
    users.add(demo_copy, ADAM, "zoe", "analyst", "zoe-password", "joins the team")
    at = run_page(demo_copy, "audit", user="vic")
    n = total(demo_copy)
    assert [s.value for s in at.success] == [
        f"Chain intact: {n} records verified.",
        "Checkpoints match: 2 checked.",
    ]
    newest = audit_report.latest_checkpoint(demo_copy)
    assert newest is not None and [c.value for c in at.code] == [newest.to_line()]
    with demo_copy.transaction() as con:  # truncate: the newest record and what it did
        con.execute("DELETE FROM audit_log WHERE seq = ?", [n])
        con.execute("DELETE FROM users WHERE username = 'zoe'")
    at = run_page(demo_copy, "audit", user="vic")
    assert [e.value for e in at.error] == [
        f"Chain broken at record {n}.",
        "Checkpoints do not match the log.",
    ]
    assert any(t.value.endswith(f"record {n} was removed.") for t in at.text)


def test_user_text_is_drawn_as_text(demo_copy: Store) -> None:
    users.add(demo_copy, ADAM, "zoe", "analyst", "zoe-password", HOSTILE)
    with demo_copy.transaction() as con:  # a column name from a producer's log, written behind
        con.execute(  # Vigil's back so that the mismatch message quotes it
            "INSERT INTO alert_rules (rule_id, model_name, metric, comparison, threshold, "
            "granularity, severity, enabled, created_by, created_at) VALUES (999, 'credit-risk', "
            "?, '>', 1, 'day', 'warning', TRUE, 'x', now()::TIMESTAMP)",
            [HOSTILE],
        )
    at = run_page(demo_copy, "audit", user="vic")
    assert not at.exception
    texts = [t.value for t in at.text]
    assert any(HOSTILE in t for t in texts)  # the mismatch names the rule, verbatim
    assert any(f"Rationale: {HOSTILE}" in t for t in texts)  # the newest record's details
    markdown = [
        str(e.value)
        for kind in ("markdown", "caption", "error", "warning", "success", "info")
        for e in getattr(at, kind)
    ]
    assert not [m for m in markdown if "evil.example" in m or "green-badge" in m]


def test_empty_log(store: Store) -> None:
    with store.transaction() as con:  # a user but no audit record: the page says so
        auth.add_user(con, "vic", "viewer", "vic-password")
    at = run_page(store, "audit", user="vic")
    assert not at.exception
    assert [s.value for s in at.success] == ["Chain intact: 0 records verified."]
    assert [e.value for e in at.error] == [
        "The governed tables disagree with the audit log (1 row)."
    ]
    assert "User vic is viewer but no audit record says so: it was written outside Vigil." in [
        t.value for t in at.text
    ]
    assert "No audit record matches these filters." in [i.value for i in at.info]


def test_dashboard_refuses_to_start_in_production_without_a_key(
    store: Store, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_MODE", "production")
    at = app_test(store)
    at.run()
    assert at.exception and not at.text_input  # no sign-in form, nothing else drawn
    keys = tmp_path_factory.mktemp("keys")  # outside VIGIL_HOME, as production requires
    monkeypatch.setenv("VIGIL_AUDIT_KEY_FILE", str(keys / "audit.key"))
    audit_report.initialise(store)
    at = app_test(store)
    at.run()
    assert not at.exception and [t.label for t in at.text_input] == ["User name", "Password"]
