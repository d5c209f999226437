"""Page timings in a real browser: every page of the demo, first and repeat visits, and many
reviewers at once.

Starts `vigil serve` on a fresh demo store (or uses --url), signs in with Playwright driving
Debian's Chromium, and times each page from the click in the menu until Streamlit's
"running" indicator is gone. With --sessions N, N browser contexts sign in and walk every
page together; the script prints each page's median and p95 over all sessions.

    python bench/pages.py                      # one reviewer, first and repeat visits
    python bench/pages.py --sessions 20        # twenty reviewers at once

It is a benchmark, not a test: nothing asserts on the times.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench-password-1"
sys.path.insert(0, str(ROOT))
from vigil.app.navigation import SECTIONS  # noqa: E402  (every page, in the menu's order)

PAGES = tuple(module.PAGE.title for section in SECTIONS for module in section.pages)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def dashboard(home: Path) -> Iterator[str]:
    """`vigil serve` on `home` (seeded with the demo on first start) until the block ends."""
    port = _free_port()
    log = open(home / "server.log", "w")  # noqa: SIM115 - closed in finally
    env = {**os.environ, "VIGIL_HOME": str(home), "VIGIL_DEMO_PASSWORD": PASSWORD}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigil", "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("the dashboard exited:\n" + (home / "server.log").read_text())
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2),
            ):
                break
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


WATCH_RUNS = """() => {
  const root = document.querySelector('[data-test-script-state]');
  if (!root || window.__vigilWatching) return;
  window.__vigilWatching = true;
  window.__vigilRuns = 0;
  new MutationObserver(() => {
    if (root.getAttribute('data-test-script-state') === 'notRunning') window.__vigilRuns++;
  }).observe(root, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


def _runs(page: Any) -> int:
    """Finished script runs seen so far (Streamlit's own state attribute, via an observer)."""
    page.evaluate(WATCH_RUNS)
    runs: int = page.evaluate("() => window.__vigilRuns || 0")
    return runs


def _settled(page: Any, before: int) -> None:
    """Wait until a script run after `before` has finished drawing."""
    page.wait_for_function(
        """(before) => window.__vigilRuns > before && document.querySelector(
             '[data-test-script-state]').getAttribute('data-test-script-state') === 'notRunning'""",
        arg=before,
        timeout=120_000,
    )


def _sign_in(page: Any, url: str, user: str) -> None:
    page.goto(url)
    page.get_by_label("User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for(timeout=120_000)
    page.wait_for_timeout(1000)


def walk(browser: Any, url: str, user: str, rounds: int) -> dict[str, list[float]]:
    """Sign in, then open every page `rounds` times; seconds per page and visit."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(120_000)
    timings: dict[str, list[float]] = {name: [] for name in PAGES}
    try:
        _sign_in(page, url, user)
        current = PAGES[0]  # signing in opens the first page; clicking it again runs nothing
        for _ in range(rounds):
            for name in PAGES:
                link = page.get_by_role("link", name=name, exact=True)
                if link.count() == 0 or name == current:
                    continue
                current = name
                before = _runs(page)
                started = time.perf_counter()
                link.first.click()
                _settled(page, before)
                timings[name].append(time.perf_counter() - started)
    finally:
        context.close()
    return timings


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def one_reviewer(url: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        timings = walk(browser, url, "rita", rounds=3)
        browser.close()
    return {
        name: {"first_s": round(v[0], 2), "repeat_s": round(statistics.median(v[1:]), 2)}
        for name, v in timings.items()
        if v
    }


def many_reviewers(url: str, sessions: int) -> dict[str, Any]:
    """`sessions` browser contexts, each in its own thread and Playwright instance."""
    from playwright.sync_api import sync_playwright

    users = ["rita", "omar", "dana", "vic", "adam"]
    results: list[dict[str, list[float]]] = []
    errors: list[str] = []

    def one(index: int) -> None:
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                results.append(walk(browser, url, users[index % len(users)], rounds=1))
                browser.close()
        except Exception as err:  # a benchmark reports failures instead of stopping
            errors.append(f"session {index}: {err}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(sessions)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged: dict[str, list[float]] = {name: [] for name in PAGES}
    for result in results:
        for name, values in result.items():
            merged[name].extend(values)
    every = [v for values in merged.values() for v in values]
    return {
        "sessions": sessions,
        "completed": len(results),
        "errors": errors,
        "wall_s": round(time.perf_counter() - started, 1),
        "p95_all_pages_s": round(_p95(every), 2) if every else None,
        "pages": {
            name: {"median_s": round(statistics.median(v), 2), "p95_s": round(_p95(v), 2)}
            for name, v in merged.items()
            if v
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an already running dashboard (demo users, same password)")
    parser.add_argument("--sessions", type=int, default=0, help="reviewers at once (0: one)")
    args = parser.parse_args()
    if args.url:
        url_cm: contextlib.AbstractContextManager[str] = contextlib.nullcontext(args.url)
    else:
        url_cm = dashboard(Path(tempfile.mkdtemp(prefix="vigil-bench-pages-")))
    with url_cm as url:
        out = many_reviewers(url, args.sessions) if args.sessions else one_reviewer(url)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
