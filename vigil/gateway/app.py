"""The gateway's HTTP layer: FastAPI routes over vigil.core.serve (no serving logic here).

`create_app` is a factory so each uvicorn worker process builds its own: its own state
watcher, spool writer, counters and rate limiter. Nothing is shared between workers except
the published state files.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from vigil.core import settings
from vigil.core.errors import AuthError, PermissionDenied, VigilError
from vigil.core.serve import answer as answering
from vigil.core.serve import credentials, ingester, instances, snapshot
from vigil.core.serve.metrics import WorkerMetrics
from vigil.core.serve.runtime import LiveState, Watcher
from vigil.core.serve.spool import Spool
from vigil.core.store.connection import Store

log = logging.getLogger("vigil.gateway")
JSON = "application/json"


class Gateway:
    """Everything one worker process holds."""

    def __init__(self, store: Store) -> None:
        self.worker = f"{socket.gethostname()}-{os.getpid()}"
        self.watcher = Watcher(snapshot.serving_dir(store))
        self.spool = Spool(ingester.spool_dir(store), self.worker)
        self.metrics = WorkerMetrics(self.worker)
        self.limiter = credentials.RateLimiter(int(settings.get("gateway_rate_limit")))
        self.jwt = credentials.JwtConfig.from_settings()
        self.ids = answering.IdMaker()
        self.verified: credentials.KeyCache = {}
        self.max_batch = int(settings.get("gateway_max_batch"))
        self.max_body = int(float(settings.get("gateway_max_body_mb")) * 2**20)
        self.fsync_each_request = _fsync_mode() == "request"
        self._stop = threading.Event()
        self._minutes = threading.Thread(target=self._flush_minutes, daemon=True)

    def _flush_minutes(self) -> None:
        while not self._stop.wait(1.0):
            self._emit(self.metrics.completed_minutes())

    def _emit(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            data = "".join(json.dumps(r) + "\n" for r in rows).encode()
            try:
                self.spool.write(ingester.METRICS_STREAM, data)
            except OSError as err:
                log.error("cannot spool worker metrics: %s", err)

    def start(self) -> None:
        self.spool.start()
        self.watcher.start()
        self._minutes.start()

    def stop(self) -> None:
        self._stop.set()
        self.watcher.stop()
        self._emit(self.metrics.completed_minutes(flush=True))
        self.spool.close()


def _fsync_mode() -> str:
    mode = settings.get("gateway_fsync").strip()
    if mode not in ("batch", "request"):
        raise VigilError(f"VIGIL_GATEWAY_FSYNC={mode!r}: use batch or request.")
    return mode


def _problem(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers or None)


def _state_or_503(gw: Gateway) -> LiveState | JSONResponse:
    state = gw.watcher.current
    if state is None:
        return _problem(503, "No serving state is published yet; is `vigil gateway` running?")
    return state


def create_app(home: Path | None = None) -> FastAPI:
    store = Store(Path(home) if home else settings.home())
    gw = Gateway(store)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        gw.start()
        try:
            yield
        finally:
            gw.stop()

    app = FastAPI(
        title="Vigil gateway",
        version="1",
        lifespan=lifespan,
        description="Scores requests with each model's champion, as the registry decides.",
    )
    app.state.gateway = gw

    @app.get("/v1/health", tags=["service"])
    async def health() -> dict[str, str]:
        """Liveness: the worker answers."""
        return {"status": "ok", "worker": gw.worker}

    @app.get("/v1/ready", tags=["service"])
    async def ready() -> Response:
        """Readiness: a published state with at least one champion is loaded."""
        state = gw.watcher.current
        if state is None or not state.models:
            return _problem(503, "No champion is loaded yet.")
        models = {n: m.entry.champion.version for n, m in state.models.items()}
        return JSONResponse({"ready": True, "generation": state.generation, "models": models})

    @app.get("/metrics", tags=["service"], response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        """Prometheus text: requests, errors, rows and latency per model and version."""
        state = gw.watcher.current
        extra = {"vigil_gateway_state_generation": float(state.generation if state else 0)}
        return PlainTextResponse(
            gw.metrics.prometheus(extra), media_type="text/plain; version=0.0.4"
        )

    async def predict(request: Request) -> Response:
        """Score instances with the model's champion (each model's path documents its schema).

        A plain Starlette endpoint: FastAPI's per-request parameter machinery would cost more
        than scoring; the body is checked against the model's own features instead."""
        started = time.perf_counter()
        model = request.path_params["model"]
        response = await _predict(gw, model, request, started)
        version = response.headers.get("x-model-version") or _champion_version(gw, model)
        rows = int(response.headers.get("x-rows", "0"))
        gw.metrics.observe(
            model, version, response.status_code, time.perf_counter() - started, rows
        )
        return response

    app.router.add_route("/v1/models/{model}/predict", predict, methods=["POST"])
    app.openapi = lambda: _openapi(app, gw)  # type: ignore[method-assign]
    return app


def _champion_version(gw: Gateway, model: str) -> str:
    live = gw.watcher.current
    served = live.models.get(model) if live else None
    return served.entry.champion.version if served else "-"


