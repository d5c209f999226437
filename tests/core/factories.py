"""Small, fast models and files for core tests (the demo is used where realism matters)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from vigil.core.contract import ModelMetadata, parse_metadata
from vigil.core.govern import audit, auth
from vigil.core.registry.versions import ModelVersion, register_version
from vigil.core.store.connection import Store

FEATURES = [
    {"name": "income", "type": "number", "categorical": False},
    {"name": "tenure", "type": "integer", "categorical": False},
    {"name": "region", "type": "string", "categorical": True, "sensitive": True},
]


def metadata(version: str = "1", **overrides: Any) -> dict[str, Any]:
    raw = {
        "model_name": "toy",
        "model_version": version,
        "task": "binary_classification",
        "training_date": "2026-01-15",
        "owner": "Test Team",
        "training_data_version": "toy@1",
        "code_commit": "abc1234",
        "hyperparameters": {"C": 1.0},
        "validation_metrics": {"holdout": {"roc_auc": 0.8}},
        "features": FEATURES,
    }
    raw.update(overrides)
    return raw


def reference_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.normal(50, 10, n).round(2),
            "tenure": rng.integers(0, 20, n),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )
    frame["label"] = (frame["income"] + rng.normal(0, 5, n) > 50).astype(float)
    return frame


def toy_onnx(frame: pd.DataFrame) -> bytes:
    encode = ColumnTransformer(
        [("region", OneHotEncoder(handle_unknown="ignore"), ["region"])],
        remainder="passthrough",
    )
    pipe = Pipeline([("encode", encode), ("logit", LogisticRegression(max_iter=500))])
    pipe.fit(frame[["region", "income", "tenure"]], frame["label"])
    inputs = [
        ("region", StringTensorType([None, 1])),
        ("income", FloatTensorType([None, 1])),
        ("tenure", FloatTensorType([None, 1])),
    ]
    model = convert_sklearn(
        pipe,
        initial_types=inputs,
        options={id(pipe): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return model.SerializeToString()


def write_inputs(folder: Path, version: str = "1", **overrides: Any) -> tuple[Path, Path, Path]:
    """metadata JSON, ONNX artifact and reference Parquet for the toy model."""
    frame = reference_frame()
    meta_path = folder / f"toy-{version}.json"
    meta_path.write_text(json.dumps(metadata(version, **overrides)))
    artifact = folder / f"toy-{version}.onnx"
    artifact.write_bytes(toy_onnx(frame))
    reference = folder / f"toy-ref-{version}.parquet"
    frame.to_parquet(reference, index=False)
    return meta_path, artifact, reference


def register_toy(store: Store, folder: Path, version: str = "1", **overrides: Any) -> ModelVersion:
    meta_path, artifact, reference = write_inputs(folder, version, **overrides)
    meta: ModelMetadata = parse_metadata(json.loads(meta_path.read_text()))
    return register_version(
        store,
        meta,
        artifact=artifact,
        reference=reference,
        registered_by="dana",
        registered_by_role="analyst",
    )


def log_rows(n: int = 5, version: str = "1", start: str = "2026-03-01T10:00:00Z") -> pd.DataFrame:
    """Valid log rows for the toy model, as strings (as a CSV producer would write them)."""
    base = pd.Timestamp(start)
    return pd.DataFrame(
        {
            "prediction_id": [f"p{i}" for i in range(1, n + 1)],
            "model_name": "toy",
            "model_version": version,
            "timestamp": [(base + pd.Timedelta(minutes=i)).isoformat() for i in range(n)],
            "income": [str(40.0 + i) for i in range(n)],
            "tenure": [str(i) for i in range(n)],
            "region": [["north", "south", "east"][i % 3] for i in range(n)],
            "prediction": [str((i % 8) / 8) for i in range(n)],
            "latency_ms": ["12.5"] * n,
        }
    )


INGESTER = "ingester"
INGESTER_PASSWORD = "ingest-password-1"


def add_ingester(store: Store) -> dict[str, str]:
    """An analyst the command line can ingest as (audited like any user); returns the
    environment that names them, for `vigil ingest` in this process or a child."""
    with store.transaction() as con:
        auth.add_user(con, INGESTER, "analyst", INGESTER_PASSWORD)
        audit.append(
            con,
            actor="vigil",
            actor_role="system",
            action="user_add",
            rationale="Test analyst who ingests through the command line.",
            evidence={"user": INGESTER, "role": "analyst"},
        )
    return {"VIGIL_USER": INGESTER, "VIGIL_PASSWORD": INGESTER_PASSWORD}
