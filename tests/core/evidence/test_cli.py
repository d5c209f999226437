"""`vigil evidence`, `monitoring-plan`, `reviews`, `findings` and `purge-logs` on the demo:
files written, checkpoint verified and refused once the log is rewritten, exit codes."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.conftest import DEMO_PASSWORD
from tests.core.factories import register_toy
from vigil.cli.main import main
from vigil.core.evidence import calendar
from vigil.core.store.connection import Store

MODEL = "credit-risk"
TODAY = dt.datetime.now(dt.UTC).date()


def test_evidence_writes_pdf_and_bundle_and_verifies(
    demo_copy: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pack.pdf"
    start = (TODAY - dt.timedelta(days=89)).isoformat()
    args = ["evidence", "--model", MODEL, "--from", start, "--to", TODAY.isoformat()]
    assert main([*args, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "[100%] Pack assembled" in captured.err
    pdf = out.read_bytes()
    bundle = json.loads(out.with_suffix(".json").read_text())
    assert bundle["pdf_sha256"] == hashlib.sha256(pdf).hexdigest()
    head = bundle["checkpoint"]["head_hash"]
    assert f"head {head}" in captured.out
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert f"Evidence pack: {MODEL}" in text and head in text
    verify = ["evidence", "--verify", str(out.with_suffix(".json"))]
    assert main(verify) == 0
    assert capsys.readouterr().out.startswith("OK: Record ")
    with demo_copy.transaction() as con:  # rewrite a record the pack covered
        con.execute("UPDATE audit_log SET rationale = 'rubber stamp' WHERE seq = 2")
    assert main(verify) == 3
    assert capsys.readouterr().out.startswith("FAILED: ")


def test_evidence_names_missing_arguments(
    demo_store: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_HOME", str(demo_store.home))
    assert main(["evidence", "--model", MODEL]) == 1
    err = capsys.readouterr().err
    assert "vigil evidence needs --from, --to, --out (or --verify BUNDLE)." in err


def test_plan_reviews_and_findings(
    demo_copy: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["monitoring-plan", "--model", MODEL]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["model_name"] == MODEL and document["version"] >= 1
    [item] = calendar.calendar(demo_copy)
    expected = 3 if item.days_left < 0 else 0
    assert main(["reviews", "--json"]) == expected
    assert json.loads(capsys.readouterr().out)[0]["next_review"] == item.next_review.isoformat()
    register_toy(demo_copy, tmp_path, risk_tier="low", next_review_date="2026-01-31")
    assert main(["reviews"]) == 3  # a review is overdue
    assert capsys.readouterr().out.startswith("2026-01-31  Overdue   toy (low)")
    assert main(["findings"]) == 0
    assert capsys.readouterr().out.strip() == "No finding."


def test_purge_authenticates_and_needs_an_admin(
    demo_copy: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_PASSWORD", DEMO_PASSWORD)
    assert main(["purge-logs", "--user", "rita"]) == 1
    assert "rita is an approver and cannot purge raw logs" in capsys.readouterr().err
    assert main(["purge-logs", "--user", "adam"]) == 0
    out = capsys.readouterr().out
    assert f"{MODEL}: 0 raw log rows served before" in out  # the demo is 90 days old
