"""A real dashboard (`vigil serve`, demo seeded on first start) and a real Chromium."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "e2e-password-1"
SHOTS = ROOT / "test-artifacts" / "screenshots"
HOMES: dict[str, str] = {}  # server url -> its VIGIL_HOME, for tests that use the CLI beside it


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`vigil serve` on an empty home: it seeds the demo, then starts Streamlit."""
    home = tmp_path_factory.mktemp("e2e-home")
    port = _free_port()
    with open(home / "server.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vigil", "serve", "--port", str(port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "VIGIL_HOME": str(home), "VIGIL_DEMO_PASSWORD": PASSWORD},
        )
        try:
            url = _wait_until_up(proc, f"http://127.0.0.1:{port}", home / "server.log")
            HOMES[url] = str(home)
            yield url
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _wait_until_up(proc: subprocess.Popen, url: str, log: Path) -> str:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the dashboard exited:\n" + log.read_text())
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return url
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("the dashboard did not start in 180 s:\n" + log.read_text())


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.failed_call = report.failed
    return report


@pytest.fixture
def page(browser, server: str, request: pytest.FixtureRequest):
    context = browser.new_context(viewport={"width": 1440, "height": 1400})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    tab.goto(server)
    yield tab
    if getattr(request.node, "failed_call", False):
        screenshot(tab, f"failed-{request.node.name}")
    context.close()


def sign_in(page, user: str, password: str = PASSWORD) -> None:
    page.get_by_label("User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    try:
        page.get_by_role("button", name="Sign out").wait_for()
    except Exception:
        screenshot(page, f"failed-sign-in-{user}")
        raise


def screenshot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.wait_for_timeout(800)  # let charts finish drawing
    page.screenshot(path=str(path), full_page=True)
    return path
