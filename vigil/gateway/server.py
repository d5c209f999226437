"""Start the gateway: publish the serving state, run the control loop, run uvicorn's workers.

The control loop (publisher + spool ingester) runs in a process of its own; the N uvicorn
workers share nothing but the published state files and write only their own spool files.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from dataclasses import dataclass
from types import FrameType

import uvicorn
from uvicorn.supervisors import Multiprocess

from vigil.core import settings
from vigil.core.errors import StoreBusyError, VigilError
from vigil.core.serve import snapshot
from vigil.core.serve.control import ControlProcess
from vigil.core.store.connection import Store


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    poll_s: float | None = None
    control: bool = True  # False: serve only; another gateway publishes and ingests


def tls_files() -> tuple[str | None, str | None]:
    """Certificate and key from settings; both or neither."""
    cert = settings.get("gateway_tls_cert").strip() or None
    key = settings.get("gateway_tls_key").strip() or None
    if (cert is None) != (key is None):
        raise VigilError(
            "TLS needs both VIGIL_GATEWAY_TLS_CERT and VIGIL_GATEWAY_TLS_KEY (PEM files); "
            "set both, or neither for plain HTTP on a trusted network."
        )
    for path in (cert, key):
        if path is not None and not os.path.isfile(path):
            raise VigilError(f"TLS file {path} does not exist.")
    return cert, key


def first_publication(store: Store) -> snapshot.ServingState:
    """Publish before serving; a busy store is fine if an earlier state exists."""
    try:
        return snapshot.publish(store, timeout_s=10)
    except StoreBusyError:
        earlier = snapshot.read(snapshot.serving_dir(store))
        if earlier is None:
            raise
        return earlier


def _after_uvicorn(signum: int, frame: FrameType | None) -> None:
    """SIGTERM once uvicorn has shut down. One uvicorn server handles SIGTERM itself (it
    drains requests), then restores the handler it found and raises the signal again: the
    default handler would end this process there, before `run` stops the control processes
    (they were left running, orphaned, with the spool's last files not ingested)."""


class _NoDelayConfig(uvicorn.Config):
    """uvicorn's config, whose listening socket has TCP_NODELAY (Linux gives it to every
    connection it accepts). With several workers uvicorn binds that socket itself, with
    protocol 0, and asyncio sets TCP_NODELAY only on IPPROTO_TCP sockets: each answer's body,
    written after its headers, then waited for the client's delayed ACK (measured: 48 ms per
    request and 19 requests/s on one connection with 2 workers, against 0.5 ms with 1)."""

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def _serve(config: uvicorn.Config) -> None:
    """What uvicorn.run does without reloading, for a config of ours."""
    server = uvicorn.Server(config)
    try:
        if config.workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            server.run()
    except KeyboardInterrupt:
        return
    if config.workers == 1 and not server.started:
        raise SystemExit(3)  # as uvicorn.run: it could not start (port taken, ...)


def run(store: Store, options: ServerOptions) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    cert, key = tls_files()
    state = (
        first_publication(store) if options.control else snapshot.read(snapshot.serving_dir(store))
    )
    if state is None:
        raise VigilError(
            f"Nothing is published in {snapshot.serving_dir(store)} yet: start a gateway "
            "without --no-control first."
        )
    scheme = "https" if cert else "http"
    served = ", ".join(f"{n} {m.champion.version}" for n, m in state.models.items()) or "none yet"
    print(
        f"Gateway: {scheme}://{options.host}:{options.port}/v1/models/<model>/predict "
        f"({options.workers} worker(s); champions: {served}); docs at /docs",
        flush=True,
    )
    os.environ[settings.SETTINGS["home"].env] = str(store.home)  # the workers' store
    poll = options.poll_s if options.poll_s is not None else float(settings.get("gateway_poll_s"))
    control = ControlProcess(store, poll)
    if options.control:
        control.start()
    previous = signal.signal(signal.SIGTERM, _after_uvicorn)
    try:
        _serve(
            _NoDelayConfig(
                "vigil.gateway.app:create_app",
                factory=True,
                host=options.host,
                port=options.port,
                workers=options.workers,
                ssl_certfile=cert,
                ssl_keyfile=key,
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=10,
            )
        )
    except SystemExit as stopped:  # uvicorn exits 3 when it cannot start (port taken, ...)
        if stopped.code in (0, None):
            raise
        raise VigilError(
            f"The gateway could not start on {options.host}:{options.port} (see the message "
            "above); free the port or choose another with --port."
        ) from stopped
    finally:
        if options.control:
            control.stop()
        signal.signal(signal.SIGTERM, previous)
    return 0
