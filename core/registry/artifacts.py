"""Model artifacts: copied into the store, fingerprinted with SHA-256, checked on every load."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd

from vigil.core.contract import FeatureSpec
from vigil.core.errors import ArtifactError


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def copy_into_store(
    source: Path, artifacts_dir: Path, model: str, version: str
) -> tuple[Path, str]:
    """Copy an ONNX file under the store; returns the stored path (relative) and its hash."""
    source = Path(source)
    if not source.is_file():
        raise ArtifactError(f"{source}: artifact file not found")
    target_dir = artifacts_dir / model / version
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / "model.onnx"
    shutil.copyfile(source, target)
    return target.relative_to(artifacts_dir.parent), sha256_file(target)


def verified_bytes(path: Path, expected_sha256: str) -> bytes:
    """The artifact's bytes, refused if they no longer match the hash recorded at registration."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as err:
        raise ArtifactError(f"{path}: the model artifact is missing from the store") from err
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ArtifactError(
            f"{path}: SHA-256 is {actual[:12]}…, but {expected_sha256[:12]}… was recorded at "
            "registration. The artifact was changed after registration; it will not be run."
        )
    return data


def open_session(data: bytes, where: str) -> ort.InferenceSession:
    try:
        return ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own untyped errors
        raise ArtifactError(f"{where}: onnxruntime cannot load this model: {err}") from err


def check_inputs(
    session: ort.InferenceSession, features: tuple[FeatureSpec, ...], where: str
) -> None:
    """The ONNX graph must take exactly one input per declared model-input feature."""
    graph_inputs = {i.name for i in session.get_inputs()}
    declared = {f.name for f in features if f.model_input}
    if graph_inputs != declared:
        missing = sorted(declared - graph_inputs)
        extra = sorted(graph_inputs - declared)
        raise ArtifactError(
            f"{where}: the ONNX inputs do not match the declared features "
            f"(declared but not in the graph: {missing or 'none'}; "
            f"in the graph but not declared: {extra or 'none'})"
        )


def build_feed(frame: pd.DataFrame, features: tuple[FeatureSpec, ...]) -> dict[str, np.ndarray]:
    """One [n, 1] tensor per model input: text as strings, everything else as float32."""
    feed: dict[str, np.ndarray] = {}
    for spec in features:
        if not spec.model_input:
            continue
        column = frame[spec.name]
        if spec.type == "string":
            feed[spec.name] = column.astype(str).to_numpy(dtype=object).reshape(-1, 1)
        else:
            feed[spec.name] = column.astype("float32").to_numpy().reshape(-1, 1)
    return feed


def score(
    session: ort.InferenceSession, frame: pd.DataFrame, features: tuple[FeatureSpec, ...]
) -> np.ndarray:
    """The model's score per row: the positive-class probability, or the regression value."""
    outputs = session.run(None, build_feed(frame, features))
    names = [o.name for o in session.get_outputs()]
    if "probabilities" in names:
        probabilities = np.asarray(outputs[names.index("probabilities")])
        return probabilities[:, -1].astype(float)
    for value in outputs:
        array = np.asarray(value)
        if array.dtype.kind == "f":
            return array.reshape(len(frame), -1)[:, 0].astype(float)
    raise ArtifactError("The model has no numeric output to use as its score")
