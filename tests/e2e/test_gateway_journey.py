"""Real browser and a real gateway: a decision on the Review page changes what answers.

`vigil serve --gateway` runs the dashboard and the gateway on one demo store. An admin issues
an API key on the command line; a request without it gets 401, with it the champion 1.0 and
the score onnxruntime gives on the registered artifact (computed here, from the file). In the
browser an admin overrides the pending candidate's failed gates and an approver approves it:
within seconds the gateway answers with 1.1; the approver rolls back and it answers with 1.0
again, with no failed request meanwhile. The spool ingester stores the traffic on its own: the
Overview counts every prediction the gateway answered and the Service page's gateway section
every request it received; Drift and Performance cover today's gateway day. Every page visited
is photographed at 1440 px wide into the test's temporary folder (its path is printed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest

from tests.e2e.conftest import PASSWORD, ROOT, _free_port, sign_in
from vigil.app.ui import day
from vigil.core.demo import model as demo_model
from vigil.core.store.connection import Store

pytestmark = pytest.mark.e2e

MODEL = "credit-risk"
SWAP_BUDGET_S = 2.0  # the promise: from the decision's record to the new answer


def swap_budget_s() -> float:
    """The budget, grown with the machine's excess load (as tests/gateway/test_processes)."""
    return SWAP_BUDGET_S * max(1.0, os.getloadavg()[0] / (2 * (os.cpu_count() or 1)))


