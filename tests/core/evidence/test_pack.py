"""The evidence pack on the demo: the PDF's text holds the model, every gate, every decision
and the chain head; the JSON bundle holds the same; the numbers match independent
computations; the checkpoint verifies against the store and fails once the log is rewritten."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from vigil.core.evidence import finding_actions
from vigil.core.evidence.checkpoint import verify_checkpoint
from vigil.core.evidence.common import EvidenceError
from vigil.core.evidence.pack import EvidencePack, build_pack, bundle_json, read_bundle
from vigil.core.evidence.render import render_pdf
from vigil.core.govern import audit, audit_report
from vigil.core.govern.audit_report import chain_report
from vigil.core.govern.auth import User
from vigil.core.govern.gates.specs import GATES
from vigil.core.store.connection import Store

MODEL = "credit-risk"
TODAY = dt.datetime.now(dt.UTC).date()
START = TODAY - dt.timedelta(days=89)  # the last 90 days, today included


def _text(pdf: bytes) -> str:
    """The PDF's words, whitespace collapsed (table cells wrap long texts over lines)."""
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


@pytest.fixture(scope="module")
def demo_pack(demo_store: Store) -> tuple[EvidencePack, bytes]:
    steps: list[tuple[float, str]] = []
    pack = build_pack(demo_store, MODEL, START, TODAY, progress=lambda f, w: steps.append((f, w)))
    assert [f for f, _ in steps] == sorted(f for f, _ in steps)
    assert steps[0][0] == 0.0 and steps[-1][0] == 1.0 and len(steps) >= 4
    return pack, render_pdf(pack)


def test_pdf_names_the_model_each_gate_each_decision_and_the_chain_head(
    demo_store: Store, demo_pack: tuple[EvidencePack, bytes]
) -> None:
    pack, pdf = demo_pack
    text = _text(pdf)
    with demo_store.connect() as con:
        records = audit.query(con, audit.AuditFilter(model_name=MODEL, start=START, end=TODAY))
        head = con.execute("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()[0]
        pending = con.execute(
            "SELECT model_version FROM model_versions WHERE status = 'pending_approval'"
        ).fetchall()
    assert pending == [("1.1",)]
    assert f"Evidence pack: {MODEL}" in text
    assert head in text and pack.checkpoint.head_hash == head
    for gate in GATES:
        assert gate.gate.value in text
    assert {g.gate for g in pack.gates} == {g.gate.value for g in GATES}
    assert records and [d.seq for d in pack.decisions] == [r["seq"] for r in records]
    for record in records:
        assert f"{record['actor']} ({record['actor_role']}) {record['action']}" in text
        assert re.sub(r"\s+", " ", record["rationale"]) in text
    assert "Raw prediction logs are kept 6 months" in text
    assert "Approval rate by group: sex" in text and "Share of drifted features" in text


def test_bundle_holds_the_same_content(demo_pack: tuple[EvidencePack, bytes]) -> None:
    pack, _ = demo_pack
    payload = read_bundle(bundle_json(pack, "abc"))
    assert payload["model_name"] == MODEL and payload["pdf_sha256"] == "abc"
    assert payload["checkpoint"]["head_hash"] == pack.checkpoint.head_hash
    assert payload["checkpoint"]["records"] == pack.checkpoint.records
    assert [d["seq"] for d in payload["decisions"]] == [d.seq for d in pack.decisions]
    assert [g["gate"] for g in payload["gates"]] == [g.gate for g in pack.gates]
    assert payload["retention"]["months"] == 6
    assert payload["plan"]["version"] == pack.plan.version
    assert [m["model_version"] for m in payload["monitoring"]] == ["1.0", "1.1"]
    with pytest.raises(EvidenceError, match="Not an evidence bundle"):
        read_bundle(json.dumps({"format": "something else"}).encode())


def test_findings_and_overrides_appear(demo_copy: Store) -> None:
    finding = finding_actions.open_finding(
        demo_copy,
        User("rita", "approver"),
        MODEL,
        title="Drift in credit amounts",
        description="PSI 0.41 on credit_amount since October.",
        severity="high",
        source="monitoring",
        owner="Retail Credit Analytics",
        remediation_plan="Retrain with the October population.",
        due_date=dt.date(2099, 1, 1),
    )
    pack = build_pack(demo_copy, MODEL, START, TODAY)
    text = _text(render_pdf(pack))
    assert f"#{finding.finding_id} Drift in credit amounts" in text
    assert [f.finding_id for f in pack.findings] == [finding.finding_id]


def test_checkpoint_verifies_until_the_log_is_rewritten(demo_copy: Store) -> None:
    pack = build_pack(demo_copy, MODEL, START, TODAY)
    cp = pack.checkpoint
    assert cp.chain_valid
    assert cp.mismatches == chain_report(demo_copy).mismatches  # inventory, findings agree
    assert verify_checkpoint(demo_copy, cp.records, cp.head_hash).ok
    finding_actions.open_finding(
        demo_copy,
        User("dana", "analyst"),
        MODEL,
        title="Later finding",
        description="Later.",
        severity="low",
        source="validation",
        owner="Team",
        remediation_plan="Look into it.",
        due_date=dt.date(2099, 1, 1),
    )
    check = verify_checkpoint(demo_copy, cp.records, cp.head_hash)
    assert check.ok and "1 record(s) were appended since" in check.message
    assert not verify_checkpoint(demo_copy, cp.records, "0" * 64).ok
    with demo_copy.transaction() as con:  # close the finding behind Vigil's back
        con.execute("UPDATE findings SET status = 'closed'")
    later = build_pack(demo_copy, MODEL, START, TODAY).checkpoint
    assert [m for m in later.mismatches if m not in cp.mismatches] == [
        "Finding #1 differs from its latest audit record (status): it was changed outside Vigil."
    ]
    with demo_copy.transaction() as con:  # rewrite a record the pack covered
        con.execute("UPDATE audit_log SET rationale = 'rubber stamp' WHERE seq = 4")
    check = verify_checkpoint(demo_copy, cp.records, cp.head_hash)
    assert not check.ok and "broken" in check.message


def test_a_keyed_store_signs_the_checkpoint(
    demo_copy: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_AUDIT_KEY_FILE", str(tmp_path / "config" / "audit.key"))
    monkeypatch.delenv("VIGIL_CHECKPOINT_FILE", raising=False)
    audit_report.initialise(demo_copy)
    finding_actions.open_finding(
        demo_copy,
        User("dana", "analyst"),
        MODEL,
        title="Keyed finding",
        description="Keyed.",
        severity="low",
        source="validation",
        owner="Team",
        remediation_plan="Look into it.",
        due_date=dt.date(2099, 1, 1),
    )
    pack = build_pack(demo_copy, MODEL, START, TODAY)
    latest = audit_report.latest_checkpoint(demo_copy)
    assert latest is not None and latest.records == pack.checkpoint.records
    assert pack.checkpoint.signature == latest.mac and pack.checkpoint.key_id == latest.key_id
    assert pack.checkpoint.signed_checkpoint == latest.to_line()
    assert latest.mac in _text(render_pdf(pack))
    assert read_bundle(bundle_json(pack))["checkpoint"]["signature"] == latest.mac
