"""Real browser: a reviewer signs in and sees the Overview of the demo model."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot, sign_in

pytestmark = pytest.mark.e2e


def test_wrong_password_is_refused(page) -> None:
    page.get_by_label("User name").fill("rita")
    page.get_by_role("textbox", name="Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Unknown user name or wrong password.").wait_for()
    screenshot(page, "login-refused")


def test_sign_in_and_see_the_overview(page) -> None:
    sign_in(page, "rita")
    page.get_by_role("heading", name="Overview · credit-risk").wait_for()
    page.get_by_text("Where each area stands").wait_for()
    page.get_by_text("champion 1.0; 1 awaiting approval (1.1)").wait_for()
    page.get_by_text("Predictions served per day (UTC)").first.wait_for()
    screenshot(page, "overview")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()
