"""`vigil serve --gateway` with real processes: the gateway (with its control loop and spool
ingester) starts beside the dashboard on the same store, both listen on 127.0.0.1 only, a key
gets the champion's exact score, its prediction reaches the store on its own, and stopping
`vigil serve` in any way leaves no process behind (dashboard, gateway, control processes)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.cli.helpers import ROOT
from tests.cli.test_serve import _alive, _free_port, _listening
from tests.gateway.conftest import add_people, make_champion, register
from tests.gateway.helpers import expected_scores, key, rows
from vigil.core.store.connection import Store

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    dashboard: str
    gateway: str
    log: Path


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` (children, their children, ...), read from /proc."""
    found: set[int] = set()
    stack = [pid]
    while stack:
        current = stack.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = {int(p) for p in (task / "children").read_text().split()}
            except FileNotFoundError:
                continue
            stack.extend(children - found)
            found |= children
    return found


def _start(home: Path, *extra: str) -> Served:
    port, gateway_port = _free_port(), _free_port()
    log = home / f"serve-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "vigil", "serve", "--no-demo", "--gateway", "--port",
             str(port), "--gateway-port", str(gateway_port), *extra],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "VIGIL_HOME": str(home), "VIGIL_GATEWAY_POLL_S": "0.2"},
        )  # fmt: skip
    return Served(process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{gateway_port}", log)


def _wait_until_up(served: Served) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert served.process.poll() is None, served.log.read_text()
        try:
            dashboard = httpx.get(served.dashboard + "/_stcore/health", timeout=2)
            gateway = httpx.get(served.gateway + "/v1/ready", timeout=2)
            if dashboard.status_code == 200 and gateway.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"not up within 120 s:\n{served.log.read_text()}")


def _stop(served: Served, how: signal.Signals) -> tuple[int, set[int], set[int]]:
    """Send `how` to `vigil serve`; its exit code, the processes it had, those still alive."""
    below = _descendants(served.process.pid)
    served.process.send_signal(how)
    code = served.process.wait(timeout=90)
    deadline = time.monotonic() + 60
    while any(_alive(p) for p in below) and time.monotonic() < deadline:
        time.sleep(0.2)
    return code, below, {p for p in below if _alive(p)}


@pytest.fixture
def champion(store: Store, tmp_path: Path) -> Store:
    """The toy model's version 1 in production, with the gateway tests' people."""
    add_people(store)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    register(store, inputs, "1", seed=0)
    make_champion(store, "1")
    return store


@pytest.fixture
def served(champion: Store) -> Iterator[Served]:
    running = _start(champion.home)
    yield running
    if running.process.poll() is None:
        _stop(running, signal.SIGKILL)


def _stored_ids(store: Store) -> set[str]:
    with store.connect() as con:
        return {r[0] for r in con.execute("SELECT prediction_id FROM log_toy").fetchall()}


def test_gateway_beside_the_dashboard_scores_logs_and_stops_with_it(
    served: Served, champion: Store
) -> None:
    _wait_until_up(served)
    for url in (served.dashboard, served.gateway):
        assert _listening(int(url.rsplit(":", 1)[1])) == {"127.0.0.1"}
    predict = served.gateway + "/v1/models/toy/predict"
    instances = rows(3)
    assert httpx.post(predict, json={"instances": instances}, timeout=10).status_code == 401
    token = key(champion)  # created while serving: the control loop publishes it
    deadline = time.monotonic() + 15
    while True:
        answer = httpx.post(
            predict, json={"instances": instances}, headers={"X-API-Key": token}, timeout=10
        )
        if answer.status_code != 401 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert answer.status_code == 200 and answer.json()["version"] == "1"
    got = [p["prediction"] for p in answer.json()["predictions"]]
    assert got == pytest.approx(expected_scores(champion, "1", instances), abs=1e-6)
    answered = {p["prediction_id"] for p in answer.json()["predictions"]}
    deadline = time.monotonic() + 60  # the spool ingester stores them with no manual step
    while not answered <= _stored_ids(champion) and time.monotonic() < deadline:
        time.sleep(1)
    assert answered <= _stored_ids(champion)
    code, below, left = _stop(served, signal.SIGTERM)
    assert code == 0 and left == set()
    assert len(below) >= 4  # Streamlit, the gateway, its publisher and its ingester


def test_everything_stops_when_serve_is_killed_outright(served: Served) -> None:
    _wait_until_up(served)
    code, below, left = _stop(served, signal.SIGKILL)
    assert code == -signal.SIGKILL and len(below) >= 4 and left == set()


def test_a_gateway_that_cannot_start_stops_the_dashboard(champion: Store) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        dashboard_port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "vigil", "serve", "--no-demo", "--gateway", "--port",
             str(dashboard_port), "--gateway-port", str(port)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "VIGIL_HOME": str(champion.home)},
        )  # fmt: skip
        _, err = process.communicate(timeout=180)
    assert process.returncode != 0
    assert f"error: The gateway could not start on 127.0.0.1:{port}" in err
    assert "The gateway stopped (exit code 1); stopped the dashboard too." in err
    assert _listening(dashboard_port) == set()


def test_one_port_for_both_is_a_usage_error(store: Store) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vigil", "serve", "--no-demo", "--gateway", "--port", "8601",
         "--gateway-port", "8601"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "VIGIL_HOME": str(store.home)},
    )  # fmt: skip
    assert result.returncode == 2
    assert "cannot share port 8601" in result.stderr
