"""The comparison point for bench/gateway.py: a plain FastAPI endpoint as a tutorial writes it.

A pydantic body, onnxruntime on a model file loaded at start, and one log row per prediction
appended to a JSON Lines file inside the request (open, write, close: synchronous). Swapping
the model means restarting the process. Started by the benchmark as
`python bench/gateway_baseline.py MODEL.onnx LOG.jsonl PORT VERSION FEATURES_JSON`.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid
from typing import Any

import numpy as np
import onnxruntime as ort
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel


class PredictRequest(BaseModel):
    instances: list[dict[str, Any]]


def build(model_path: str, log_path: str, version: str, features: list[dict[str, Any]]) -> FastAPI:
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    app = FastAPI()

    @app.post("/v1/models/{model}/predict")
    def predict(model: str, request: PredictRequest) -> dict[str, Any]:
        feed = {}
        for f in features:
            if not f.get("model_input", True):
                continue
            values = [row.get(f["name"]) for row in request.instances]
            if f["type"] == "string":
                feed[f["name"]] = np.array([str(v) for v in values], dtype=object).reshape(-1, 1)
            else:
                feed[f["name"]] = np.array(values, dtype=np.float32).reshape(-1, 1)
        probabilities = session.run(["probabilities"], feed)[0][:, -1]
        predictions = []
        now = dt.datetime.now(dt.UTC).isoformat()
        for row, score in zip(request.instances, probabilities, strict=True):
            pid = uuid.uuid4().hex
            with open(log_path, "a") as log:  # the log row, written before answering
                log.write(json.dumps({**row, "prediction_id": pid, "model_name": model,
                                      "model_version": version, "timestamp": now,
                                      "prediction": float(score)}) + "\n")  # fmt: skip
            predictions.append({"prediction_id": pid, "prediction": float(score),
                                "predicted_label": "1" if score >= 0.5 else "0"})  # fmt: skip
        return {"model": model, "version": version, "predictions": predictions}

    return app


if __name__ == "__main__":
    model_path, log_path, port, version, features = sys.argv[1:6]
    app = build(model_path, log_path, version, json.loads(features))
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False)
