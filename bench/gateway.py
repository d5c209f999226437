"""Gateway benchmark: requests/s and p99 for single instances, rows/s for 1,000-row batches,
and hot-swap time with errors, each beside a plain FastAPI endpoint (bench/gateway_baseline.py)
in the same run, as a ratio.

    python bench/gateway.py [--seconds 10] [--connections 16] [--workers 1]

The model is the demo's credit-risk gradient-boosted classifier (versions 1.0 and 1.1). The
load generator is an asyncio client on raw keep-alive sockets in this process (cheaper than an
HTTP library, so more of the machine's two cores go to the server). The gateway logs every
prediction to its fsync'd spool and ingests it into the store while being measured; the
baseline appends one JSON line per prediction to a file inside the request. A hot swap is
an approval committed to the store (the gateway must answer with the new version, no
request failing); the baseline's is a restart with the new model file. Beside throughput, each
server's CPU time per request (all of its processes: workers, publisher, ingester), which the
machine's other load moves less than requests/s do; the gateway's ingester is niced, so rows it
has not ingested by the end of a phase (reported at the end) cost it CPU later, not in the
phase. Printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vigil.core.contract import parse_metadata
from vigil.core.demo import model as demo_model
from vigil.core.govern import auth, tokens
from vigil.core.govern.lifecycle import apply_transition
from vigil.core.registry.versions import register_version
from vigil.core.store.connection import Store

HERE = Path(__file__).resolve().parent
VERSION = re.compile(rb'"version":\s*"([^"]*)"')  # both servers answer it near the start
ADMIN = auth.User("bench-admin", "admin")
LAUNCH = (
    "import sys; from vigil.core.store.connection import Store; "
    "from vigil.gateway.server import ServerOptions, run; "
    "sys.exit(run(Store.default(), ServerOptions(port=int(sys.argv[1]), workers=int(sys.argv[2]))))"
)


@dataclass(frozen=True)
class Run:
    requests: int
    rows: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_s: float  # CPU time of every process of the server (workers, control) in the phase

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        """What a request costs the server whatever else runs on the machine."""
        return 1000 * self.cpu_s / self.requests if self.requests else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def setup(home: Path) -> tuple[Store, str, list[dict[str, Any]], dict[str, Path]]:
    """Store with credit-risk 1.0 as champion and 1.1 registered; an API key; instances."""
    store = Store(home)
    with store.transaction() as con:
        auth.add_user(con, ADMIN.username, ADMIN.role, "bench-password-1")
    artifacts = {}
    for version in ("1.0", "1.1"):
        trained = demo_model.train_version(version)
        artifacts[version] = home / f"credit-risk-{version}.onnx"
        artifacts[version].write_bytes(trained.onnx_bytes)
        reference = home / f"reference-{version}.parquet"
        trained.reference.to_parquet(reference, index=False)
        register_version(
            store, parse_metadata(trained.metadata), artifact=artifacts[version],
            reference=reference, registered_by="bench-admin", registered_by_role="admin",
        )  # fmt: skip
    promote(store, "1.0", None)
    token = tokens.create_key(
        store, ADMIN, account="bench", scopes=("predict:credit-risk",), rationale="benchmark"
    ).token
    data = demo_model.load_dataset()
    names = [f["name"] for f in demo_model.FEATURE_SCHEMA]
    instances = json.loads(data[names].head(1000).to_json(orient="records"))
    return store, token, instances, artifacts


def promote(store: Store, new: str, old: str | None, *, rollback: bool = False) -> float:
    """The registry change approve (or rollback) makes; returns when it was committed."""
    if rollback:
        assert old is not None
        steps = [(new, "rollback", "rolled_back", None), (old, "restore", "production", "champion")]
    else:
        steps = [(new, "request_promotion", "pending_approval", None),
                 (new, "approve", "approved", None),
                 *([(old, "archive", "archived", None)] if old else []),
                 (new, "promote", "production", "champion")]  # fmt: skip
    with store.transaction() as con:
        for version, action, status, alias in steps:
            apply_transition(
                con, actor=ADMIN, model_name="credit-risk", model_version=version,
                action=action, to_status=status, alias=alias, rationale="benchmark",
            )  # fmt: skip
    return time.monotonic()


async def _connection(
    port: int, request: bytes, stop_at: float, out: list[tuple[float, float, int, bytes]]
) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        out.append((time.monotonic(), 0.0, 599, b""))
        await asyncio.sleep(0.05)
        return
    try:
        while time.monotonic() < stop_at:
            sent = time.monotonic()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            body = await reader.readexactly(length)
            out.append((sent, time.monotonic() - sent, int(head[9:12]), body[:200]))
    except (OSError, asyncio.IncompleteReadError, StopIteration):
        out.append((time.monotonic(), 0.0, 599, b""))
    finally:
        writer.close()


async def _load(port: int, request: bytes, connections: int, seconds: float) -> list[Any]:
    out: list[tuple[float, float, int, bytes]] = []
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:  # reconnect after a failure (the baseline's restart)
        await asyncio.gather(
            *(_connection(port, request, stop_at, out) for _ in range(connections))
        )
    return out


def http_request(port: int, token: str | None, instances: list[dict[str, Any]]) -> bytes:
    body = json.dumps({"instances": instances}).encode()
    auth_line = f"X-API-Key: {token}\r\n" if token else ""
    return (
        f"POST /v1/models/credit-risk/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{auth_line}\r\n"
    ).encode() + body


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (uvicorn workers, the control processes)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = task / "children"
        for child in children.read_text().split() if children.exists() else []:
            found += _tree(int(child))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and its descendants so far (Linux /proc)."""
    total = 0
    for each in _tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def measure(
    port: int, request: bytes, rows: int, connections: int, seconds: float, server: int
) -> Run:
    asyncio.run(_load(port, request, connections, 1.0))  # warm-up
    started, cpu = time.monotonic(), cpu_seconds(server)
    out = asyncio.run(_load(port, request, connections, seconds))
    elapsed, cpu = time.monotonic() - started, cpu_seconds(server) - cpu
    latencies = np.array([lat for _, lat, code, _ in out if code == 200]) * 1000
    ok = len(latencies)
    return Run(
        ok, ok * rows, elapsed,
        float(np.percentile(latencies, 50)) if ok else float("nan"),
        float(np.percentile(latencies, 99)) if ok else float("nan"),
        sum(1 for _, _, code, _ in out if code != 200), cpu,
    )  # fmt: skip


