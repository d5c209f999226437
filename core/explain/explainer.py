"""Which explainer a registered ONNX artifact gets: exact when Vigil can read the model's
arithmetic from the graph, shap's model-agnostic permutation explainer otherwise."""

from __future__ import annotations

import onnxruntime as ort
import pandas as pd

from vigil.core.contract import FeatureSpec
from vigil.core.explain.attributions import Explainer
from vigil.core.explain.fallback import PermutationExplainer
from vigil.core.explain.linear_shap import LinearShapExplainer
from vigil.core.explain.tracing import UnsupportedGraph
from vigil.core.explain.tree_shap import TreeShapExplainer


def build_explainer(
    onnx_bytes: bytes,
    session: ort.InferenceSession,
    features: tuple[FeatureSpec, ...],
    background: pd.DataFrame,
) -> Explainer:
    """TreeSHAP when the graph is one readable tree ensemble over the features, linear SHAP
    when it is one linear model, else the permutation fallback (with the reasons the exact
    methods gave up, kept on the explainer for the page to show)."""
    reasons: list[str] = []
    for exact in (TreeShapExplainer, LinearShapExplainer):
        try:
            return exact(onnx_bytes, features, background)
        except UnsupportedGraph as err:
            reasons.append(str(err))
    return PermutationExplainer(session, features, background, reason=" ".join(reasons))
