"""Real browser: the whole sign-off journey on the demo.

An analyst requests promotion of a new candidate; the drift gate fails on the demo's real
data drift, so an admin records an override; an approver approves and sees the champion
change on the Overview; the approver rolls back; the Audit page shows the records and a
valid chain. Screenshots of the Review page are saved under test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.e2e.conftest import PASSWORD, ROOT, screenshot, sign_in
from vigil.core.demo.model import train_version
from vigil.core.views import words

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def candidate(server: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Version 1.2 registered by dana through the command line, as a pipeline would."""
    folder = tmp_path_factory.mktemp("candidate")
    trained = train_version("1.1")
    metadata = {**trained.metadata, "model_version": "1.2", "previous_version": "1.1",
                "notes": "Candidate registered by the end-to-end test."}  # fmt: skip
    (folder / "meta.json").write_text(json.dumps(metadata))
    (folder / "model.onnx").write_bytes(trained.onnx_bytes)
    trained.reference.to_parquet(folder / "reference.parquet", index=False)
    home = server_home(server)
    result = subprocess.run(
        [sys.executable, "-m", "vigil", "register", "--metadata", str(folder / "meta.json"),
         "--artifact", str(folder / "model.onnx"), "--reference",
         str(folder / "reference.parquet"), "--user", "dana"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "VIGIL_HOME": home, "VIGIL_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return "1.2"


def server_home(url: str) -> str:
    from tests.e2e import conftest

    return conftest.HOMES[url]


def open_page(page, title: str) -> None:
    page.get_by_role("link", name=title).first.click()
    page.wait_for_load_state("networkidle")


def choose(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option).first.click()


def decide(page, button: str, rationale: str, rationale_box: str = "Rationale") -> None:
    page.get_by_role("textbox", name=rationale_box, exact=True).fill(rationale)
    page.get_by_role("button", name=button, exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    return dialog


def test_request_override_approve_and_roll_back(candidate: str, page) -> None:
    # 1. dana (analyst) requests promotion of 1.2
    sign_in(page, "dana")
    choose(page, "Version", "1.2 · Registered")
    open_page(page, "Review")
    page.get_by_role("heading", name="Review and sign-off").wait_for()
    dialog = decide(page, "Request promotion", "Retrained candidate; shadow results reviewed.")
    dialog.get_by_role("button", name="Confirm").click()
    page.get_by_text("requested", exact=False).first.wait_for()
    screenshot(page, "review-1-requested-by-analyst")
    page.get_by_role("button", name="Sign out").click()

    # 2. rita (approver) cannot approve yet: the drift gate fails and she sees why
    sign_in(page, "rita")
    open_page(page, "Review")
    choose(page, "Pending request", "credit-risk 1.2")
    page.get_by_text("Candidate 1.2 beside champion 1.0").wait_for()
    page.get_by_text("Gate checklist", exact=False).first.wait_for()
    assert page.get_by_role("button", name="Approve", exact=True).is_disabled()
    screenshot(page, "review-2-gate-blocks-approval")
    page.get_by_role("button", name="Sign out").click()

    # 3. adam (admin) records an override of the failed gate, with its own rationale
    sign_in(page, "adam")
    open_page(page, "Review")
    choose(page, "Pending request", "credit-risk 1.2")
    page.get_by_text("Candidate 1.2 beside champion 1.0").wait_for()
    page.get_by_role("button", name="Override gates", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("textbox", name="Override rationale").fill(
        "Input drift is the market moving; the candidate was validated on recent data."
    )
    dialog.get_by_role("button", name="Confirm").click()
    page.get_by_text("override", exact=False).first.wait_for()
    page.get_by_role("button", name="Sign out").click()

    # 4. rita approves; the champion changes on the Overview
    sign_in(page, "rita")
    open_page(page, "Review")
    choose(page, "Pending request", "credit-risk 1.2")
    page.get_by_text("Candidate 1.2 beside champion 1.0").wait_for()
    dialog = decide(page, "Approve", "Gates pass with the recorded override; fairness holds.")
    screenshot(page, "review-3-confirm-approval")
    dialog.get_by_role("button", name="Confirm").click()
    page.get_by_text("it is now the champion", exact=False).wait_for()
    open_page(page, "Overview")
    page.get_by_text("champion 1.2", exact=False).first.wait_for()
    screenshot(page, "overview-after-approval")

    # 5. rita rolls back to the previous champion
    open_page(page, "Review")
    dialog = decide(page, "Roll back", "Complaints about declined long loans; back to 1.0.")
    dialog.get_by_role("button", name="Confirm").click()
    page.get_by_text("1.0 is champion again", exact=False).wait_for()
    screenshot(page, "review-4-rolled-back")

    # 6. the Audit page shows the decisions and an intact chain
    open_page(page, "Audit")
    page.get_by_text("chain intact", exact=False).first.wait_for()
    # the log is a data grid drawn on a canvas; its accessible cells carry the text
    for action in (words.action(a) for a in ("request_promotion", "override_gates", "approve",
                                             "rollback")):  # fmt: skip
        choose(page, "Action", action)
        cell = page.locator("[role=gridcell]", has_text=action).first
        cell.wait_for(state="attached")
        rows = page.locator("[role=gridcell]", has_text="credit-risk")
        assert rows.count() >= 1
    screenshot(page, "audit-after-journey")
