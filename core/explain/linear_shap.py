"""Exact linear SHAP for a LinearClassifier or LinearRegressor read from the ONNX graph.

For a model f(x) = w·z(x) + b over the encoded columns z, interventional SHAP against a
background sample has a closed form: column j contributes w_j (z_j − mean_j), mean over the
background; a feature's contribution is the sum over its columns. This equals
shap.LinearExplainer (interventional) on the original model, without its sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import pandas as pd

from vigil.core.contract import FeatureSpec
from vigil.core.explain import graph
from vigil.core.explain.attributions import (
    Attributions,
    FloatArray,
    Method,
    OutputSpace,
    Progress,
)
from vigil.core.explain.tracing import UnsupportedGraph, attribute, int_attribute
from vigil.core.registry import artifacts

LINEAR_OPS = ("LinearClassifier", "LinearRegressor")


class UnsupportedLinearModel(UnsupportedGraph):
    """The graph has no single linear score Vigil can read."""


@dataclass(frozen=True, eq=False)
class LinearModel:
    coefficients: FloatArray  # [encoded columns]
    intercept: float
    input_name: str
    output_space: OutputSpace


def read_linear(model: onnx.ModelProto) -> LinearModel:
    """The one linear node's score for the positive class (or the regression target)."""
    nodes = [n for n in model.graph.node if n.op_type in LINEAR_OPS and n.domain == "ai.onnx.ml"]
    if len(nodes) != 1:
        raise UnsupportedLinearModel(
            f"The graph has {len(nodes)} linear-model nodes; linear SHAP needs exactly one."
        )
    node = nodes[0]
    coefficients = np.asarray(attribute(node, "coefficients", []), dtype=np.float64)
    intercepts = np.asarray(attribute(node, "intercepts", []), dtype=np.float64)
    raw_transform = attribute(node, "post_transform", b"NONE")
    post_transform = raw_transform.decode() if isinstance(raw_transform, bytes) else "NONE"
    if node.op_type == "LinearRegressor":
        if int_attribute(node, "targets", 1) != 1 or post_transform != "NONE":
            raise UnsupportedLinearModel("Only single-target linear regressors without a link.")
        rows, space = coefficients.reshape(1, -1), OutputSpace.RAW
    else:
        labels = attribute(node, "classlabels_ints", None) or attribute(
            node, "classlabels_strings", []
        )
        n_classes = np.asarray(labels).size
        rows = coefficients.reshape(max(1, len(intercepts)), -1)
        if n_classes != 2 or len(rows) > 2:
            raise UnsupportedLinearModel(f"A {n_classes}-class linear model has no single score.")
        spaces = {"LOGISTIC": OutputSpace.LOG_ODDS, "NONE": OutputSpace.RAW}
        if post_transform not in spaces:
            raise UnsupportedLinearModel(f"Linear post_transform {post_transform} unsupported.")
        space = spaces[post_transform]
    # Binary models list the positive class last (its row, its intercept).
    return LinearModel(
        coefficients=rows[-1],
        intercept=float(intercepts[-1]) if len(intercepts) else 0.0,
        input_name=node.input[0],
        output_space=space,
    )


class LinearShapExplainer:
    """Closed-form interventional SHAP on the encoded matrix onnxruntime computes."""

    method = Method.LINEAR_SHAP
    reason = ""

    def __init__(
        self, onnx_bytes: bytes, features: tuple[FeatureSpec, ...], background: pd.DataFrame
    ) -> None:
        model = onnx.load_from_string(onnx_bytes)
        self.linear = read_linear(model)
        self.features = tuple(f.name for f in features if f.model_input)
        self._specs = features
        self._to_features = graph.feature_map(model, self.linear.input_name, self.features)
        if len(self._to_features) != len(self.linear.coefficients):
            raise UnsupportedLinearModel("The coefficients do not match the encoded columns.")
        self._session = artifacts.open_session(
            graph.with_output(model, self.linear.input_name), "explainer"
        )
        self.output_space: OutputSpace = self.linear.output_space
        self._mean = self.encode(background).mean(axis=0)
        self.base_value = float(self._mean @ self.linear.coefficients + self.linear.intercept)

    def encode(self, frame: pd.DataFrame) -> FloatArray:
        feed = artifacts.build_feed(frame, self._specs)
        (matrix,) = self._session.run([self.linear.input_name], feed)
        return np.asarray(matrix, dtype=np.float64).reshape(len(frame), -1)

    def explain(
        self,
        frame: pd.DataFrame,
        *,
        progress: Progress | None = None,
        time_budget_s: float | None = None,
    ) -> Attributions:
        encoded = self.encode(frame)
        columns = (encoded - self._mean) * self.linear.coefficients
        if progress is not None:
            progress(len(frame), len(frame))
        return Attributions(
            features=self.features,
            values=np.asarray(columns @ self._to_features, dtype=np.float64),
            base_value=self.base_value,
            outputs=np.asarray(encoded @ self.linear.coefficients + self.linear.intercept),
            output_space=self.output_space,
            method=self.method,
        )
