"""Reading tree ensembles from ONNX: every split, leaf and mode as onnxruntime evaluates it."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from vigil.core.contract import FeatureSpec
from vigil.core.demo.model import FEATURE_SCHEMA, FEATURES, train_version
from vigil.core.explain import graph, onnx_trees
from vigil.core.explain.onnx_trees import UnsupportedTreeModel
from vigil.core.registry.artifacts import build_feed

SPECS = tuple(FeatureSpec(**f) for f in FEATURE_SCHEMA)


@pytest.fixture(scope="module")
def trained():
    return train_version("1.0")


def test_reads_the_demo_gradient_boosting(trained) -> None:
    model = onnx.load_from_string(trained.onnx_bytes)
    ensemble = onnx_trees.read_tree_ensemble(model)
    gbc = trained.pipeline["trees"]
    assert len(ensemble.trees) == gbc.n_estimators_
    assert ensemble.output_space == "log_odds"
    prior = trained.reference["label"].mean()  # GradientBoosting starts from the log prior odds
    assert ensemble.base_value == pytest.approx(np.log(prior / (1 - prior)), abs=1e-6)
    assert graph.column_sources(model, ensemble.input_name) == tuple(FEATURES)


def test_raw_output_matches_sklearn_and_onnxruntime(trained) -> None:
    model = onnx.load_from_string(trained.onnx_bytes)
    ensemble = onnx_trees.read_tree_ensemble(model)
    frame = trained.reference[FEATURES].iloc[:200]
    encoded = trained.pipeline["encode"].transform(frame)
    raw = onnx_trees.raw_output(ensemble, encoded)
    np.testing.assert_allclose(raw, trained.pipeline.decision_function(frame), atol=1e-6)
    session = ort.InferenceSession(trained.onnx_bytes, providers=["CPUExecutionProvider"])
    probabilities = session.run(["probabilities"], build_feed(frame, SPECS))[0][:, 1]
    np.testing.assert_allclose(1 / (1 + np.exp(-raw)), probabilities, atol=1e-6)


def test_encoded_matrix_from_onnxruntime_equals_the_sklearn_encoder(trained) -> None:
    model = onnx.load_from_string(trained.onnx_bytes)
    ensemble = onnx_trees.read_tree_ensemble(model)
    session = ort.InferenceSession(
        graph.with_output(model, ensemble.input_name),
        providers=["CPUExecutionProvider"],
    )
    frame = trained.reference[FEATURES].iloc[:50]
    (encoded,) = session.run([ensemble.input_name], build_feed(frame, SPECS))
    np.testing.assert_array_equal(encoded, trained.pipeline["encode"].transform(frame))


def test_cover_from_training_data_equals_sklearn_sample_counts(trained) -> None:
    ensemble = onnx_trees.read_tree_ensemble(onnx.load_from_string(trained.onnx_bytes))
    encoded = trained.pipeline["encode"].transform(trained.reference[FEATURES])
    for tree, estimator in zip(
        ensemble.trees[:10], trained.pipeline["trees"].estimators_[:10, 0], strict=True
    ):
        # ONNX lists nodes in the same depth-first order as sklearn's tree arrays.
        np.testing.assert_array_equal(
            onnx_trees.cover(tree, encoded.astype(np.float32).astype(float)),
            estimator.tree_.weighted_n_node_samples,
        )


def _stump(mode: str, missing_true: int, threshold: float = 0.5) -> bytes:
    """A one-split regressor: true branch -> 1.0, false branch -> 2.0."""
    node = helper.make_node(
        "TreeEnsembleRegressor",
        ["x"],
        ["y"],
        domain="ai.onnx.ml",
        n_targets=1,
        nodes_treeids=[0, 0, 0],
        nodes_nodeids=[0, 1, 2],
        nodes_featureids=[0, 0, 0],
        nodes_values=[threshold, 0.0, 0.0],
        nodes_modes=[mode, "LEAF", "LEAF"],
        nodes_truenodeids=[1, 0, 0],
        nodes_falsenodeids=[2, 0, 0],
        nodes_missing_value_tracks_true=[missing_true, 0, 0],
        target_treeids=[0, 0],
        target_nodeids=[1, 2],
        target_ids=[0, 0],
        target_weights=[1.0, 2.0],
        base_values=[0.25],
    )
    graph = helper.make_graph(
        [node],
        "stump",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    )
    return model.SerializeToString()


@pytest.mark.parametrize("mode", ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GT", "BRANCH_GTE"])
@pytest.mark.parametrize("missing_true", [0, 1])
def test_split_modes_and_missing_values_match_onnxruntime(mode: str, missing_true: int) -> None:
    data = _stump(mode, missing_true, threshold=0.1)
    t = np.float32(0.1)
    x = np.array(
        [[np.nextafter(t, np.float32(-1))], [t], [np.nextafter(t, np.float32(1))], [np.nan], [-3]],
        dtype=np.float32,
    )
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    ensemble = onnx_trees.read_tree_ensemble(onnx.load_from_string(data))
    np.testing.assert_allclose(onnx_trees.raw_output(ensemble, x), expected.ravel(), atol=1e-7)


def test_equality_splits_are_refused() -> None:
    with pytest.raises(UnsupportedTreeModel) as err:
        onnx_trees.read_tree_ensemble(onnx.load_from_string(_stump("BRANCH_EQ", 0)))
    assert str(err.value) == "Split modes ['BRANCH_EQ'] cannot be expressed as x <= t."


def test_a_graph_without_trees_is_refused() -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])],
    )
    with pytest.raises(UnsupportedTreeModel) as err:
        onnx_trees.find_tree_node(helper.make_model(graph))
    assert str(err.value) == "The graph has 0 tree-ensemble nodes; TreeSHAP needs exactly one."