def wait_ready(port: int, path: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


def start_gateway(home: Path, port: int, workers: int, fsync: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VIGIL_HOME": str(home), "VIGIL_GATEWAY_POLL_S": "0.5",
           "VIGIL_GATEWAY_FSYNC": fsync}  # fmt: skip
    process = subprocess.Popen([sys.executable, "-c", LAUNCH, str(port), str(workers)], env=env,
                               stdout=subprocess.DEVNULL)  # fmt: skip
    wait_ready(port, "/v1/ready")
    return process


def start_baseline(model: Path, log: Path, port: int, version: str) -> subprocess.Popen[bytes]:
    features = json.dumps(demo_model.FEATURE_SCHEMA)
    process = subprocess.Popen(
        [sys.executable, str(HERE / "gateway_baseline.py"), str(model), str(log), str(port),
         version, features],
    )  # fmt: skip
    wait_ready(port, "/docs")
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


def answered_version(body: bytes) -> str | None:
    """The version a response body names (the gateway writes compact JSON, FastAPI too)."""
    found = VERSION.search(body)
    return found.group(1).decode() if found else None


def swap_gateway(
    store: Store, port: int, token: str, instance: dict[str, Any]
) -> tuple[float, int]:
    """Approve 1.1 under load: seconds until every request answers 1.1, failed requests."""
    request = http_request(port, token, [instance])
    results: list[Any] = []

    async def drive() -> None:
        task = asyncio.create_task(_load(port, request, 8, 6.0))
        await asyncio.sleep(2.0)
        committed.append(await asyncio.to_thread(promote, store, "1.1", "1.0"))
        results.extend(await task)

    committed: list[float] = []
    asyncio.run(drive())
    stale = [sent for sent, _, code, body in results
             if sent > committed[0] and code == 200 and answered_version(body) != "1.1"]  # fmt: skip
    errors = sum(1 for _, _, code, _ in results if code != 200)
    if not any(answered_version(body) == "1.1" for _, _, code, body in results if code == 200):
        return float("nan"), errors  # never swapped within the load's 4 s after the commit
    return (max(stale, default=committed[0]) - committed[0]), errors


def swap_baseline(
    artifacts: dict[str, Path], log: Path, port: int, instance: dict[str, Any]
) -> tuple[float, int]:
    """The plain endpoint's swap: restart it on the new model file, under the same load."""
    request = http_request(port, None, [instance])
    process = start_baseline(artifacts["1.0"], log, port, "1.0")
    results: list[Any] = []

    async def drive() -> None:
        task = asyncio.create_task(_load(port, request, 8, 8.0))
        await asyncio.sleep(2.0)
        began.append(time.monotonic())
        await asyncio.to_thread(stop, process)
        restarted.append(
            await asyncio.to_thread(start_baseline, artifacts["1.1"], log, port, "1.1")
        )
        results.extend(await task)

    began: list[float] = []
    restarted: list[subprocess.Popen[bytes]] = []
    asyncio.run(drive())
    stop(restarted[0])
    first_new = min((s + lat for s, lat, code, body in results
                     if code == 200 and answered_version(body) == "1.1"), default=float("nan"))  # fmt: skip
    return first_new - began[0], sum(1 for _, _, code, _ in results if code != 200)


def spooled_rows(home: Path) -> int:
    """Prediction rows still in the gateway's spool (written, answered, not yet ingested)."""
    rows = 0
    for path in (home / "spool").rglob("*.jsonl*"):
        if "_metrics" not in path.parts:
            with open(path, "rb") as lines:
                rows += sum(1 for _ in lines)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-gateway-") as tmp:
        home = Path(tmp)
        store, token, instances, artifacts = setup(home)
        one, batch = instances[:1], instances[:1000]
        port = free_port()
        gateway = start_gateway(home, port, args.workers, "request")
        strict = measure(port, http_request(port, token, one), 1, args.connections, args.seconds,
                         gateway.pid)  # fmt: skip
        stop(gateway)
        gateway = start_gateway(home, port, args.workers, "batch")
        g_single = measure(port, http_request(port, token, one), 1, args.connections,
                           args.seconds, gateway.pid)  # fmt: skip
        g_batch = measure(port, http_request(port, token, batch), 1000, 4, args.seconds,
                          gateway.pid)  # fmt: skip
        g_swap = swap_gateway(store, port, token, one[0])
        stop(gateway)
        bport, log = free_port(), home / "baseline-log.jsonl"
        baseline = start_baseline(artifacts["1.0"], log, bport, "1.0")
        b_single = measure(bport, http_request(bport, None, one), 1, args.connections,
                           args.seconds, baseline.pid)  # fmt: skip
        b_batch = measure(bport, http_request(bport, None, batch), 1000, 4, args.seconds,
                          baseline.pid)  # fmt: skip
        stop(baseline)
        b_swap = swap_baseline(artifacts, log, free_port(), one[0])
        with store.connect() as con:
            found = con.execute("SELECT count(*) FROM log_credit_risk").fetchone()
        logged = (found[0] if found else 0, spooled_rows(home))
    report(args, g_single, b_single, g_batch, b_batch, g_swap, b_swap, logged)
    print(f"| single instance, fsync before each answer (VIGIL_GATEWAY_FSYNC=request): "
          f"requests/s {strict.rps:,.0f}, p99 {strict.p99_ms:.1f} ms, ratio "
          f"{strict.rps / b_single.rps:.2f}, server CPU {strict.cpu_ms_per_request:.2f} ms per "
          "request |")  # fmt: skip


def report(args: argparse.Namespace, g_single: Run, b_single: Run, g_batch: Run, b_batch: Run,
           g_swap: tuple[float, int], b_swap: tuple[float, int],
           logged: tuple[int, int]) -> None:  # fmt: skip
    load = os.getloadavg()[0]
    print(f"# gateway benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} "
          f"cores, load average {load:.1f}, {args.workers} worker(s), {args.seconds:.0f} s per "
          f"phase, {args.connections} connections for single instances")  # fmt: skip
    print("| measure | gateway | plain FastAPI | ratio |")
    print("|---|---|---|---|")
    print(f"| single instance: requests/s | {g_single.rps:,.0f} | {b_single.rps:,.0f} | "
          f"{g_single.rps / b_single.rps:.2f} |")  # fmt: skip
    print(f"| single instance: p50 / p99 ms | {g_single.p50_ms:.1f} / {g_single.p99_ms:.1f} | "
          f"{b_single.p50_ms:.1f} / {b_single.p99_ms:.1f} | {g_single.p99_ms / b_single.p99_ms:.2f} (p99) |")  # fmt: skip
    print(f"| single instance: server CPU ms per request | {g_single.cpu_ms_per_request:.2f} | "
          f"{b_single.cpu_ms_per_request:.2f} | "
          f"{g_single.cpu_ms_per_request / b_single.cpu_ms_per_request:.2f} |")  # fmt: skip
    print(f"| batches of 1,000: rows/s | {g_batch.rows_per_s:,.0f} | {b_batch.rows_per_s:,.0f} | "
          f"{g_batch.rows_per_s / b_batch.rows_per_s:.2f} |")  # fmt: skip
    print(f"| batches of 1,000: p99 ms | {g_batch.p99_ms:.0f} | {b_batch.p99_ms:.0f} | "
          f"{g_batch.p99_ms / b_batch.p99_ms:.2f} |")  # fmt: skip
    print(f"| batches of 1,000: server CPU ms per batch | {g_batch.cpu_ms_per_request:.0f} | "
          f"{b_batch.cpu_ms_per_request:.0f} | "
          f"{g_batch.cpu_ms_per_request / b_batch.cpu_ms_per_request:.2f} |")  # fmt: skip
    print(f"| hot swap: seconds to the new version | {g_swap[0]:.2f} | {b_swap[0]:.2f} (restart) | "
          f"{g_swap[0] / b_swap[0]:.2f} |")  # fmt: skip
    print(f"| hot swap: failed requests | {g_swap[1]} | {b_swap[1]} | |")
    print(f"| errors during throughput phases | {g_single.errors + g_batch.errors} | "
          f"{b_single.errors + b_batch.errors} | |")  # fmt: skip
    print(f"gateway predictions in the store when it stopped: {logged[0]:,}; still in its spool "
          f"(answered and logged, ingested at its next start): {logged[1]:,}")  # fmt: skip


if __name__ == "__main__":
    main()