@dataclass
class Stack:
    dashboard: str
    gateway: str
    home: Path
    log: Path
    shots: Path  # screenshots of every page visited

    def shot(self, page: Any, name: str) -> None:
        """A full-page screenshot, once the charts have drawn."""
        page.wait_for_timeout(800)
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`vigil serve --gateway` on an empty home: the demo is seeded, then both start."""
    home = tmp_path_factory.mktemp("gateway-home")
    port, gateway_port = _free_port(), _free_port()
    log = home / "serve.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "vigil", "serve", "--gateway", "--port", str(port),
             "--gateway-port", str(gateway_port)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "VIGIL_HOME": str(home), "VIGIL_DEMO_PASSWORD": PASSWORD},
        )  # fmt: skip
    shots = tmp_path_factory.mktemp("gateway-screenshots")
    print(f"screenshots in {shots}")
    running = Stack(
        f"http://127.0.0.1:{port}", f"http://127.0.0.1:{gateway_port}", home, log, shots
    )
    try:
        _wait_until_up(process, running)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)  # `vigil serve` stops what it started
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until_up(process: subprocess.Popen[bytes], stack: Stack) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("vigil serve exited:\n" + stack.log.read_text())
        try:
            with urllib.request.urlopen(stack.dashboard + "/_stcore/health", timeout=2):
                pass
            if httpx.get(stack.gateway + "/v1/ready", timeout=2).status_code == 200:
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.5)
    raise RuntimeError("not up in 300 s:\n" + stack.log.read_text())


@pytest.fixture
def tab(browser: Any, stack: Stack, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 1400})
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.goto(stack.dashboard)
    yield page
    if getattr(request.node, "failed_call", False):
        stack.shot(page, f"failed-{request.node.name}")  # and all of its text, for below the fold
        (stack.shots / f"failed-{request.node.name}.txt").write_text(page.inner_text("body"))
    context.close()


# --- the gateway's side -----------------------------------------------------------------


@dataclass
class Client:
    """Every predict request sent, and every prediction answered, counted by version."""

    url: str
    sent: int = 0
    answered: Counter[str] = field(default_factory=Counter)
    ids: set[str] = field(default_factory=set)

    def predict(self, instances: list[dict[str, Any]], token: str | None) -> httpx.Response:
        headers = {"X-API-Key": token} if token else {}
        self.sent += 1
        response = httpx.post(
            f"{self.url}/v1/models/{MODEL}/predict",
            json={"instances": instances},
            headers=headers,
            timeout=30,
        )
        if response.status_code == 200:
            body = response.json()
            self.answered[body["version"]] += len(body["predictions"])
            self.ids |= {p["prediction_id"] for p in body["predictions"]}
        return response

    def until_accepted(self, instances: list[dict[str, Any]], token: str) -> None:
        """A new key is served once the control loop publishes it (within about a second)."""
        deadline = time.monotonic() + 30
        while self.predict(instances, token).status_code == 401:
            assert time.monotonic() < deadline, "the new key was never accepted"
            time.sleep(0.2)

    def until_version(
        self, instances: list[dict[str, Any]], token: str, version: str
    ) -> tuple[float, httpx.Response]:
        """Ask until `version` answers; every answer meanwhile must be a 200. Returns when
        (time.time()) its first answer arrived, and that answer."""
        deadline = time.monotonic() + 120
        while True:
            response = self.predict(instances, token)
            arrived = time.time()
            assert response.status_code == 200, response.text
            if response.json()["version"] == version:
                return arrived, response
            assert time.monotonic() < deadline, f"{version} never answered"
            time.sleep(0.1)


def _instances(n: int = 6) -> list[dict[str, Any]]:
    """Applicants as a client sends them: the declared features with JSON types."""
    frame = pd.read_csv(demo_model.DATASET).drop(columns="risk").head(n)
    return [{k: v.item() if hasattr(v, "item") else v for k, v in row.items()}
            for row in frame.to_dict(orient="records")]  # fmt: skip


def _registered_artifact(home: Path, version: str) -> Path:
    """The artifact file the registry copied, checked against the SHA-256 it recorded."""
    with Store(home).connect() as con:
        row = con.execute(
            "SELECT artifact_path, artifact_sha256 FROM model_versions "
            "WHERE model_name = ? AND model_version = ?",
            [MODEL, version],
        ).fetchone()
    assert row is not None
    path = home / row[0]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == row[1]
    return path


def _onnx_scores(artifact: Path, instances: list[dict[str, Any]]) -> list[float]:
    """Independent scoring: onnxruntime on the file, one [n, 1] tensor per graph input."""
    session = ort.InferenceSession(str(artifact), providers=["CPUExecutionProvider"])
    feed = {}
    for node in session.get_inputs():
        values = [row[node.name] for row in instances]
        kind = object if node.type == "tensor(string)" else np.float32
        feed[node.name] = np.array(values, dtype=kind).reshape(-1, 1)
    probabilities = session.run(["probabilities"], feed)[0]
    return [float(p) for p in probabilities[:, 1]]


def _scores(response: httpx.Response) -> list[float]:
    return [p["prediction"] for p in response.json()["predictions"]]


def _create_key(home: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "vigil", "keys", "create", "--model", MODEL, "--rationale",
         "Loan front-end calls the gateway (end-to-end test).", "--user", "adam", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "VIGIL_HOME": str(home), "VIGIL_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["token"])


def _counts_by_version(home: Path) -> dict[str, int]:
    with Store(home).connect() as con:
        (table,) = con.execute(
            "SELECT log_table FROM models WHERE model_name = ?", [MODEL]
        ).fetchone() or ("",)
        rows = con.execute(f'SELECT model_version, count(*) FROM "{table}" GROUP BY ALL')
        return {str(v): int(n) for v, n in rows.fetchall()}


def _made_champion_at(home: Path, version: str) -> float:
    """When (time.time()) the last audit record that made `version` the production version
    was written: inside the decision's transaction, so at or just before its commit."""
    with Store(home).connect() as con:
        row = con.execute(
            "SELECT recorded_at FROM audit_log WHERE model_name = ? AND model_version = ? "
            "AND to_status = 'production' ORDER BY seq DESC LIMIT 1",
            [MODEL, version],
        ).fetchone()
    assert row is not None, f"no record made {version} the production version"
    return float(row[0].replace(tzinfo=dt.UTC).timestamp())


def _actors(home: Path, version: str) -> dict[str, str]:
    """Who requested, overrode and approved `version`, from the audit log."""
    with Store(home).connect() as con:
        rows = con.execute(
            "SELECT action, actor FROM audit_log WHERE model_name = ? AND model_version = ? "
            "AND action IN ('request_promotion', 'override_gates', 'approve') ORDER BY seq",
            [MODEL, version],
        ).fetchall()
    return {str(action): str(actor) for action, actor in rows}


