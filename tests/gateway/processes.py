"""Run a real gateway (parent + uvicorn workers) on a free local port, and drive load at it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

LAUNCH = (  # what `vigil gateway --port P --workers N` runs
    "import sys; from vigil.core.store.connection import Store; "
    "from vigil.gateway.server import ServerOptions, run; "
    "sys.exit(run(Store.default(), ServerOptions(port=int(sys.argv[1]), workers=int(sys.argv[2]))))"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Gateway:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def worker_pids(self) -> set[int]:
        """Pids of the uvicorn workers (children of the gateway process)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return {int(p) for p in children.read_text().split()} if children.exists() else set()


@contextmanager
def gateway(home: Path, workers: int = 2, scheme: str = "http", **env: str) -> Iterator[Gateway]:
    port = free_port()
    log = home / f"gateway-{port}.log"
    environment = {**os.environ, "VIGIL_HOME": str(home), "VIGIL_GATEWAY_POLL_S": "0.2", **env}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, str(port), str(workers)],
            env=environment, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    gw = Gateway(process, f"{scheme}://127.0.0.1:{port}", log)
    try:
        wait_ready(gw, workers)
        yield gw
    finally:
        stop(gw)


def wait_ready(gw: Gateway, workers: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if gw.process.poll() is not None:
            raise RuntimeError(f"gateway exited: {gw.log.read_text()}")
        try:
            if httpx.get(gw.url + "/v1/ready", timeout=1, verify=False).status_code == 200 and (
                workers == 1 or len(gw.worker_pids()) >= workers  # one worker: in-process
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gateway not ready: {gw.log.read_text()}")


def stop(gw: Gateway) -> None:
    if gw.process.poll() is None:
        gw.process.send_signal(signal.SIGTERM)
        try:
            gw.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            gw.process.kill()
            gw.process.wait()


@dataclass
class Load:
    """Clients sending requests until stopped; every outcome recorded with its times."""

    url: str
    token: str
    instances: list[dict[str, Any]]
    clients: int = 4
    results: list[tuple[float, float, int, str, list[str]]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _run(self, n: int) -> None:
        with httpx.Client(timeout=10) as client:
            i = 0
            while not self._stop.is_set():
                i += 1
                body = {
                    "instances": [
                        {**r, "request_id": f"c{n}-{i}-{j}"} for j, r in enumerate(self.instances)
                    ]
                }
                sent = time.monotonic()
                try:
                    response = client.post(
                        self.url + "/v1/models/toy/predict",
                        json=body,
                        headers={"X-API-Key": self.token},
                    )
                except httpx.HTTPError as err:
                    self.failures.append(f"{type(err).__name__}: {err}")
                    continue
                version = response.json().get("version", "") if response.status_code == 200 else ""
                ids = (
                    [p["prediction_id"] for p in response.json()["predictions"]] if version else []
                )
                self.results.append((sent, time.monotonic(), response.status_code, version, ids))

    @contextmanager
    def running(self) -> Iterator[Load]:
        threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.clients)
        ]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(timeout=30)
