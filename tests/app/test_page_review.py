"""AppTest: the Review page shows each role the buttons it may use, and only those; the
confirmation dialogs perform the decisions through core."""

from __future__ import annotations

import pytest

from tests.app.helpers import run_page, texts
from vigil.core.alerts.records import overview_status
from vigil.core.govern import actions, requests
from vigil.core.govern.auth import User
from vigil.core.govern.gates import checks
from vigil.core.store.connection import Store

ACTIONS = ("Approve", "Reject", "Override gates", "Roll back", "Request promotion", "Withdraw")


def buttons(at) -> dict[str, bool]:
    """Action button label -> enabled."""
    return {b.label: not b.disabled for b in at.button if b.label in ACTIONS}


def click(at, label: str) -> None:
    next(b for b in at.button if b.label == label).click()
    at.run()


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("rita", {"Approve": False, "Reject": True, "Roll back": False}),
        ("omar", {"Approve": False, "Reject": True, "Roll back": False}),
        ("adam", {"Approve": False, "Reject": True, "Override gates": True, "Roll back": False}),
        ("dana", {"Withdraw": True}),  # dana requested it
        ("vic", {}),
    ],
)
def test_each_role_sees_only_its_buttons(demo_store: Store, user: str, expected: dict) -> None:
    at = run_page(demo_store, "review", user=user)
    assert not at.exception
    assert at.title[0].value == "Review and sign-off"
    assert buttons(at) == expected
    if expected:
        assert [t.label for t in at.text_area] == ["Rationale"]
    if "Approve" in expected:
        # blocked buttons say why: the failed drift gate, and no earlier champion
        assert "Failed gates block it until an admin records an override" in captions(at)
        assert "credit-risk 1.0 is the first champion on record" in captions(at)
    if not expected:
        assert not at.text_area
        assert "you can see everything here and change nothing" in captions(at)


def _frames(at) -> list:  # type: ignore[no-untyped-def]
    return [d.value for d in at.dataframe] + [t.value for t in at.table]


def test_review_shows_candidate_beside_champion_and_the_gates(demo_store: Store) -> None:
    at = run_page(demo_store, "review", user="vic")
    assert not at.exception
    text = texts(at)
    assert "Candidate 1.1 beside champion 1.0" in text
    assert "Request #1 by dana, " in text
    report = checks.check_gates(demo_store, "credit-risk", "1.1")
    failing = [r.label for r in report.results if r.outcome == "fail"]
    assert [e.value for e in at.error] == [
        f"Approval blocked: 5 gate(s) fail ({', '.join(failing)}). An admin may record an "
        "override with its rationale; another approver then decides."
    ]
    assert failing[0] == "Fairness on live traffic (four-fifths rule)"
    # the live gate cannot tell yet, and says how many labels a verdict needs
    live = report.live
    assert f"about {live.labels_needed:,} more labelled requests needed" in text
    assert "Candidate vs champion on live traffic: cannot tell yet (does not block)." in [
        w.value for w in at.warning
    ]
    challenger = next(f for f in _frames(at) if "95 % interval" in f.columns)
    auc = live.metrics[0].decision.comparison
    assert list(challenger.iloc[0][["metric", "candidate 1.1", "champion 1.0", "difference"]]) == [
        "ROC AUC",
        f"{auc.candidate:.3f}",
        f"{auc.champion:.3f}",
        f"{auc.difference:+.3f}",
    ]
    # each gate in words, with the number it saw and the threshold it was held to
    fairness = report.result("fairness_live")
    assert f"seen {fairness.observed:.3f} · threshold at least 0.8" in captions(at)
    assert fairness.detail in [t.value for t in at.text]
    assert "sex × age is below the four-fifths threshold of 0.80" in fairness.detail
    # the candidate's open alerts are listed
    alerts = overview_status(demo_store, "credit-risk", "1.1")
    table = next(f for f in _frames(at) if "severity" in f.columns)
    assert len(table) == len(alerts) and list(table["what"]) == [a.describe() for a in alerts]