def _wait_until_stored(home: Path, client: Client) -> None:
    """The ingester stores every answered prediction and, once its minute is over, every
    request in the workers' minute rows; nobody runs an ingest."""
    deadline = time.monotonic() + 180
    while True:
        with Store(home).connect() as con:
            (table,) = con.execute(
                "SELECT log_table FROM models WHERE model_name = ?", [MODEL]
            ).fetchone() or ("",)
            stored = {r[0] for r in con.execute(f'SELECT prediction_id FROM "{table}" '
                      "WHERE served_at >= current_date - 1").fetchall()}  # fmt: skip
            requests = con.execute("SELECT coalesce(sum(requests), 0) FROM serve_metrics")
            counted = int(requests.fetchone()[0])
        if client.ids <= stored and counted == client.sent:
            return
        assert time.monotonic() < deadline, (len(client.ids - stored), counted, client.sent)
        time.sleep(2)


# --- the browser's side -----------------------------------------------------------------


def open_page(page: Any, title: str) -> None:
    page.get_by_role("link", name=title).first.click()
    page.wait_for_load_state("networkidle")


def confirm(page: Any) -> None:
    page.get_by_role("dialog").get_by_role("button", name="Confirm").click()


def _review_pending(page: Any, stack: Stack, user: str) -> None:
    sign_in(page, user)
    open_page(page, "Review")
    page.get_by_role("heading", name="Review and sign-off").wait_for()
    page.get_by_text("Candidate 1.1 beside champion 1.0").wait_for()
    decision = page.get_by_role("heading", name="Decision", exact=True)
    try:
        decision.wait_for(timeout=45_000)
    except Exception:
        # Seen twice in ~20 runs on a loaded machine: the page stopped drawing inside the
        # comparison's "Live traffic" tab, with no error and nothing running; opening it again
        # draws it whole. Kept as evidence for the dashboard, then the journey goes on.
        stack.shot(page, f"review-{user}-drawn-partly")
        (stack.shots / f"review-{user}-drawn-partly.txt").write_text(page.inner_text("body"))
        open_page(page, "Registry")
        open_page(page, "Review")
        page.get_by_text("Candidate 1.1 beside champion 1.0").wait_for()
        decision.wait_for()


def _override_and_approve(page: Any, stack: Stack) -> None:
    stack.shot(page, "gateway-0-sign-in")
    _review_pending(page, stack, "adam")
    # the demo's candidate fails gates (its live traffic drifts), so approval needs this
    page.get_by_role("button", name="Override gates", exact=True).click()
    page.get_by_role("dialog").get_by_role("textbox", name="Override rationale").fill(
        "Input drift is the market moving; the candidate was validated on recent data."
    )
    confirm(page)
    page.get_by_text(f"recorded for {MODEL} 1.1", exact=False).wait_for()
    stack.shot(page, "gateway-1-gates-overridden")
    page.get_by_role("button", name="Sign out").click()
    _review_pending(page, stack, "rita")
    page.get_by_role("textbox", name="Rationale", exact=True).fill(
        "Gates pass with the recorded override; fairness holds. Serve 1.1."
    )
    approve = page.get_by_role("button", name="Approve", exact=True)
    assert approve.is_enabled()
    approve.click()
    page.get_by_role("dialog").wait_for()
    stack.shot(page, "gateway-2-confirm-approval")


