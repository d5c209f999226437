"""Model-agnostic fallback: shap's permutation explainer over onnxruntime's score.

Used for graphs that are neither one readable tree ensemble nor one linear model over the
features. Slower (hundreds of model calls per row), so rows are explained one at a time,
with a progress callback and a time budget after which the rows done so far are returned.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import onnxruntime as ort
import pandas as pd
import shap

from vigil.core.contract import FeatureSpec
from vigil.core.explain.attributions import (
    Attributions,
    FloatArray,
    Method,
    OutputSpace,
    Progress,
)
from vigil.core.explain.tracing import UnsupportedGraph

DEFAULT_TIME_BUDGET_S = 20.0


def score_outputs(session: ort.InferenceSession, feed: dict[str, np.ndarray], n: int) -> FloatArray:
    """The positive-class probability, or the regression value, as registry scoring reads it;
    a ZipMap output (a list of {class: probability}) gives its last class."""
    names = [o.name for o in session.get_outputs()]
    outputs = session.run(None, feed)
    if "probabilities" in names:
        return np.asarray(outputs[names.index("probabilities")])[:, -1].astype(np.float64)
    for value in outputs:
        if isinstance(value, list) and value and isinstance(value[0], dict):
            last = list(value[0])[-1]
            return np.asarray([row[last] for row in value], dtype=np.float64)
    for value in outputs:
        array = np.asarray(value)
        if array.dtype.kind == "f":
            return array.reshape(n, -1)[:, 0].astype(np.float64)
    raise UnsupportedGraph("The model has no numeric output to explain.")


class PermutationExplainer:
    """shap.PermutationExplainer with an independent masker over a background sample."""

    method = Method.PERMUTATION

    def __init__(
        self,
        session: ort.InferenceSession,
        features: tuple[FeatureSpec, ...],
        background: pd.DataFrame,
        *,
        reason: str = "",
    ) -> None:
        self._session = session
        self.features = tuple(f.name for f in features if f.model_input)
        self.reason = reason
        names = {o.name for o in session.get_outputs()}
        classifier = "probabilities" in names or any(
            o.type.startswith("seq(map") for o in session.get_outputs()
        )
        self.output_space = OutputSpace.PROBABILITY if classifier else OutputSpace.RAW
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

    def _to_matrix(self, frame: pd.DataFrame) -> FloatArray:
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

    def _predict(self, rows: FloatArray) -> FloatArray:
        feed: dict[str, np.ndarray] = {}
        for j, name in enumerate(self.features):
            column = rows[:, j]
            if name in self._codebook:
                codes = np.asarray(self._codebook[name], dtype=object)
                feed[name] = codes[column.astype(int)].reshape(-1, 1)
            else:
                feed[name] = column.astype(np.float32).reshape(-1, 1)
        return score_outputs(self._session, feed, len(rows))

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
        values: list[FloatArray] = []
        outputs: list[float] = []
        for i in range(len(rows)):
            result = self._explainer(
                rows[i : i + 1], max_evals=max(500, 2 * len(self.features) + 1), silent=True
            )
            values.append(np.asarray(result.values, dtype=np.float64).reshape(-1))
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
            outputs=np.asarray(outputs, dtype=np.float64),
            output_space=self.output_space,
            method=self.method,
            complete=len(values) == len(rows),
        )