async def _predict(gw: Gateway, model: str, request: Request, started: float) -> Response:
    state = _state_or_503(gw)
    if isinstance(state, JSONResponse):
        return state
    try:
        principal = credentials.principal_for(
            state.state.keys,
            api_key=request.headers.get("x-api-key"),
            authorization=request.headers.get("authorization"),
            jwt_config=gw.jwt,
            scope=f"predict:{model}",
            now=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            cache=gw.verified,
        )
        gw.limiter.check(principal.key_id or f"{principal.kind.value}:{principal.name}")
    except AuthError as err:
        return _problem(401, str(err), **{"WWW-Authenticate": 'Bearer realm="vigil"'})
    except PermissionDenied as err:
        return _problem(403, str(err))
    except credentials.RateLimited as err:
        return _problem(429, str(err), **{"Retry-After": str(err.retry_after_s)})
    live = state.models.get(model)
    if live is None:
        return _problem(404, f"Model '{model}' has no champion being served.")
    parsed = await _instances(gw, request)
    if isinstance(parsed, Response):
        return parsed
    errors = instances.validate(parsed, live.entry.champion.features)
    if errors:
        detail = [{"loc": list(e.loc), "msg": e.msg, "type": e.type} for e in errors]
        return JSONResponse({"detail": detail}, status_code=422)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    result = answering.answer(live, parsed, worker=gw.worker, ids=gw.ids, started=started, now=now)
    error = await _log(gw, model, result.log_lines)
    if error is not None:
        return _problem(503, "The prediction could not be logged; nothing was answered. Retry.")
    headers = {"x-model-version": ",".join(result.versions), "x-rows": str(len(parsed))}
    if not result.ok:
        return _problem(500, "The model failed to score this request; it was logged as an error.")
    return Response(result.body, media_type=JSON, headers=headers)


async def _log(gw: Gateway, model: str, data: bytes) -> BaseException | None:
    """Append the rows to the spool before answering: written, they survive a killed worker;
    with VIGIL_GATEWAY_FSYNC=request the answer also waits for their fsync (power loss)."""
    try:
        gw.spool.write(model, data)
    except OSError as err:
        log.error("spool write failed: %s", err)
        return err
    if not gw.fsync_each_request:
        return None
    return await gw.spool.durable(asyncio.get_running_loop())


async def _instances(gw: Gateway, request: Request) -> list[Any] | Response:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > gw.max_body:
        return _problem(
            413, f"The body is larger than {gw.max_body // 2**20} MB; send smaller batches."
        )
    body = await request.body()
    if len(body) > gw.max_body:
        return _problem(
            413, f"The body is larger than {gw.max_body // 2**20} MB; send smaller batches."
        )
    try:
        payload = json.loads(body)
    except ValueError:
        return _problem(400, "The body is not valid JSON.")
    rows = payload.get("instances") if isinstance(payload, dict) else None
    if not isinstance(rows, list) or not rows:
        return JSONResponse(
            {
                "detail": [
                    {
                        "loc": ["body", "instances"],
                        "msg": "must be a non-empty list of objects",
                        "type": "missing",
                    }
                ]
            },
            status_code=422,
        )
    if len(rows) > gw.max_batch:
        return _problem(413, f"{len(rows)} instances in one request; at most {gw.max_batch}.")
    return rows


def _openapi(app: FastAPI, gw: Gateway) -> dict[str, Any]:
    """The generated document plus one predict path per served model, with its real schema."""
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    doc.setdefault("components", {})["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "Bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    }
    state = gw.watcher.current
    for name, live in sorted((state.models if state else {}).items()):
        champion = live.entry.champion
        doc["paths"][f"/v1/models/{name}/predict"] = _model_path(name, champion, gw.max_batch)
    return doc


def _model_path(name: str, champion: snapshot.VersionEntry, max_batch: int) -> dict[str, Any]:
    request_schema = {
        "type": "object",
        "required": ["instances"],
        "properties": {
            "instances": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_batch,
                "items": instances.instance_schema(champion.features),
            }
        },
    }
    prediction = {
        "type": "object",
        "properties": {
            "prediction_id": {"type": "string"},
            "model_version": {"type": "string"},
            "prediction": {"type": ["number", "null"]},
            "predicted_label": {"type": ["string", "null"]},
        },
    }
    answer_schema = {
        "type": "object",
        "properties": {
            "model": {"type": "string"},
            "version": {"type": "string"},
            "predictions": {"type": "array", "items": prediction},
        },
    }
    codes = {"401": "no or invalid credentials", "403": f"the key lacks predict:{name}",
             "413": "body or batch too large", "422": "one message per bad field",
             "429": "rate limit", "503": "no state loaded, or logging failed"}  # fmt: skip
    return {
        "post": {
            "tags": ["predict"],
            "summary": f"Score instances with the champion of {name} (now {champion.version})",
            "security": [{"ApiKey": []}, {"Bearer": []}],
            "requestBody": {"required": True, "content": {JSON: {"schema": request_schema}}},
            "responses": {
                "200": {"description": "scores", "content": {JSON: {"schema": answer_schema}}},
                **{code: {"description": text} for code, text in codes.items()},
            },
        }
    }
