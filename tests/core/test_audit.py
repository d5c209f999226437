"""The audit log: hash chain, tamper detection, state cross-check, filters, exports, CLI."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.conftest import DEMO_PASSWORD
from vigil.cli import main as cli
from vigil.core.govern import audit
from vigil.core.store.connection import Store

MODEL = "credit-risk"


def verify(store: Store) -> audit.ChainStatus:
    with store.connect() as con:
        return audit.verify(con)


def total(store: Store) -> int:
    """Records in the log (the demo's governance history plus whatever else it audits)."""
    with store.connect() as con:
        return con.execute("SELECT count(*) FROM audit_log").fetchone()[0]


def test_demo_chain_is_intact(demo_store: Store) -> None:
    status = verify(demo_store)
    n = total(demo_store)
    assert n >= 6
    assert status == audit.ChainStatus(True, n, None, f"All {n} records verified.")
    with demo_store.connect() as con:
        assert audit.state_mismatches(con) == []


def test_editing_a_rationale_is_detected(demo_copy: Store) -> None:
    with demo_copy.transaction() as con:
        con.execute("UPDATE audit_log SET rationale = 'Approved after a quick look.' WHERE seq = 4")
    status = verify(demo_copy)
    assert (status.valid, status.first_broken_seq) == (False, 4)
    assert status.message == (
        "Record 4 (approve by rita) was edited after it was written: its content no longer "
        "matches its hash."
    )


def test_editing_evidence_is_detected(demo_copy: Store) -> None:
    with demo_copy.transaction() as con:
        evidence = json.loads(
            con.execute("SELECT evidence FROM audit_log WHERE seq = 2").fetchone()[0]
        )
        evidence["validation_metrics"]["holdout"]["roc_auc"] = 0.99
        con.execute("UPDATE audit_log SET evidence = ? WHERE seq = 2", [json.dumps(evidence)])
    assert verify(demo_copy).first_broken_seq == 2


def test_rehashed_edit_breaks_the_next_link(demo_copy: Store) -> None:
    """An editor who also recomputes the edited record's hash is caught by the next record."""
    with demo_copy.transaction() as con:
        record = audit.read_records(con)[2]
        record["actor"] = "omar"
        con.execute(
            "UPDATE audit_log SET actor = 'omar', hash = ? WHERE seq = 3",
            [audit.record_hash(record)],
        )
    status = verify(demo_copy)
    assert (status.first_broken_seq, status.message) == (
        4,
        "Record 4 does not link to record 3: a record was removed, inserted or rewritten.",
    )


def test_deleting_a_record_is_detected(demo_copy: Store) -> None:
    with demo_copy.transaction() as con:
        con.execute("DELETE FROM audit_log WHERE seq = 3")
    status = verify(demo_copy)
    assert (status.first_broken_seq, status.message) == (
        4,
        "Record 3 is missing: the next record has sequence 4.",
    )


def test_status_edited_behind_vigils_back_is_detected(demo_copy: Store) -> None:
    with demo_copy.transaction() as con:
        con.execute("UPDATE model_versions SET status = 'approved' WHERE model_version = '1.1'")
        problems = audit.state_mismatches(con)
    assert problems == [
        "credit-risk 1.1 is approved, but its latest audit record (#6) says pending_approval: "
        "the status was changed outside Vigil or records were removed."
    ]


def test_filters(demo_store: Store) -> None:
    with demo_store.connect() as con:
        by_dana = audit.query(con, audit.AuditFilter(actor="dana"))
        approvals = audit.query(con, audit.AuditFilter(model_name=MODEL, action="approve"))
        choices = audit.filter_choices(con)
        first_day = audit.query(con)[0]["recorded_at"].date()
        same_day = audit.query(con, audit.AuditFilter(start=first_day, end=first_day))
        before = audit.query(
            con, audit.AuditFilter(end=first_day - __import__("datetime").timedelta(days=1))
        )
    assert {r["actor"] for r in by_dana} == {"dana"}
    assert [r["seq"] for r in by_dana if r["action"] in ("register", "request_promotion")] == [
        1,
        2,
        3,
        6,
    ]
    assert [(r["seq"], r["actor"]) for r in approvals] == [(4, "rita")]
    assert choices["model_name"] == [MODEL]
    assert {"approve", "promote", "register", "request_promotion"} <= set(choices["action"])
    assert choices["actor"] == ["dana", "rita"]
    assert len(same_day) == total(demo_store) and before == []


def test_exports_round_trip_and_reverify(demo_store: Store) -> None:
    with demo_store.connect() as con:
        records = audit.query(con)
    rows = list(csv.DictReader(io.StringIO(audit.export_csv(records).decode())))
    assert [int(r["seq"]) for r in rows] == list(range(1, total(demo_store) + 1))
    assert rows[3]["rationale"] == records[3]["rationale"]
    assert json.loads(rows[0]["evidence"]) == records[0]["evidence"]
    exported = json.loads(audit.export_json(records))
    # anyone can re-verify the chain from the export alone
    previous = audit.GENESIS_HASH
    for record in exported:
        assert record["prev_hash"] == previous
        assert audit.record_hash(record) == record["hash"]
        previous = record["hash"]


def test_get_record_unknown(demo_store: Store) -> None:
    with demo_store.connect() as con, pytest.raises(audit.AuditError) as err:
        audit.get_record(con, 99)
    assert str(err.value) == (
        f"Audit record 99 does not exist (the log has records 1 to {total(demo_store)})."
    )


# --- command line ----------------------------------------------------------------------------


def test_cli_verify(demo_copy: Store, capsys) -> None:
    assert cli.main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith(f"Chain intact: {total(demo_copy)} records verified.")
    with demo_copy.transaction() as con:
        con.execute("UPDATE audit_log SET rationale = 'edited' WHERE seq = 5")
    assert cli.main(["audit", "verify", "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert (payload["valid"], payload["first_broken_seq"]) == (False, 5)


def test_cli_export_and_report(demo_copy: Store, tmp_path, capsys) -> None:
    out = tmp_path / "log.json"
    assert (
        cli.main(["audit", "export", "--format", "json", "--out", str(out), "--actor", "rita"]) == 0
    )
    assert [r["seq"] for r in json.loads(out.read_text())] == [4, 5]
    report = tmp_path / "signoff.html"
    assert cli.main(["audit", "report", "--seq", "4", "--out", str(report)]) == 0
    assert "Sign-off: approve credit-risk 1.0 (audit record 4)" in report.read_text()


def test_cli_governance_flow(demo_copy: Store, monkeypatch, capsys) -> None:
    monkeypatch.setenv("VIGIL_PASSWORD", DEMO_PASSWORD)
    # dana may not approve: exit 1 with the rule's message
    assert (
        cli.main(
            ["approve", "--model", MODEL, "--version", "1.1", "--rationale", "x", "--user", "dana"]
        )
        == 1
    )
    assert capsys.readouterr().err == (
        "error: dana is an analyst; only approver, admin may approve promotions.\n"
    )
    # rita is blocked by the failed drift gate
    assert (
        cli.main(
            ["approve", "--model", MODEL, "--version", "1.1", "--rationale", "x", "--user", "rita"]
        )
        == 1
    )
    assert "Gate check failed" in capsys.readouterr().err
    assert cli.main(["gates", "--model", MODEL, "--version", "1.1"]) == 1
    assert "FAIL  Drift vs production traffic" in capsys.readouterr().out
    assert (
        cli.main(
            [
                "override-gates",
                "--model",
                MODEL,
                "--version",
                "1.1",
                "--rationale",
                "Drift accepted.",
                "--user",
                "adam",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        cli.main(
            [
                "approve",
                "--model",
                MODEL,
                "--version",
                "1.1",
                "--rationale",
                "Better AUC.",
                "--user",
                "rita",
                "--json",
            ]
        )
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    assert (payload["status"], payload["model_version"]) == ("production", "1.1")
    assert (
        cli.main(["rollback", "--model", MODEL, "--rationale", "Complaints.", "--user", "omar"])
        == 0
    )
    assert capsys.readouterr().out.startswith(
        "Rolled credit-risk back: 1.0 is champion again; 1.1 is rolled back."
    )
    assert cli.main(["timeline", "--model", MODEL, "--json"]) == 0
    spells = json.loads(capsys.readouterr().out)
    assert [s["model_version"] for s in spells] == ["1.0", "1.1", "1.0"]
    assert cli.main(["audit", "verify"]) == 0


def test_cli_gate_threshold_is_admin_only(demo_copy: Store, monkeypatch, capsys) -> None:
    monkeypatch.setenv("VIGIL_PASSWORD", DEMO_PASSWORD)
    args = ["gate-threshold", "--model", MODEL, "--gate", "drift_psi", "--value", "0.5"]
    assert cli.main([*args, "--user", "rita"]) == 1
    assert capsys.readouterr().err == (
        "error: rita is an approver and cannot change gate thresholds; it needs one of: admin.\n"
    )
    assert cli.main([*args, "--user", "adam"]) == 0
    assert cli.main(["gates", "--model", MODEL, "--version", "1.1"]) == 0
    assert "all gates pass" in capsys.readouterr().out
