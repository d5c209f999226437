"""`vigil serve` as a bank runs it, with real processes: it listens on 127.0.0.1 only, speaks
HTTPS with the configured certificate, serves a page that references no other host, and
takes its Streamlit process down when it is stopped."""

from __future__ import annotations

import datetime as dt
import html.parser
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from streamlit.commands.page_config import _get_favicon_string

from tests.cli.helpers import ROOT
from vigil.app.ui import FAVICON
from vigil.cli.commands import serve
from vigil.core.errors import VigilError
from vigil.core.store.connection import Store

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(home: Path, port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "vigil", "serve", "--no-demo", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "VIGIL_HOME": str(home), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, "vigil serve exited early"
        try:
            return httpx.get(url, verify=False, timeout=2)
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within 90 s")


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _listening(port: int) -> set[str]:
    """Local addresses with a socket listening on `port` (IPv4 and IPv6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, _, state = line.split()[1:4]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == "0A":
                raw = bytes.fromhex(address)
                words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]
                found.add(str(ipaddress.ip_address(b"".join(words))))
    return found


def _stop(process: subprocess.Popen[bytes], how: signal.Signals) -> tuple[int, list[int]]:
    children = _children(process.pid)
    process.send_signal(how)
    code = process.wait(timeout=30)
    deadline = time.monotonic() + 15
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    return code, [c for c in children if _alive(c)]


@pytest.fixture
def served(store: Store) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    process = _start(store.home, port)
    yield process, port
    if process.poll() is None:
        process.kill()
        process.wait()


class _References(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]

    def handle_data(self, data: str) -> None:
        self.urls += [w for w in data.split() if "://" in w]


def test_serve_binds_localhost_serves_no_external_reference_and_stops_on_sigterm(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = served
    page = _wait_until_up(f"http://127.0.0.1:{port}/", process)
    assert page.status_code == 200
    assert _listening(port) == {"127.0.0.1"}
    parser = _References()
    parser.feed(page.text)  # comments (the licence header) are not references
    assert parser.urls, "the page references its scripts"
    assert [u for u in parser.urls if "://" in u or u.startswith("//")] == []
    (streamlit,) = _children(process.pid)
    cmdline = Path(f"/proc/{streamlit}/cmdline").read_bytes().split(b"\0")
    assert b"--browser.gatherUsageStats" in cmdline
    assert cmdline[cmdline.index(b"--browser.gatherUsageStats") + 1] == b"false"
    code, left = _stop(process, signal.SIGTERM)
    assert code == 0 and left == []


def test_serve_stops_its_streamlit_on_sigint(served: tuple[subprocess.Popen[bytes], int]) -> None:
    process, port = served
    _wait_until_up(f"http://127.0.0.1:{port}/", process)
    code, left = _stop(process, signal.SIGINT)
    assert code == 0 and left == []


def test_streamlit_stops_even_when_serve_is_killed_outright(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    """SIGKILL leaves no handler to run: the kernel tells the child (PR_SET_PDEATHSIG)."""
    process, port = served
    _wait_until_up(f"http://127.0.0.1:{port}/", process)
    code, left = _stop(process, signal.SIGKILL)
    assert code == -signal.SIGKILL and left == []


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_serve_speaks_https_with_the_configured_certificate(store: Store, tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    port = _free_port()
    process = _start(store.home, port, {"VIGIL_TLS_CERT": str(cert), "VIGIL_TLS_KEY": str(key)})
    try:
        page = _wait_until_up(f"https://127.0.0.1:{port}/", process)
        assert page.status_code == 200 and page.url.scheme == "https"
        trusted = ssl.create_default_context(cafile=str(cert))
        checked = httpx.get(f"https://127.0.0.1:{port}/", verify=trusted, timeout=5)
        assert checked.status_code == 200  # the certificate served is the one configured
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
    finally:
        _stop(process, signal.SIGTERM)


def test_tls_needs_both_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VIGIL_TLS_CERT", str(tmp_path / "cert.pem"))
    monkeypatch.delenv("VIGIL_TLS_KEY", raising=False)
    with pytest.raises(VigilError) as err:
        serve.tls_files()
    assert str(err.value).startswith("TLS needs both VIGIL_TLS_CERT")
    monkeypatch.setenv("VIGIL_TLS_KEY", str(tmp_path / "key.pem"))
    with pytest.raises(VigilError) as missing:
        serve.tls_files()
    assert (
        str(missing.value)
        == f"VIGIL_TLS_CERT={tmp_path / 'cert.pem'}: no such file; point it at a PEM file."
    )


def test_the_bind_address_setting_opens_it(monkeypatch: pytest.MonkeyPatch) -> None:
    command = serve.streamlit_command(8600, "0.0.0.0", None)
    assert command[command.index("--server.address") + 1] == "0.0.0.0"
    assert "--server.sslCertFile" not in command


def test_the_source_tree_config_says_what_serve_passes() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    flat = {f"{section}.{k}": v for section, values in config.items() for k, v in values.items()}
    as_text = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in flat.items()}
    assert {k: as_text[k] for k in serve.STREAMLIT_OPTIONS} == serve.STREAMLIT_OPTIONS
    assert as_text["server.address"] == "127.0.0.1"


def test_the_favicon_is_drawn_locally() -> None:
    """A :material/...: icon makes the browser fetch it from fonts.gstatic.com."""
    assert _get_favicon_string(FAVICON).startswith("emoji:")
