"""One predict request answered from a live state: which arm answers each instance, the scores,
the response body and the log rows (in the prediction-log contract, plus the gateway's own
columns worker / request_id / arm / route_id, which ingest reports as extra and the ingester
stores in `serve_predictions`).

A shadow challenger's row gets the id `<prediction id>:<version>`, so the pair is joined by id.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vigil.core.serve import instances as inst
from vigil.core.serve.routing import RouteMode, answers_with_challenger
from vigil.core.serve.runtime import LiveModel


class Arm:
    CHAMPION = "champion"
    SHADOW = "shadow"


@dataclass(frozen=True)
class Answer:
    body: bytes  # the response, JSON
    log_lines: bytes
    ok: bool
    versions: tuple[str, ...]


class IdMaker:
    """Prediction ids unique across workers and restarts without a uuid per row."""

    def __init__(self) -> None:
        self.prefix = secrets.token_hex(5)
        self._next = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> list[str]:
        with self._lock:
            start, self._next = self._next, self._next + n
        return [f"{self.prefix}-{i:x}" for i in range(start, start + n)]


def _timestamp(now: dt.datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _score(
    model: LiveModel, challenger: bool, rows: Sequence[dict[str, Any]]
) -> tuple[np.ndarray | None, float]:
    """Scores (None when onnxruntime failed) and the milliseconds it took."""
    entry = (
        model.entry.route.challenger if challenger and model.entry.route else model.entry.champion
    )
    session = model.challenger if challenger else model.champion
    started = time.perf_counter()
    try:
        assert session is not None
        scores = inst.score(session, rows, entry.features) if rows else np.empty(0)
    except Exception:  # onnxruntime's errors are untyped; the rows are logged as errors
        scores = None
    return scores, (time.perf_counter() - started) * 1000


def _assign(model: LiveModel, rows: Sequence[dict[str, Any]], ids: list[str]) -> list[bool]:
    route = model.entry.route
    if route is None or route.mode is RouteMode.SHADOW or model.challenger is None:
        return [False] * len(rows)
    return [
        answers_with_challenger(
            route.mode, route.route_id, route.share, str(row.get(inst.REQUEST_ID) or pid)
        )
        for row, pid in zip(rows, ids, strict=True)
    ]


def _answer_arms(
    model: LiveModel, rows: Sequence[dict[str, Any]], to_challenger: list[bool]
) -> tuple[list[float | None], list[str | None], list[str], bool]:
    """Scores, labels and versions of the arm that answers each row; False if a run failed."""
    entry, route = model.entry, model.entry.route
    scores: list[float | None] = [None] * len(rows)
    labels: list[str | None] = [None] * len(rows)
    versions = [entry.champion.version] * len(rows)
    ok = True
    for challenger in (False, True):
        index = [i for i, c in enumerate(to_challenger) if c == challenger]
        if not index:
            continue
        spec = route.challenger if challenger and route is not None else entry.champion
        got, _ = _score(model, challenger, [rows[i] for i in index])
        if got is None:
            ok = False
            continue
        named = inst.predicted_labels(got, spec.task, spec.decision_threshold)
        values = got.tolist()
        for j, i in enumerate(index):
            scores[i], labels[i], versions[i] = values[j], named[j], spec.version
    return scores, labels, versions, ok


def answer(
    model: LiveModel,
    rows: Sequence[dict[str, Any]],
    *,
    worker: str,
    ids: IdMaker,
    started: float,
    now: dt.datetime,
) -> Answer:
    """Score validated rows with the arms the routing gives them; build response and log."""
    entry, route = model.entry, model.entry.route
    pids = ids.take(len(rows))
    to_challenger = _assign(model, rows, pids)
    scores, labels, versions, ok = _answer_arms(model, rows, to_challenger)
    latency = (time.perf_counter() - started) * 1000
    writer = _Lines(entry.model_name, _timestamp(now), worker)
    score_json, label_json = [_number(v) for v in scores], [_text(v) for v in labels]
    lines = [
        writer.line(row, pids[i], versions[i], score_json[i], label_json[i], latency,
                    route.mode.value if route and to_challenger[i] else Arm.CHAMPION,
                    route.route_id if route and to_challenger[i] else None)
        for i, row in enumerate(rows)
    ]  # fmt: skip
    if route is not None and route.mode is RouteMode.SHADOW and model.challenger is not None:
        lines += _shadow_lines(model, rows, pids, writer)
    answered = sorted(set(versions))
    version = answered[0] if len(answered) == 1 else entry.champion.version
    version_json = {v: _ENCODE(v) for v in answered}
    predictions = ",".join(
        f'{{"prediction_id":"{pid}","model_version":{version_json[v]},"prediction":{s},'
        f'"predicted_label":{lab}}}'
        for pid, v, s, lab in zip(pids, versions, score_json, label_json, strict=True)
    )
    body = (
        f'{{"model":{_ENCODE(entry.model_name)},"version":{_ENCODE(version)},'
        f'"predictions":[{predictions}]}}'
    )
    return Answer(body.encode(), ("\n".join(lines) + "\n").encode(), ok, tuple(answered))


def _shadow_lines(
    model: LiveModel, rows: Sequence[dict[str, Any]], pids: list[str], writer: _Lines
) -> list[str]:
    """The challenger's scores of the same rows, logged under `<id>:<version>`, never returned."""
    route = model.entry.route
    assert route is not None
    spec = route.challenger
    got, ms = _score(model, True, rows)
    values = [None] * len(rows) if got is None else got.tolist()
    named = (
        inst.predicted_labels(got, spec.task, spec.decision_threshold)
        if got is not None
        else [None] * len(rows)
    )
    return [
        writer.line(row, f"{pids[i]}:{spec.version}", spec.version, _number(values[i]),
                    _text(named[i]), ms, Arm.SHADOW, route.route_id, request_of=pids[i])
        for i, row in enumerate(rows)
    ]  # fmt: skip


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # built once: the C fast path


