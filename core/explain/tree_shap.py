"""Exact interventional TreeSHAP over the trees read from the registered ONNX graph."""

from __future__ import annotations

import numpy as np
import onnx
import pandas as pd
import shap

from vigil.core.contract import FeatureSpec
from vigil.core.explain import graph, onnx_trees
from vigil.core.explain.attributions import (
    Attributions,
    FloatArray,
    Method,
    OutputSpace,
    Progress,
)
from vigil.core.registry import artifacts


class TreeShapExplainer:
    """shap's TreeExplainer on the ensemble, fed the matrix onnxruntime computes for it.

    Column j of that matrix adds to the feature it is computed from; the columns of one
    feature (one-hot, say) are summed into it, as shap's documentation advises.
    """

    method = Method.TREE_SHAP
    reason = ""

    def __init__(
        self, onnx_bytes: bytes, features: tuple[FeatureSpec, ...], background: pd.DataFrame
    ) -> None:
        model = onnx.load_from_string(onnx_bytes)
        self.ensemble = onnx_trees.read_tree_ensemble(model)
        self.features = tuple(f.name for f in features if f.model_input)
        self._specs = features
        self._to_features = graph.feature_map(model, self.ensemble.input_name, self.features)
        self._session = artifacts.open_session(
            graph.with_output(model, self.ensemble.input_name), "explainer"
        )
        self.output_space: OutputSpace = self.ensemble.output_space
        encoded_background = self.encode(background)
        self._explainer = shap.TreeExplainer(
            onnx_trees.to_shap_model(self.ensemble, encoded_background),
            data=encoded_background,
            feature_perturbation="interventional",
        )
        self.base_value = float(np.ravel(self._explainer.expected_value)[0])

    def encode(self, frame: pd.DataFrame) -> FloatArray:
        """The matrix the trees see, as onnxruntime computes it from the raw features."""
        feed = artifacts.build_feed(frame, self._specs)
        (matrix,) = self._session.run([self.ensemble.input_name], feed)
        encoded = np.asarray(matrix, dtype=self.ensemble.input_dtype).reshape(len(frame), -1)
        return np.asarray(encoded, dtype=np.float64)

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
        # shap's compiled evaluation of the same trees (raw margin, before any link);
        # onnx_trees.raw_output is the numpy twin the tests hold it to.
        outputs = np.asarray(self._explainer.model.predict(encoded, output="raw"), dtype=float)
        return Attributions(
            features=self.features,
            values=np.asarray(values, dtype=np.float64),
            base_value=self.base_value,
            outputs=outputs.reshape(len(frame)),
            output_space=self.output_space,
            method=self.method,
        )
