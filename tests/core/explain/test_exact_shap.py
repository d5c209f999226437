"""Exact SHAP through standard converted pipelines: every tree family Vigil reads, and
linear models, agree with shap on the original (unconverted) model to 1e-6.

The pipeline is the shape most credit models have: a ColumnTransformer with a OneHotEncoder
in front of the model. shap explains the encoded columns; the columns of one feature are
summed back into it, grouped by scikit-learn's own output names (not by Vigil's tracing).

Spaces: shap explains gradient boosting, histogram gradient boosting, LightGBM and XGBoost
classifiers in log-odds, and random forest and extra trees classifiers in probability
(they average the trees' class probabilities, so their score has no logit to add up in);
regressors in their raw output. Vigil reports the same spaces.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import shap

from tests.core.explain.pipelines import FEATURES, SPECS, Converted, convert
from vigil.core.explain import onnx_trees
from vigil.core.explain.attributions import Method, OutputSpace
from vigil.core.explain.explainer import build_explainer
from vigil.core.registry.artifacts import build_feed, open_session

TREE_SPACES = {
    "gradient_boosting_classifier": OutputSpace.LOG_ODDS,
    "gradient_boosting_regressor": OutputSpace.RAW,
    "random_forest_classifier": OutputSpace.PROBABILITY,
    "random_forest_regressor": OutputSpace.RAW,
    "extra_trees_classifier": OutputSpace.PROBABILITY,
    "extra_trees_regressor": OutputSpace.RAW,
    "hist_gradient_boosting_classifier": OutputSpace.LOG_ODDS,
    "hist_gradient_boosting_regressor": OutputSpace.RAW,
    "lightgbm_classifier": OutputSpace.LOG_ODDS,
    "lightgbm_regressor": OutputSpace.RAW,
    "xgboost_classifier": OutputSpace.LOG_ODDS,
    "xgboost_regressor": OutputSpace.RAW,
}


def _grouping(converted: Converted) -> np.ndarray:
    """[encoded columns, features]: 1 where scikit-learn names the column after the feature."""
    owners = converted.encoded_owner()
    return np.array([[1.0 if owner == f else 0.0 for f in FEATURES] for owner in owners])


def _served(converted: Converted, frame) -> np.ndarray:
    """The served artifact's score: positive-class probability or regression value."""
    session = ort.InferenceSession(converted.onnx_bytes, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    outputs = session.run(None, build_feed(frame, SPECS))
    if "probabilities" in names:
        return np.asarray(outputs[names.index("probabilities")])[:, -1]
    return np.asarray(outputs[0]).ravel()


def _explain(converted: Converted, background, rows):
    data = converted.onnx_bytes
    explainer = build_explainer(data, open_session(data, converted.name), SPECS, background)
    return explainer, explainer.explain(rows)


@pytest.mark.parametrize("name", list(TREE_SPACES))
def test_tree_ensembles_agree_with_shap_tree_explainer(name: str) -> None:
    converted = convert(name)
    background = converted.data[FEATURES].sample(100, random_state=1)
    rows = converted.data[FEATURES].iloc[:150]  # includes rows with a missing credit amount
    explainer, ours = _explain(converted, background, rows)
    assert explainer.method == Method.TREE_SHAP, explainer.reason
    assert ours.output_space == TREE_SPACES[name]
    reference = shap.TreeExplainer(
        converted.pipeline["model"],
        data=converted.encoded(background),
        feature_perturbation="interventional",
    )
    expected = np.asarray(reference.shap_values(converted.encoded(rows)))
    if expected.ndim == 3:  # per class (forests): the positive class
        expected = expected[..., 1]
    assert ours.features == tuple(FEATURES)
    np.testing.assert_allclose(ours.values, expected @ _grouping(converted), atol=1e-6)
    assert ours.base_value == pytest.approx(float(np.ravel(reference.expected_value)[-1]), abs=1e-6)
    # Base value + contributions = the model's output, in that space.
    np.testing.assert_allclose(ours.values.sum(axis=1) + ours.base_value, ours.outputs, atol=1e-6)
    np.testing.assert_allclose(ours.outputs, converted.raw(rows), rtol=1e-6, atol=1e-6)
    # ... and, through the link, the score the artifact serves.
    link = ours.outputs
    if ours.output_space == OutputSpace.LOG_ODDS:
        link = 1 / (1 + np.exp(-ours.outputs))
    np.testing.assert_allclose(link, _served(converted, rows), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["logistic_regression", "linear_regression"])
def test_linear_models_agree_with_shap_linear_explainer(name: str) -> None:
    converted = convert(name, scale=True)
    background = converted.data[FEATURES].sample(100, random_state=1)
    rows = converted.data[FEATURES].iloc[:150]
    explainer, ours = _explain(converted, background, rows)
    assert explainer.method == Method.LINEAR_SHAP, explainer.reason
    space = OutputSpace.LOG_ODDS if name == "logistic_regression" else OutputSpace.RAW
    assert ours.output_space == space
    reference = shap.LinearExplainer(
        converted.pipeline["model"],
        shap.maskers.Independent(converted.encoded(background), max_samples=1000),
    )  # interventional: the independent masker over the same background
    expected = np.asarray(reference.shap_values(converted.encoded(rows)))
    np.testing.assert_allclose(ours.values, expected @ _grouping(converted), atol=1e-6)
    assert ours.base_value == pytest.approx(float(np.ravel(reference.expected_value)[0]), abs=1e-6)
    np.testing.assert_allclose(ours.values.sum(axis=1) + ours.base_value, ours.outputs, atol=1e-9)
    np.testing.assert_allclose(ours.outputs, converted.raw(rows), atol=1e-6)


def test_a_zipmap_classifier_is_still_explained_exactly() -> None:
    """skl2onnx's default output (a ZipMap of class probabilities) is after the trees."""
    plain, zipped = (
        convert("gradient_boosting_classifier"),
        convert("gradient_boosting_classifier", zipmap=True),
    )
    assert "ZipMap" in {n.op_type for n in onnx.load_from_string(zipped.onnx_bytes).graph.node}
    background = zipped.data[FEATURES].iloc[:50]
    rows = zipped.data[FEATURES].iloc[50:80]
    explainer, ours = _explain(zipped, background, rows)
    assert explainer.method == Method.TREE_SHAP
    _, theirs = _explain(plain, background, rows)
    np.testing.assert_allclose(ours.values, theirs.values, atol=1e-12)


def test_an_ensemble_reads_the_same_trees_the_library_trained() -> None:
    """Per tree count and base value, as a sanity check beside the SHAP comparison."""
    converted = convert("xgboost_classifier")
    ensemble = onnx_trees.read_tree_ensemble(onnx.load_from_string(converted.onnx_bytes))
    booster = converted.pipeline["model"].get_booster()
    assert len(ensemble.trees) == booster.num_boosted_rounds()
    assert ensemble.kind == onnx_trees.ModelKind.CLASSIFIER