def test_no_internal_names_or_raw_values_on_the_page(demo_store: Store) -> None:
    at = run_page(demo_store, "review", user="vic")
    text = texts(at) + "\n".join(t.value for t in at.text)
    for internal in ("drift_psi", "fairness_live", "live_challenger", "open_alerts", "n/a",
                     "request_promotion", "roc_auc", "None"):  # fmt: skip
        assert internal not in text, internal
    for frame in _frames(at):
        cells = frame.astype(str).to_numpy().ravel().tolist() + [str(c) for c in frame.columns]
        assert not [c for c in cells if c in ("None", "nan", "NaN", "NaT")], frame


def test_four_eyes_buttons_are_disabled_with_the_reason(demo_copy: Store) -> None:
    actions.reject(demo_copy, User("omar", "approver"), "credit-risk", "1.1", "Redo.")
    actions.request_promotion(demo_copy, User("rita", "approver"), "credit-risk", "1.1", "Redone.")
    at = run_page(demo_copy, "review", user="rita")
    # rita requested it: she may withdraw it, not decide it
    assert buttons(at) == {"Approve": False, "Reject": False, "Withdraw": True, "Roll back": False}
    assert (
        "Four-eyes: you (rita) requested its promotion; someone else must approve credit-risk 1.1."
        in captions(at)
    )
    assert buttons(run_page(demo_copy, "review", user="omar"))["Reject"] is True


def test_analyst_requests_a_promotion(demo_copy: Store) -> None:
    actions.reject(demo_copy, User("omar", "approver"), "credit-risk", "1.1", "Redo.")
    at = run_page(demo_copy, "review", user="dana")
    at.selectbox(key="vigil_version").set_value("1.1")
    at.run()
    assert buttons(at) == {"Request promotion": True}
    at.text_area(key="review_rationale").input("Drift analysis attached.")
    click(at, "Request promotion")
    click(at, "Confirm")
    assert not at.exception
    assert at.success[0].value.startswith("Promotion of credit-risk 1.1 requested (request #2)")
    assert requests.get_request(demo_copy, "credit-risk", "1.1").requested_by == "dana"


def test_override_approve_and_roll_back_through_the_dialogs(demo_copy: Store) -> None:
    admin = run_page(demo_copy, "review", user="adam")
    click(admin, "Override gates")
    admin.text_area(key="review_override_rationale").input("Drift accepted: 1.1 saw October.")
    admin.run()
    click(admin, "Confirm")
    assert admin.success[0].value == (
        "Override of Fairness on live traffic (four-fifths rule), Drift against production traffic "
        "(max PSI), Robustness on live traffic (decision flips), Declared monotonic relations on "
        "live traffic, No open critical alert on the candidate recorded for credit-risk 1.1; "
        "another approver may now approve it."
    )
    # the admin who overrode may not approve; the button says so
    assert buttons(admin)["Approve"] is False
    assert "Four-eyes: you (adam) overrode its failed gates" in captions(admin)

    rita = run_page(demo_copy, "review", user="rita")
    assert buttons(rita)["Approve"] is True
    click(rita, "Approve")
    click(rita, "Confirm")  # no rationale yet: the dialog shows core's message
    assert [e.value for e in rita.error][-1] == (
        "A rationale is required to approve credit-risk 1.1; say why in a sentence or two."
    )
    rita.text_area(key="review_rationale").input("Higher AUC; drift accepted by override.")
    rita.run()
    click(rita, "Confirm")
    assert not rita.exception
    assert rita.success[0].value == (
        "Approved credit-risk 1.1; it is now the champion (replacing 1.0, archived)."
    )

    omar = run_page(demo_copy, "review", user="omar")
    assert buttons(omar) == {"Roll back": True}
    omar.text_area(key="review_rationale").input("Complaints about long loans.")
    click(omar, "Roll back")
    click(omar, "Confirm")
    assert omar.success[0].value == (
        "Rolled credit-risk back: 1.0 is champion again; 1.1 is rolled back."
    )


def test_cancel_closes_the_dialog_without_a_change(demo_copy: Store) -> None:
    at = run_page(demo_copy, "review", user="omar")
    at.text_area(key="review_rationale").input("No.")
    click(at, "Reject")
    assert "Confirm" in [b.label for b in at.button]
    click(at, "Cancel")
    assert "Confirm" not in [b.label for b in at.button]
    assert requests.get_request(demo_copy, "credit-risk", "1.1") is not None