def _number(value: float | None) -> str:
    return "null" if value is None else repr(value)


_LABELS = {None: "null", "0": '"0"', "1": '"1"'}


def _text(value: str | None) -> str:
    known = _LABELS.get(value)
    return known if known is not None else _ENCODE(value)


class _Lines:
    """Log rows as JSON. The caller's values go through the JSON encoder once per row; the
    gateway's own parts (registered names, ids, numbers) are encoded once per request and
    spliced in, several times faster for 1,000-row batches than a dict per row."""

    def __init__(self, model_name: str, stamp: str, worker: str) -> None:
        self.model = _ENCODE(model_name)
        self.stamp = stamp
        self.worker = _ENCODE(worker)
        self._fixed: dict[tuple[str, float, str, int | None], tuple[str, str]] = {}

    def _parts(
        self, version: str, latency: float, arm: str, route_id: int | None
    ) -> tuple[str, str]:
        key = (version, latency, arm, route_id)
        if key not in self._fixed:
            self._fixed[key] = (
                f'"model_name":{self.model},"model_version":{_ENCODE(version)},'
                f'"timestamp":"{self.stamp}","latency_ms":{round(latency, 3)!r},',
                f',"arm":"{arm}","route_id":{"null" if route_id is None else route_id},'
                f'"worker":{self.worker}}}',
            )
        return self._fixed[key]

    def line(
        self,
        row: dict[str, Any],
        pid: str,
        version: str,
        score: str,
        label: str,
        latency: float,
        arm: str,
        route_id: int | None,
        request_of: str | None = None,
    ) -> str:
        """One row; `score` and `label` come JSON-encoded (they are also in the response)."""
        middle, end = self._parts(version, latency, arm, route_id)
        features = _ENCODE(row)[:-1]  # keeps the caller's request_id, if any
        request = "" if inst.REQUEST_ID in row else f',"request_id":"{request_of or pid}"'
        status = "error" if score == "null" else "ok"
        return (
            f'{features}{"," if len(features) > 1 else ""}"prediction_id":"{pid}",{middle}'
            f'"prediction":{score},"predicted_label":{label},"status":"{status}"{request}{end}'
        )
