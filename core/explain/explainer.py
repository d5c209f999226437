"""SHAP explainers built from an ONNX artifact: TreeSHAP for tree ensembles, else permutation.

Attributions are always per original input feature, in the space the model's score is
formed in: log-odds for a logistic-link tree ensemble (GradientBoosting), the score itself
otherwise. Interventional SHAP against a background sample of the reference data is used
by both paths, so the two answer the same question: how far does this feature's value move
the output away from the average over the reference population.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import shap

from vigil.core.contract import FeatureSpec
from vigil.core.explain import onnx_trees
from vigil.core.explain.onnx_trees import UnsupportedTreeModel
from vigil.core.registry import artifacts

Progress = Callable[[int, int], None]  # (rows done, rows total)
DEFAULT_TIME_BUDGET_S = 20.0


@dataclass(frozen=True, eq=False)
class Attributions:
    """SHAP values for some rows: values[i, j] is feature j's share of row i's output."""

    features: tuple[str, ...]
    values: np.ndarray  # [rows, features]
    base_value: float  # expected output over the background
    outputs: np.ndarray  # [rows] the model output being explained
    output_space: str  # "log_odds" | "raw" | "probability"
    method: str  # "tree_shap" | "permutation"
    complete: bool = True  # False when a time budget stopped the fallback early


def sigmoid(x: np.ndarray | float) -> np.ndarray | float:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


class TreeShapExplainer:
    """Exact interventional TreeSHAP over the trees read from the ONNX graph."""

    method = "tree_shap"

    def __init__(
        self, onnx_bytes: bytes, features: tuple[FeatureSpec, ...], background: pd.DataFrame
    ) -> None:
        model = onnx.load_from_string(onnx_bytes)
        self.ensemble = onnx_trees.read_tree_ensemble(model)
        sources = onnx_trees.column_sources(model, self.ensemble.input_name)
        self.features = tuple(f.name for f in features if f.model_input)
        self._specs = features
        unknown = sorted(set(sources) - set(self.features))
        if unknown:
            raise UnsupportedTreeModel(f"Tree inputs come from undeclared inputs {unknown}.")
        # Column j of the encoded matrix adds to feature sources[j]; one-hot columns of one
        # feature are summed into it (for ordinal encoding the map is the identity).
        self._to_features = np.zeros((len(sources), len(self.features)))
        for column, name in enumerate(sources):
            self._to_features[column, self.features.index(name)] = 1.0
        self._session = artifacts.open_session(
            onnx_trees.with_tree_input_output(model, self.ensemble.input_name), "explainer"
        )
        self.output_space = self.ensemble.output_space
        encoded_background = self.encode(background)
        self._explainer = shap.TreeExplainer(
            onnx_trees.to_shap_model(self.ensemble, encoded_background),
            data=encoded_background,
            feature_perturbation="interventional",
        )
        self.base_value = float(np.ravel(self._explainer.expected_value)[0])

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The matrix the trees see, as onnxruntime computes it from the raw features."""
        feed = artifacts.build_feed(frame, self._specs)
        (matrix,) = self._session.run([self.ensemble.input_name], feed)
        return np.asarray(matrix, dtype=self.ensemble.input_dtype).reshape(len(frame), -1)

    def explain(
        self,
        frame: pd.DataFrame,
        *,
        progress: Progress | None = None,
        time_budget_s: float | None = None,
    ) -> Attributions:
        encoded = self.encode(frame)
        values = np.asarray(self._explainer.shap_values(encoded, check_additivity=False))
        values = values.reshape(len(frame), -1) @ self._to_features
        if progress is not None:
            progress(len(frame), len(frame))
        return Attributions(
            features=self.features,
            values=values,
            base_value=self.base_value,
            # shap's compiled evaluation of the same trees (raw margin, before any link);
            # onnx_trees.raw_output is the numpy twin the tests hold it to.
            outputs=np.asarray(
                self._explainer.model.predict(encoded, output="raw"), dtype=float
            ).reshape(len(frame)),
            output_space=self.output_space,
            method=self.method,
        )


