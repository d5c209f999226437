"""A worker's view of the published state: onnxruntime sessions ready to answer.

`load` builds a new LiveState from the published files, reusing the sessions of the previous
one for artifacts it already had (same SHA-256), so a swap costs only the new model's load.
An artifact that is missing or fails its hash check is not served: the model keeps the entry
it had in the previous state (or is left out if it had none), and the problem is reported.
`Watcher` polls the state file's identity (inode, size, mtime) every `interval_s` seconds and
swaps the reference atomically; a request reads the reference once and uses that state to the
end, so a swap never fails or mixes versions within a request.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import onnxruntime as ort

from vigil.core.errors import ArtifactError, VigilError
from vigil.core.serve import snapshot
from vigil.core.serve.snapshot import ModelEntry, ServingState, VersionEntry

log = logging.getLogger("vigil.gateway")


@dataclass(frozen=True)
class LiveModel:
    entry: ModelEntry
    champion: ort.InferenceSession
    challenger: ort.InferenceSession | None


@dataclass(frozen=True)
class LiveState:
    state: ServingState
    models: dict[str, LiveModel]
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def generation(self) -> int:
        return self.state.generation


def _session(
    folder: Path, entry: VersionEntry, cache: dict[str, ort.InferenceSession]
) -> ort.InferenceSession:
    if entry.sha256 in cache:
        return cache[entry.sha256]
    data = snapshot.artifact_bytes(folder, entry)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own untyped errors
        raise ArtifactError(f"{entry.artifact}: onnxruntime cannot load it: {err}") from err
    cache[entry.sha256] = session
    return session


def _sessions(previous: LiveState | None) -> dict[str, ort.InferenceSession]:
    cache: dict[str, ort.InferenceSession] = {}
    if previous is not None:
        for model in previous.models.values():
            cache[model.entry.champion.sha256] = model.champion
            if model.entry.route is not None and model.challenger is not None:
                cache[model.entry.route.challenger.sha256] = model.challenger
    return cache


def load(folder: Path, previous: LiveState | None) -> LiveState | None:
    """The published state made live; None when nothing is published (or it is unreadable)."""
    state = snapshot.read(folder)
    if state is None:
        return None
    cache = _sessions(previous)
    models: dict[str, LiveModel] = {}
    problems: list[str] = []
    for name, entry in state.models.items():
        try:
            champion = _session(folder, entry.champion, cache)
            challenger = (
                None if entry.route is None else _session(folder, entry.route.challenger, cache)
            )
            models[name] = LiveModel(entry, champion, challenger)
        except VigilError as err:
            problems.append(f"{name}: {err}")
            log.error("not serving the new state of %s: %s", name, err)
            if previous is not None and name in previous.models:
                models[name] = previous.models[name]
    return LiveState(state, models, tuple(problems))


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class Watcher:
    """Keeps `current` equal to the newest loadable published state."""

    def __init__(
        self,
        folder: Path,
        interval_s: float = 0.1,
        on_swap: Callable[[LiveState], None] | None = None,
    ) -> None:
        self.folder = folder
        self.interval_s = interval_s
        self.on_swap = on_swap
        self.current: LiveState | None = None
        self._seen: tuple[int, int, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vigil-state-watcher", daemon=True)

    def refresh(self) -> bool:
        """Load the state if its file changed; True when a new state became current."""
        identity = _identity(self.folder / snapshot.STATE_FILE)
        if identity is None or identity == self._seen:
            return False
        fresh = load(self.folder, self.current)
        self._seen = identity
        if fresh is None:
            return False
        self.current = fresh
        if self.on_swap is not None:
            self.on_swap(fresh)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.refresh()
            except Exception:  # keep the last good state whatever happens to the files
                log.exception("state refresh failed; serving the last good state")

    def start(self) -> None:
        self.refresh()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
