"""The HTML sign-off report: complete, escaped, and carrying the decision's chain hash."""

from __future__ import annotations

from html.parser import HTMLParser

from vigil.core.govern import actions, audit
from vigil.core.govern.auth import User
from vigil.core.govern.signoff import build_report
from vigil.core.store.connection import Store

MODEL = "credit-risk"
EVIL = "<script>alert('x')</script> & co"


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)

    def handle_data(self, data) -> None:
        self.text.append(data)


def parse(data: bytes) -> _Collect:
    parser = _Collect()
    parser.feed(data.decode("utf-8"))
    return parser


def test_report_of_an_approval(demo_copy: Store) -> None:
    actions.override(demo_copy, User("adam", "admin"), MODEL, "1.1", "Drift accepted: " + EVIL)
    outcome = actions.approve(demo_copy, User("rita", "approver"), MODEL, "1.1", EVIL)
    seq = outcome.audit_seqs[0]
    data = build_report(demo_copy, seq)
    page = parse(data)
    text = "".join(page.text)
    assert "script" not in page.tags  # the rationale is text, never markup
    assert EVIL in text  # ... and shown exactly as written
    assert f"Sign-off: Promotion approved, credit-risk 1.1 (audit record {seq})" in text
    assert text.index("Decision") < text.index("Gate checks at the time of the decision")
    assert "drift_psi" not in text.split("Attachment")[0]  # gate ids only in the JSON
    with demo_copy.connect() as con:
        record = audit.get_record(con, seq)
    assert record["hash"] == outcome.decision_hash
    assert record["hash"] in text and record["prev_hash"] in text
    for expected in (
        "rita (approver)",
        "Pending approval → Approved",
        "Retail Credit Analytics",  # inventory: owner
        "Pre-screening of retail loan applications",  # intended use
        "2027-05-01",  # next review date
        "Drift against production traffic (max PSI)",
        "Fail",
        "overridden by adam",
        "credit_amount",
        f"Chain intact: {record['seq'] + 2} records verified",  # approve, archive, promote
        "Put live as champion",  # related records of the same decision
        "Monitoring at the time of the decision",
        "Status after this record",
    ):
        assert expected in text, expected


def test_report_says_when_the_chain_is_broken(demo_copy: Store) -> None:
    with demo_copy.connect() as con:
        found = audit.query(con, audit.AuditFilter(action="register"))
    seq = found[0]["seq"]
    with demo_copy.transaction() as con:
        con.execute("UPDATE audit_log SET rationale = 'edited' WHERE seq = ?", [seq])
    text = "".join(parse(build_report(demo_copy, seq + 2)).text)
    assert f"Chain broken: Record {seq} (register by dana) was edited after it was written" in text
