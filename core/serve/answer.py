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
    body: dict[str, Any]
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
        for j, i in enumerate(index):
            scores[i], labels[i], versions[i] = float(got[j]), named[j], spec.version
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
    stamp = _timestamp(now)
    lines = [
        _line(entry.model_name, row, pids[i], versions[i], stamp, scores[i], labels[i], latency,
              worker, route.mode.value if route and to_challenger[i] else Arm.CHAMPION,
              route.route_id if route and to_challenger[i] else None)
        for i, row in enumerate(rows)
    ]  # fmt: skip
    if route is not None and route.mode is RouteMode.SHADOW and model.challenger is not None:
        lines += _shadow_lines(model, rows, pids, worker, stamp)
    predictions = [
        {"prediction_id": pid, "model_version": v, "prediction": s, "predicted_label": lab}
        for pid, v, s, lab in zip(pids, versions, scores, labels, strict=True)
    ]
    answered = sorted(set(versions))
    body = {
        "model": entry.model_name,
        "version": answered[0] if len(answered) == 1 else entry.champion.version,
        "predictions": predictions,
    }
    return Answer(body, ("\n".join(lines) + "\n").encode(), ok, tuple(answered))


def _shadow_lines(
    model: LiveModel, rows: Sequence[dict[str, Any]], pids: list[str], worker: str, stamp: str
) -> list[str]:
    """The challenger's scores of the same rows, logged under `<id>:<version>`, never returned."""
    route = model.entry.route
    assert route is not None
    spec = route.challenger
    got, ms = _score(model, True, rows)
    named = (
        inst.predicted_labels(got, spec.task, spec.decision_threshold)
        if got is not None
        else [None] * len(rows)
    )
    return [
        _line(model.entry.model_name, row, f"{pids[i]}:{spec.version}", spec.version, stamp,
              None if got is None else float(got[i]), named[i], ms, worker, Arm.SHADOW,
              route.route_id, request_of=pids[i])
        for i, row in enumerate(rows)
    ]  # fmt: skip


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # built once: the C fast path


def _line(
    model_name: str,
    row: dict[str, Any],
    pid: str,
    version: str,
    stamp: str,
    score: float | None,
    label: str | None,
    latency: float,
    worker: str,
    arm: str,
    route_id: int | None,
    request_of: str | None = None,
) -> str:
    """One log row as JSON. The caller's values go through the JSON encoder; the gateway's
    own (ids, registered names, numbers) are spliced in, several times faster per row."""
    request_id = row.get(inst.REQUEST_ID)
    if request_id is not None:
        row = {k: v for k, v in row.items() if k != inst.REQUEST_ID}
    features = _ENCODE(row)[:-1]
    tail = (
        f'"prediction_id":"{pid}","model_name":{_ENCODE(model_name)},'
        f'"model_version":{_ENCODE(version)},"timestamp":"{stamp}",'
        f'"prediction":{"null" if score is None else repr(score)},'
        f'"predicted_label":{"null" if label is None else _ENCODE(label)},'
        f'"latency_ms":{round(latency, 3)!r},"status":"{"error" if score is None else "ok"}",'
        f'"request_id":{_ENCODE(str(request_id or request_of or pid))},"arm":"{arm}",'
        f'"route_id":{"null" if route_id is None else route_id},"worker":{_ENCODE(worker)}}}'
    )
    return features + ("," if len(features) > 1 else "") + tail
