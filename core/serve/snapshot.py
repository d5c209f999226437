"""The registry state the gateway serves from, published as files workers read without the store.

DuckDB lets one process at a time hold the store, so a worker that read it per request (or
even per change) would wait on every ingest and every dashboard click. Instead a publisher
(the gateway's control loop, or whoever changes state) writes `serving/state.json` and the
verified artifact bytes (`serving/artifacts/<sha256>.onnx`) atomically: temp file, fsync,
rename. Workers watch that one file, check each artifact's SHA-256 again before serving it,
and keep their last good state if anything is missing, busy or wrong.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from vigil.core.contract import FeatureSpec
from vigil.core.errors import StoreError
from vigil.core.govern import tokens
from vigil.core.registry import artifacts
from vigil.core.registry.versions import ModelVersion, get_version
from vigil.core.results import to_jsonable
from vigil.core.serve.routing import RouteMode, live_routes
from vigil.core.store.connection import Store

STATE_FILE = "state.json"
FORMAT = 1


@dataclass(frozen=True)
class VersionEntry:
    version: str
    sha256: str
    artifact: str  # relative to the serving folder
    task: str
    features: tuple[FeatureSpec, ...]
    decision_threshold: float | None


@dataclass(frozen=True)
class RouteEntry:
    route_id: int
    mode: RouteMode
    share: float
    ends_at: dt.datetime
    challenger: VersionEntry


@dataclass(frozen=True)
class ModelEntry:
    model_name: str
    champion: VersionEntry
    route: RouteEntry | None


@dataclass(frozen=True)
class ServingState:
    """One published state. `generation` grows with every change; `audit_seq` is the audit
    record it reflects (the publisher skips rebuilding while that has not moved)."""

    generation: int
    published_at: dt.datetime
    audit_seq: int
    models: dict[str, ModelEntry]
    keys: dict[str, tokens.KeyRecord]


def serving_dir(store: Store) -> Path:
    return store.home / "serving"


def atomic_write(path: Path, data: bytes) -> None:
    """Write a file so readers see the old bytes or the new ones, never a torn mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def audit_head(con: duckdb.DuckDBPyConnection) -> int:
    """The newest audit record's number; -1 when the file has no audit log (not a store)."""
    try:
        return int(con.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchall()[0][0])
    except duckdb.CatalogException:
        return -1


def _entry(store: Store, folder: Path, version: ModelVersion) -> VersionEntry:
    """The version's entry, its artifact copied (hash-checked) into the serving folder."""
    relative = f"artifacts/{version.artifact_sha256}.onnx"
    target = folder / relative
    if not target.exists():
        data = artifacts.verified_bytes(store.home / version.artifact_path, version.artifact_sha256)
        atomic_write(target, data)
    return VersionEntry(
        version.model_version,
        version.artifact_sha256,
        relative,
        version.task,
        version.features,
        version.decision_threshold,
    )


def build(store: Store, con: duckdb.DuckDBPyConnection, folder: Path) -> ServingState:
    """Read champions, live routes and verified keys in one unit of work (no generation yet)."""
    champions = con.execute(
        "SELECT model_name, model_version FROM aliases WHERE alias = 'champion' ORDER BY 1"
    ).fetchall()
    routes = {r.model_name: r for r in live_routes(con)}
    models: dict[str, ModelEntry] = {}
    for model_name, version in champions:
        champion = _entry(store, folder, get_version(con, model_name, version))
        route = routes.get(model_name)
        route_entry = None
        if route is not None:
            challenger = _entry(store, folder, get_version(con, model_name, route.model_version))
            route_entry = RouteEntry(
                route.route_id, route.mode, route.share, route.ends_at, challenger
            )
        models[model_name] = ModelEntry(model_name, champion, route_entry)
    keys = {k.key_id: k for k in tokens.verified_keys(con)}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return ServingState(0, now, audit_head(con), models, keys)


def _content(state: ServingState) -> dict[str, Any]:
    body: dict[str, Any] = to_jsonable(state)
    return body


def _same(a: ServingState, b: ServingState) -> bool:
    left, right = _content(a), _content(b)
    for body in (left, right):
        for key in ("generation", "published_at", "audit_seq"):
            body.pop(key)
    return left == right


def write(folder: Path, state: ServingState) -> None:
    body = {"format": FORMAT, **_content(state)}
    atomic_write(folder / STATE_FILE, json.dumps(body, sort_keys=True).encode())


def publish(store: Store, *, timeout_s: float | None = None, force: bool = False) -> ServingState:
    """Rebuild the state if the audit log moved since the last publication; write it if it
    differs. Raises StoreBusyError when the store stays locked for `timeout_s`."""
    folder = serving_dir(store)
    current = read(folder)
    with store.connect(timeout_s) as con:
        head = audit_head(con)
        if current is not None and head < current.audit_seq:
            raise StoreError(
                f"The store's audit log ends at record {head}, before the published state's "
                f"{current.audit_seq}: the store was replaced or truncated. Serving the last "
                "published state until it is restored."
            )
        if current is not None and not force and head == current.audit_seq:
            return current
        fresh = build(store, con, folder)
    if current is not None and _same(current, fresh):
        if fresh.audit_seq != current.audit_seq:
            # Same serving content: remember the audit position so the next poll is cheap.
            fresh = _with_generation(fresh, current.generation, current.published_at)
            write(folder, fresh)
            return fresh
        return current
    fresh = _with_generation(fresh, (current.generation if current else 0) + 1, fresh.published_at)
    write(folder, fresh)
    return fresh


def _with_generation(state: ServingState, generation: int, at: dt.datetime) -> ServingState:
    return ServingState(generation, at, state.audit_seq, state.models, state.keys)


# --- reading (workers) -------------------------------------------------------------------


def _version(raw: dict[str, Any]) -> VersionEntry:
    return VersionEntry(
        raw["version"],
        raw["sha256"],
        raw["artifact"],
        raw["task"],
        tuple(FeatureSpec(**f) for f in raw["features"]),
        raw["decision_threshold"],
    )


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC).replace(tzinfo=None)


def parse(body: dict[str, Any]) -> ServingState:
    models = {}
    for name, raw in body["models"].items():
        route = raw.get("route")
        models[name] = ModelEntry(
            name,
            _version(raw["champion"]),
            None
            if route is None
            else RouteEntry(
                int(route["route_id"]),
                RouteMode(route["mode"]),
                float(route["share"]),
                _time(route["ends_at"]),
                _version(route["challenger"]),
            ),
        )
    keys = {
        key_id: tokens.KeyRecord(
            k["key_id"],
            k["account"],
            tuple(k["scopes"]),
            k["verifier"],
            _time(k["expires_at"]),
            None,
        )
        for key_id, k in body["keys"].items()
    }
    return ServingState(
        int(body["generation"]), _time(body["published_at"]), int(body["audit_seq"]), models, keys
    )


def read(folder: Path) -> ServingState | None:
    """The published state, or None when nothing was published yet (or it is unreadable)."""
    try:
        body = json.loads((folder / STATE_FILE).read_bytes())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if body.get("format") != FORMAT:
        return None
    return parse(body)


def artifact_bytes(folder: Path, entry: VersionEntry) -> bytes:
    """The artifact's bytes, refused (ArtifactError) unless they hash to the published SHA-256."""
    path = folder / entry.artifact
    data = path.read_bytes() if path.is_file() else b""
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        return artifacts.verified_bytes(path, entry.sha256)  # raises with the right message
    return data