EVIL = "![x](http://evil/x.png) :green-badge[All gates passed]"


def drawn_as_markdown(at) -> list[str]:
    """Every element Streamlit renders as markdown (where a badge or image would come alive)."""
    kinds = ("markdown", "caption", "info", "warning", "error", "success", "subheader", "title")
    return [str(e.value) for kind in kinds for e in getattr(at, kind)]


def test_rationales_are_shown_as_text_not_markdown(demo_copy: Store) -> None:
    """Issue 9: a rationale could make an approver's browser fetch an image and show a fake
    green "All gates passed" badge."""
    actions.reject(demo_copy, User("omar", "approver"), "credit-risk", "1.1", "Redo.")
    actions.request_promotion(demo_copy, User("dana", "analyst"), "credit-risk", "1.1", EVIL)
    actions.override(demo_copy, User("adam", "admin"), "credit-risk", "1.1", EVIL)
    at = run_page(demo_copy, "review", user="rita")
    assert not at.exception
    shown = [t.value for t in at.text]
    assert shown.count(EVIL) == 2  # the request's and the override's rationale, literally
    assert not [m for m in drawn_as_markdown(at) if "evil" in m or "All gates passed" in m]


def test_the_requester_withdraws_a_pending_request(demo_copy: Store) -> None:
    at = run_page(demo_copy, "review", user="dana")
    at.text_area(key="review_rationale").input("Found a data problem; will resubmit.")
    click(at, "Withdraw")
    click(at, "Confirm")
    assert not at.exception
    assert at.success[0].value == "Withdrew request #1 for credit-risk 1.1."
    assert requests.get_request(demo_copy, "credit-risk", "1.1") is None
    assert buttons(run_page(demo_copy, "review", user="rita")).get("Withdraw") is None


def test_after_a_decision_the_page_shows_the_decision(demo_copy: Store) -> None:
    at = run_page(demo_copy, "review", user="omar")
    at.selectbox(key="vigil_version").set_value("1.1")
    at.run()
    at.text_area(key="review_rationale").input("Drift in purpose is unexplained.")
    click(at, "Reject")
    click(at, "Confirm")
    assert at.success[0].value == "Rejected credit-risk 1.1."
    subheaders = [s.value for s in at.subheader]
    assert "Decision on credit-risk 1.1" in subheaders
    assert not [s for s in subheaders if s.startswith("Candidate")]
    assert "was **rejected** by **omar** (approver)" in texts(at)
    assert "Drift in purpose is unexplained." in [t.value for t in at.text]


def test_after_approval_the_old_champion_is_not_shown_as_a_candidate(demo_copy: Store) -> None:
    actions.override(demo_copy, User("adam", "admin"), "credit-risk", "1.1", "Accepted.")
    actions.approve(demo_copy, User("rita", "approver"), "credit-risk", "1.1", "Better.")
    at = run_page(demo_copy, "review", user="omar")  # the sidebar opens on a version: 1.1
    at.selectbox(key="vigil_version").set_value("1.0")  # the archived former champion
    at.run()
    subheaders = [s.value for s in at.subheader]
    assert not [s for s in subheaders if s.startswith("Candidate")], subheaders
    # 1.0 entered Vigil with an imported history: the page says so, in words
    assert "credit-risk 1.0" in subheaders
    shown = [t.value for t in at.text]
    assert any(t.startswith("Taken out of service (archived) by rita, ") for t in shown)
    assert any(t.startswith("Deployment history imported by adam, ") for t in shown)


def test_the_override_dialog_keeps_cancel_after_an_error(demo_copy: Store) -> None:
    at = run_page(demo_copy, "review", user="adam")
    click(at, "Override gates")
    click(at, "Confirm")  # no override rationale written
    assert [e.value for e in at.error][-1] == (
        "A rationale is required to override gates for credit-risk 1.1; say why in a sentence "
        "or two."
    )
    assert "Cancel" in [b.label for b in at.button]
    click(at, "Cancel")
    assert "Confirm" not in [b.label for b in at.button]
    assert requests.get_request(demo_copy, "credit-risk", "1.1").override_by is None