class PermutationExplainer:
    """Model-agnostic fallback: shap's permutation explainer over onnxruntime's score.

    Slower (hundreds of model calls per row), so rows are explained one at a time, with a
    progress callback and a time budget after which the rows done so far are returned.
    """

    method = "permutation"

    def __init__(
        self,
        session: ort.InferenceSession,
        features: tuple[FeatureSpec, ...],
        background: pd.DataFrame,
        *,
        reason: str = "",
    ) -> None:
        self._session = session
        self._specs = features
        self.features = tuple(f.name for f in features if f.model_input)
        self.reason = reason
        self.output_space = (
            "probability" if "probabilities" in {o.name for o in session.get_outputs()} else "raw"
        )
        # shap's maskers need numbers: text features travel as codes into a codebook that
        # grows with every value seen, and are decoded to text before onnxruntime.
        self._lock = threading.Lock()
        self._codebook: dict[str, list[str]] = {
            f.name: [] for f in features if f.model_input and f.type == "string"
        }
        background_matrix = self._to_matrix(background)
        masker = shap.maskers.Independent(background_matrix, max_samples=len(background))
        self._explainer = shap.PermutationExplainer(self._predict, masker, seed=0)
        self.base_value = float(np.mean(self._predict(background_matrix)))

    def _to_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        columns = []
        for name in self.features:
            if name in self._codebook:
                codes = self._codebook[name]
                text = frame[name].astype(str).tolist()
                for value in text:
                    if value not in codes:
                        codes.append(value)
                columns.append(np.array([codes.index(v) for v in text], dtype=float))
            else:
                columns.append(frame[name].to_numpy(dtype=float))
        return np.column_stack(columns)

    def _predict(self, rows: np.ndarray) -> np.ndarray:
        feed: dict[str, np.ndarray] = {}
        for j, name in enumerate(self.features):
            column = rows[:, j]
            if name in self._codebook:
                codes = np.asarray(self._codebook[name], dtype=object)
                feed[name] = codes[column.astype(int)].reshape(-1, 1)
            else:
                feed[name] = column.astype(np.float32).reshape(-1, 1)
        return _score_feed(self._session, feed, len(rows))

    def explain(
        self,
        frame: pd.DataFrame,
        *,
        progress: Progress | None = None,
        time_budget_s: float | None = DEFAULT_TIME_BUDGET_S,
    ) -> Attributions:
        with self._lock:  # the codebook grows while encoding; pages share explainers
            rows = self._to_matrix(frame)
        started = time.monotonic()
        values, outputs = [], []
        for i in range(len(rows)):
            result = self._explainer(
                rows[i : i + 1], max_evals=max(500, 2 * len(self.features) + 1), silent=True
            )
            values.append(np.asarray(result.values).reshape(-1))
            outputs.append(float(self._predict(rows[i : i + 1])[0]))
            if progress is not None:
                progress(i + 1, len(rows))
            if time_budget_s is not None and time.monotonic() - started > time_budget_s:
                break
        matrix = np.vstack(values) if values else np.zeros((0, len(self.features)))
        return Attributions(
            features=self.features,
            values=matrix,
            base_value=self.base_value,
            outputs=np.asarray(outputs),
            output_space=self.output_space,
            method=self.method,
            complete=len(values) == len(rows),
        )


def _score_feed(session: ort.InferenceSession, feed: dict[str, np.ndarray], n: int) -> np.ndarray:
    """core.artifacts.score for a ready feed (skips a DataFrame per shap call)."""
    names = [o.name for o in session.get_outputs()]
    outputs = session.run(None, feed)
    if "probabilities" in names:
        return np.asarray(outputs[names.index("probabilities")])[:, -1].astype(float)
    for value in outputs:
        array = np.asarray(value)
        if array.dtype.kind == "f":
            return array.reshape(n, -1)[:, 0].astype(float)
    raise UnsupportedTreeModel("The model has no numeric output to explain.")


Explainer = TreeShapExplainer | PermutationExplainer


def build_explainer(
    onnx_bytes: bytes,
    session: ort.InferenceSession,
    features: tuple[FeatureSpec, ...],
    background: pd.DataFrame,
) -> Explainer:
    """TreeSHAP when the graph is one readable tree ensemble over the features, else the
    permutation fallback (the reason is kept on the explainer for the page to show)."""
    try:
        return TreeShapExplainer(onnx_bytes, features, background)
    except UnsupportedTreeModel as err:
        return PermutationExplainer(session, features, background, reason=str(err))
