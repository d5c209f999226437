"""Command: serve, the dashboard as a bank would run it.

- It listens on 127.0.0.1 unless VIGIL_BIND_ADDRESS (or --address) opens it.
- With VIGIL_TLS_CERT and VIGIL_TLS_KEY it speaks HTTPS only.
- No request leaves the machine: no usage statistics, no external favicon or fonts (the app
  uses an emoji favicon, drawn locally; Streamlit ships its fonts).
- With --gateway it also starts `vigil gateway` (its control loop and spool ingester) on the
  same store and address, so the dashboard's decisions change what the gateway answers.
- Stopping `vigil serve` (SIGTERM, SIGINT, SIGHUP) stops every process it started; on Linux
  they also stop if `vigil serve` is killed outright.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import vigil.app
from vigil.cli.command import Command
from vigil.cli.commands.common import store
from vigil.cli.exits import Exit
from vigil.core import settings
from vigil.core.demo import seed as demo_seed
from vigil.core.errors import VigilError
from vigil.core.govern import auth
from vigil.core.registry import versions as registry

# Streamlit options every `vigil serve` uses (.streamlit/config.toml says the same for
# `streamlit run app/main.py` from the source tree; a test keeps the two equal).
STREAMLIT_OPTIONS: dict[str, str] = {
    "server.headless": "true",
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "viewer",
    "client.showErrorDetails": "type",
    "theme.base": "light",
    "theme.primaryColor": "#1f4e8c",
}
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
GRACE_S = 10.0  # how long Streamlit may take to stop before it is killed
GATEWAY_GRACE_S = 45.0  # the gateway drains requests, then ingests what its workers spooled


def tls_files() -> tuple[Path, Path] | None:
    """The certificate and key named by VIGIL_TLS_CERT and VIGIL_TLS_KEY, checked."""
    cert, key = settings.get("tls_cert").strip(), settings.get("tls_key").strip()
    if not cert and not key:
        return None
    if not (cert and key):
        raise VigilError(
            "TLS needs both VIGIL_TLS_CERT (certificate) and VIGIL_TLS_KEY (private key); "
            f"only {'VIGIL_TLS_CERT' if cert else 'VIGIL_TLS_KEY'} is set."
        )
    paths = (Path(cert).expanduser(), Path(key).expanduser())
    for name, path in zip(("VIGIL_TLS_CERT", "VIGIL_TLS_KEY"), paths, strict=True):
        if not path.is_file():
            raise VigilError(f"{name}={path}: no such file; point it at a PEM file.")
    return paths


def streamlit_command(port: int, address: str, tls: tuple[Path, Path] | None) -> list[str]:
    options = {**STREAMLIT_OPTIONS, "server.port": str(port), "server.address": address}
    if tls is not None:
        options["server.sslCertFile"], options["server.sslKeyFile"] = map(str, tls)
    main = Path(vigil.app.__file__).resolve().parent / "main.py"
    flags = [part for name, value in options.items() for part in (f"--{name}", value)]
    return [sys.executable, "-m", "streamlit", "run", str(main), *flags]


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGTERM when `vigil serve` dies, even by
    SIGKILL, so no dashboard is left running unsupervised."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass(frozen=True)
class Child:
    """A process `vigil serve` runs and stops: its name (for messages), command and grace."""

    name: str
    command: list[str]
    grace_s: float = GRACE_S


def gateway_command(port: int, address: str) -> list[str]:
    return [sys.executable, "-m", "vigil", "gateway", "--host", address, "--port", str(port)]


def run_supervised(children: Sequence[Child], env: dict[str, str]) -> int:
    """Run the children until one exits or we are asked to stop; then stop them all."""
    running: list[tuple[Child, subprocess.Popen[bytes]]] = []
    asked: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        asked.append(signum)

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        for child in children:
            running.append(
                (child, subprocess.Popen(child.command, env=env, preexec_fn=_die_with_parent))
            )
        while not asked and all(p.poll() is None for _, p in running):
            with contextlib.suppress(subprocess.TimeoutExpired):
                running[0][1].wait(timeout=0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        exited = [(c, p.returncode) for c, p in running if p.poll() is not None]
        _stop(running)
    if asked:
        return Exit.OK
    child, code = exited[0]
    others = [c.name for c, _ in running if c is not child]
    if others:
        print(f"The {child.name} stopped (exit code {code}); stopped the {' and '.join(others)} "
              "too.", file=sys.stderr, flush=True)  # fmt: skip
    return int(code or 0)


def _stop(running: Sequence[tuple[Child, subprocess.Popen[bytes]]]) -> None:
    """Ask every child at once (they stop in parallel), then kill any past its grace."""
    for _, process in running:
        if process.poll() is None:
            process.terminate()
    started = time.monotonic()
    for child, process in running:
        while process.poll() is None and time.monotonic() - started < child.grace_s:
            time.sleep(0.05)
        if process.poll() is None:
            process.kill()
            process.wait()


def _serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8501)
    p.add_argument(
        "--address",
        default=None,
        help="address to listen on (default $VIGIL_BIND_ADDRESS, else 127.0.0.1: this machine only)",
    )
    p.add_argument("--no-demo", action="store_true", help="do not seed the demo")
    p.add_argument(
        "--gateway", action="store_true",
        help="also start the serving gateway (`vigil gateway`) on the same store and address",
    )  # fmt: skip
    p.add_argument("--gateway-port", type=int, default=8000, help="the gateway's port (8000)")


def _seed_if_empty(args: argparse.Namespace) -> None:
    st = store()
    if args.no_demo or demo_seed.is_seeded(st):
        return
    with st.connect() as con:
        empty = not registry.list_model_names(con)
    if empty:
        print("Empty store: seeding the demo (about 10 seconds)…", flush=True)
        report = demo_seed.seed(st, password=settings.get("demo_password") or None)
        print(report.summary(), flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    if args.gateway and args.gateway_port == args.port:
        print(f"error: the dashboard and the gateway cannot share port {args.port}; "
              "pick another --gateway-port.", file=sys.stderr)  # fmt: skip
        return Exit.USAGE
    st = store()
    tls = tls_files()
    address = args.address or settings.get("bind_address").strip() or "127.0.0.1"
    auth.ensure_admin_from_env(st)
    _seed_if_empty(args)
    scheme = "https" if tls else "http"
    shown = "localhost" if address in ("127.0.0.1", "::1", "localhost") else address
    print(f"Dashboard: {scheme}://{shown}:{args.port} (listening on {address})", flush=True)
    env = {**os.environ, "VIGIL_HOME": str(st.home)}
    children = [Child("dashboard", streamlit_command(args.port, address, tls))]
    if args.gateway:
        children.append(
            Child("gateway", gateway_command(args.gateway_port, address), GATEWAY_GRACE_S)
        )
    return run_supervised(children, env)


COMMANDS = (
    Command(
        "serve",
        "start the dashboard (seeding the demo first if the store is empty)",
        _serve_arguments,
        cmd_serve,
        description="Start the dashboard. It listens on 127.0.0.1 unless VIGIL_BIND_ADDRESS "
        "or --address says otherwise, and speaks HTTPS when VIGIL_TLS_CERT and VIGIL_TLS_KEY "
        "name a certificate and its key. With --gateway the serving gateway starts beside it "
        "on the same store and address (its TLS from VIGIL_GATEWAY_TLS_CERT and _KEY). "
        "Stopping this command stops everything it started.",
    ),
)