def test_review_decisions_change_what_the_gateway_answers(stack: Stack, tab: Any) -> None:
    instances = _instances()
    expected = {v: _onnx_scores(_registered_artifact(stack.home, v), instances)
                for v in ("1.0", "1.1")}  # fmt: skip
    assert np.max(np.abs(np.subtract(expected["1.0"], expected["1.1"]))) > 1e-4
    before = _counts_by_version(stack.home)
    client = Client(stack.gateway)

    # 1. no key: 401; an admin's new key: the champion's exact score
    assert client.predict(instances, None).status_code == 401
    token = _create_key(stack.home)
    client.until_accepted(instances, token)
    _, first = client.until_version(instances, token, "1.0")
    assert _scores(first) == pytest.approx(expected["1.0"], abs=1e-6)

    # 2. override and approval in the browser: 1.1 answers within seconds
    _override_and_approve(tab, stack)
    clicked = time.time()
    confirm(tab)
    approved, answer = client.until_version(instances, token, "1.1")
    assert _scores(answer) == pytest.approx(expected["1.1"], abs=1e-6)
    tab.get_by_text("it is now the champion", exact=False).wait_for()
    stack.shot(tab, "gateway-3-approved")

    # 3. rollback in the browser: 1.0 answers again
    tab.get_by_role("textbox", name="Rationale", exact=True).fill(
        "Complaints about declined long loans; back to 1.0."
    )
    tab.get_by_role("button", name="Roll back", exact=True).click()
    tab.get_by_role("dialog").wait_for()
    rollback_clicked = time.time()
    confirm(tab)
    restored, answer = client.until_version(instances, token, "1.0")
    assert _scores(answer) == pytest.approx(expected["1.0"], abs=1e-6)
    tab.get_by_text("1.0 is champion again", exact=False).wait_for()
    stack.shot(tab, "gateway-4-rolled-back")
    swap = approved - _made_champion_at(stack.home, "1.1")
    back = restored - _made_champion_at(stack.home, "1.0")
    budget = swap_budget_s()
    print(f"gateway swap after approve {swap:.2f} s, after rollback {back:.2f} s from the "
          f"decision's record (budget {budget:.1f} s); from the click on Confirm "
          f"{approved - clicked:.2f} s and {restored - rollback_clicked:.2f} s")  # fmt: skip
    assert 0 < swap < budget and 0 < back < budget
    # four eyes: the demo's analyst requested, the admin overrode, another person approved
    assert _actors(stack.home, "1.1") == {
        "request_promotion": "dana", "override_gates": "adam", "approve": "rita"
    }  # fmt: skip
    tab.get_by_role("button", name="Sign out").click()

    # 4. the traffic reaches the monitoring pages on its own
    _wait_until_stored(stack.home, client)
    _traffic_on_the_pages(tab, stack, client, before)


def _traffic_on_the_pages(page: Any, stack: Stack, client: Client, before: dict[str, int]) -> None:
    today = dt.datetime.now(dt.UTC).date()
    sign_in(page, "vic")
    open_page(page, "Overview")
    page.get_by_role("heading", name=f"Overview · {MODEL}").wait_for()
    page.get_by_role("heading", name="Versions").wait_for()
    for version in ("1.0", "1.1"):
        logged = before.get(version, 0) + client.answered[version]
        page.get_by_text(f"Predictions logged {logged:,}", exact=True).first.wait_for()
    served_today = page.get_by_text(f"→ {day(today)}", exact=False)
    assert served_today.count() == 2  # the demo's traffic ends yesterday; the gateway's today
    stack.shot(page, "gateway-5-overview-with-gateway-traffic")
    drawn = {"Drift": "Features ranked by drift (whole range)",
             "Performance": "Exact numbers per window"}  # fmt: skip
    for title, content in drawn.items():  # their range ends on the gateway's day
        open_page(page, title)
        page.get_by_text(f"{MODEL} 1.0 · ", exact=False).first.wait_for()
        page.get_by_text(f"to {day(today)} (UTC)", exact=False).first.wait_for()
        page.get_by_text(content, exact=True).first.wait_for()
        stack.shot(page, f"gateway-6-{title.lower()}")
    open_page(page, "Service")
    page.get_by_role("heading", name="Gateway workers").wait_for()
    section = page.locator('[data-testid="stMetric"]')
    requests = section.filter(has_text="Gateway requests").locator('[data-testid="stMetricValue"]')
    assert requests.inner_text() == f"{client.sent:,}"
    workers = section.filter(has_text="Workers").locator('[data-testid="stMetricValue"]')
    assert workers.inner_text() == "1"
    page.get_by_role("heading", name="Gateway workers").scroll_into_view_if_needed()
    stack.shot(page, "gateway-7-service-gateway-workers")
    page.locator('[data-testid="stDataFrame"]').last.scroll_into_view_if_needed()
    stack.shot(page, "gateway-8-service-gateway-workers-table")
