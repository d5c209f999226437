"""The demo's gradient boosting read from its ONNX artifact: TreeSHAP equal to shap on the
scikit-learn model (interventional and path-dependent), additive in log-odds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap

from vigil.core.contract import FeatureSpec
from vigil.core.demo.model import (
    FEATURE_SCHEMA,
    FEATURES,
    TARGET,
    load_dataset,
    train_version,
)
from vigil.core.explain.explainer import build_explainer
from vigil.core.explain.tree_shap import TreeShapExplainer
from vigil.core.registry.artifacts import open_session

SPECS = tuple(FeatureSpec(**f) for f in FEATURE_SCHEMA)
MODEL = "credit-risk"


@pytest.fixture(scope="module")
def trained():
    return train_version("1.0")


@pytest.fixture(scope="module")
def background(trained) -> pd.DataFrame:
    return trained.reference[FEATURES].sample(100, random_state=3)


@pytest.fixture(scope="module")
def tree_explainer(trained, background) -> TreeShapExplainer:
    session = open_session(trained.onnx_bytes, "test")
    explainer = build_explainer(trained.onnx_bytes, session, SPECS, background)
    assert isinstance(explainer, TreeShapExplainer)
    return explainer


def test_tree_shap_from_onnx_equals_shap_on_the_sklearn_model(
    trained, background, tree_explainer
) -> None:
    rows = load_dataset()[FEATURES].iloc[:200]
    ours = tree_explainer.explain(rows)
    encode, trees = trained.pipeline["encode"], trained.pipeline["trees"]
    reference = shap.TreeExplainer(
        trees, data=encode.transform(background), feature_perturbation="interventional"
    )
    expected = reference.shap_values(encode.transform(rows))
    assert ours.features == tuple(FEATURES)
    np.testing.assert_allclose(ours.values, expected, atol=1e-6)
    assert ours.base_value == pytest.approx(float(np.ravel(reference.expected_value)[0]), abs=1e-6)


def test_path_dependent_tree_shap_with_training_cover_equals_sklearn(trained) -> None:
    """Cover derived from the training data reproduces sklearn's node sample weights."""
    from vigil.core.explain import onnx_trees

    ensemble = onnx_trees.read_tree_ensemble(
        __import__("onnx").load_from_string(trained.onnx_bytes)
    )
    encode, trees = trained.pipeline["encode"], trained.pipeline["trees"]
    train_matrix = encode.transform(trained.reference[FEATURES])
    ours = shap.TreeExplainer(
        onnx_trees.to_shap_model(ensemble, train_matrix), feature_perturbation="tree_path_dependent"
    )
    theirs = shap.TreeExplainer(trees, feature_perturbation="tree_path_dependent")
    rows = encode.transform(load_dataset()[FEATURES].iloc[:100])
    np.testing.assert_allclose(ours.shap_values(rows), theirs.shap_values(rows), atol=1e-6)


def test_attributions_add_up_to_the_log_odds_and_the_served_probability(
    trained, tree_explainer
) -> None:
    rows = load_dataset()[FEATURES].iloc[300:400]
    result = tree_explainer.explain(rows)
    assert result.output_space == "log_odds"
    np.testing.assert_allclose(
        result.values.sum(axis=1) + result.base_value, result.outputs, atol=1e-6
    )
    np.testing.assert_allclose(result.outputs, trained.pipeline.decision_function(rows), atol=1e-6)
    probability = 1 / (1 + np.exp(-result.outputs))
    np.testing.assert_allclose(probability, trained.pipeline.predict_proba(rows)[:, 1], atol=1e-6)


def test_a_random_forest_is_explained_by_tree_shap_in_probability() -> None:
    """Two weight columns, no link: the positive class's column, equal to shap on sklearn."""
    from sklearn.ensemble import RandomForestClassifier

    from vigil.core.demo.model import build_pipeline, to_onnx

    data = load_dataset()
    pipeline = build_pipeline()
    pipeline.steps[-1] = (
        "trees",
        RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0),
    )
    pipeline.fit(data[FEATURES], data[TARGET])
    onnx_bytes = to_onnx(pipeline)
    background = data[FEATURES].iloc[:80]
    explainer = build_explainer(onnx_bytes, open_session(onnx_bytes, "rf"), SPECS, background)
    assert isinstance(explainer, TreeShapExplainer)
    rows = data[FEATURES].iloc[100:150]
    result = explainer.explain(rows)
    assert result.output_space == "probability"
    encode = pipeline["encode"]
    expected = shap.TreeExplainer(
        pipeline["trees"], data=encode.transform(background), feature_perturbation="interventional"
    ).shap_values(encode.transform(rows))[..., 1]
    np.testing.assert_allclose(result.values, expected, atol=1e-6)
    np.testing.assert_allclose(result.outputs, pipeline.predict_proba(rows)[:, 1], atol=1e-6)
