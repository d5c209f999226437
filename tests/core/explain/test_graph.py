"""Tracing columns back to features through the ops converters emit, and refusing the ops
that mix features in one column."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import shap
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    Binarizer,
    KBinsDiscretizer,
    MinMaxScaler,
    Normalizer,
    OrdinalEncoder,
    StandardScaler,
)

from tests.core.explain.pipelines import credit_data
from vigil.core.contract import FeatureSpec
from vigil.core.explain import graph, tracing
from vigil.core.explain.attributions import Method
from vigil.core.explain.explainer import build_explainer
from vigil.core.explain.tracing import UnsupportedGraph
from vigil.core.explain.tree_shap import TreeShapExplainer
from vigil.core.registry.artifacts import open_session


def _model(nodes, inputs: dict[str, int], output: str, initializers=()) -> onnx.ModelProto:
    """A graph over float inputs of the given widths, returning `output`."""
    graph_inputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, width])
        for name, width in inputs.items()
    ]
    out = helper.make_tensor_value_info(output, TensorProto.FLOAT, None)
    g = helper.make_graph(nodes, "g", graph_inputs, [out], initializer=list(initializers))
    return helper.make_model(
        g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    )


def _const(name: str, values, dtype=np.int64) -> TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def test_concat_then_array_feature_extractor_reorders_columns() -> None:
    model = _model(
        [
            helper.make_node("Concat", ["a", "b"], ["ab"], axis=1),
            helper.make_node("ArrayFeatureExtractor", ["ab"], ["picked"], domain="ai.onnx.ml"),
        ],
        {"a": 2, "b": 1},
        "picked",
    )
    model.graph.node[1].input.append("idx")
    model.graph.initializer.append(_const("idx", [2, 0]))
    assert graph.column_sources(model, "picked") == ("b", "a")


def test_gather_slice_split_squeeze_and_transpose() -> None:
    nodes = [
        helper.make_node("Concat", ["a", "b", "c"], ["abc"], axis=-1),
        helper.make_node("Gather", ["abc", "g"], ["gathered"], axis=1),
        helper.make_node("Slice", ["abc", "starts", "ends", "axes"], ["sliced"]),
        helper.make_node("Split", ["abc", "sizes"], ["s1", "s2"], axis=1),
        helper.make_node("Unsqueeze", ["s2", "ax2"], ["u"]),
        helper.make_node("Transpose", ["u"], ["t"], perm=[0, 2, 1]),
        helper.make_node("Squeeze", ["t", "ax1"], ["sq"]),
    ]
    model = _model(
        nodes,
        {"a": 1, "b": 2, "c": 1},
        "sq",
        [
            _const("g", [3, 1]),
            _const("starts", [1]),
            _const("ends", [3]),
            _const("axes", [1]),
            _const("sizes", [1, 3]),
            _const("ax2", [2]),
            _const("ax1", [1]),
        ],
    )
    assert graph.column_sources(model, "gathered") == ("c", "b")
    assert graph.column_sources(model, "sliced") == ("b", "b")
    assert graph.column_sources(model, "s1") == ("a",)
    assert graph.column_sources(model, "sq") == ("b", "b", "c")


def test_feature_vectorizer_cuts_and_pads_to_declared_widths() -> None:
    node = helper.make_node(
        "FeatureVectorizer", ["a", "b"], ["v"], domain="ai.onnx.ml", inputdimensions=[1, 3]
    )
    model = _model([node], {"a": 2, "b": 2}, "v")
    assert graph.column_sources(model, "v") == ("a", "b", "b", tracing.CONSTANT)


def test_elementwise_with_constants_keeps_columns_and_two_features_are_refused() -> None:
    nodes = [
        helper.make_node("Concat", ["a", "b"], ["ab"], axis=1),
        helper.make_node("Sub", ["ab", "offset"], ["centred"]),
        helper.make_node("Mul", ["centred", "scale"], ["scaled"]),
        helper.make_node("Add", ["a", "b"], ["mixed"]),
    ]
    initializers = [
        _const("offset", [[1.0, 2.0]], np.float32),
        _const("scale", [3.0, 4.0], np.float32),
    ]
    model = _model(nodes, {"a": 1, "b": 1}, "scaled", initializers)
    assert graph.column_sources(model, "scaled") == ("a", "b")
    with pytest.raises(UnsupportedGraph) as err:
        graph.column_sources(model, "mixed")
    assert str(err.value) == "Op Add at 'mixed' combines ['a', 'b'] in one column."


def test_matmul_follows_non_zero_weights() -> None:
    """A diagonal matrix is per column; a dense one (a PCA) mixes features."""
    nodes = [
        helper.make_node("Concat", ["a", "b"], ["ab"], axis=1),
        helper.make_node("MatMul", ["ab", "diagonal"], ["per_column"]),
        helper.make_node("MatMul", ["ab", "dense"], ["mixed"]),
    ]
    initializers = [
        _const("diagonal", [[2.0, 0.0], [0.0, 3.0]], np.float32),
        _const("dense", [[2.0, 1.0], [0.5, 3.0]], np.float32),
    ]
    model = _model(nodes, {"a": 1, "b": 1}, "per_column", initializers)
    assert graph.column_sources(model, "per_column") == ("a", "b")
    with pytest.raises(UnsupportedGraph, match="combines"):
        graph.column_sources(model, "mixed")


def test_a_row_normaliser_over_two_features_is_refused() -> None:
    nodes = [
        helper.make_node("Concat", ["a", "b"], ["ab"], axis=1),
        helper.make_node("Normalizer", ["ab"], ["n"], domain="ai.onnx.ml", norm="L2"),
        helper.make_node("Normalizer", ["a"], ["na"], domain="ai.onnx.ml", norm="L2"),
    ]
    model = _model(nodes, {"a": 1, "b": 1}, "n")
    assert graph.column_sources(model, "na") == ("a",)
    with pytest.raises(UnsupportedGraph) as err:
        graph.column_sources(model, "n")
    assert str(err.value) == "Normalizer at 'n' divides by a norm over several features."


def test_ops_across_rows_are_refused() -> None:
    nodes = [
        helper.make_node("ReduceSum", ["a", "axis0"], ["over_rows"], keepdims=1),
        helper.make_node("Reshape", ["a", "flat"], ["one_row"]),
    ]
    model = _model(nodes, {"a": 2}, "over_rows", [_const("axis0", [0]), _const("flat", [1, -1])])
    with pytest.raises(UnsupportedGraph, match="across rows"):
        graph.column_sources(model, "over_rows")
    with pytest.raises(UnsupportedGraph, match="keep rows apart"):
        graph.column_sources(model, "one_row")


# ---------------------------------------------------------------- converted preprocessing

NUMBERS = ["age", "duration", "credit_amount", "job"]


def _preprocessed(transformers) -> tuple[Pipeline, bytes, tuple[FeatureSpec, ...]]:
    data = credit_data().dropna()
    categorical = ["housing"]
    encode = ColumnTransformer(
        [*transformers, ("housing", OrdinalEncoder(), categorical)], remainder="drop"
    )
    pipeline = Pipeline(
        [("encode", encode), ("model", GradientBoostingClassifier(n_estimators=20, random_state=0))]
    )
    pipeline.fit(data[NUMBERS + categorical], data["risk"])
    inputs = [(c, FloatTensorType([None, 1])) for c in NUMBERS]
    inputs.append(("housing", StringTensorType([None, 1])))
    onnx_model = convert_sklearn(
        pipeline,
        initial_types=inputs,
        options={id(pipeline): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    specs = (
        *tuple(FeatureSpec(c, "number", False) for c in NUMBERS),
        FeatureSpec("housing", "string", True),
    )
    return pipeline, onnx_model.SerializeToString(), specs


def test_scalers_binarizer_normaliser_and_bins_are_traced_to_their_features() -> None:
    """Scaler, Binarizer, Normalizer of one column, a MinMaxScaler (Mul/Add), KBinsDiscretizer
    (Less, ArgMax, OneHotEncoder) and an OrdinalEncoder (LabelEncoder): exact TreeSHAP.

    shap is given the matrix the served graph computes: the graph scales in float32 and
    scikit-learn in float64, so a value one float32 step from a split point can take the
    other branch in the original pipeline (see pipelines.convert)."""
    pipeline, data, specs = _preprocessed(
        [
            ("scaled", StandardScaler(), ["credit_amount"]),
            ("binary", Binarizer(threshold=30), ["age"]),
            ("sign", Normalizer(), ["job"]),
            ("minmax", MinMaxScaler(), ["duration"]),
            ("bins", KBinsDiscretizer(n_bins=4, encode="onehot-dense"), ["age"]),
        ]
    )
    frame = credit_data().dropna()[[*NUMBERS, "housing"]]
    background, rows = frame.iloc[:80], frame.iloc[100:160]
    explainer = build_explainer(data, open_session(data, "pre"), specs, background)
    assert isinstance(explainer, TreeShapExplainer), getattr(explainer, "reason", "")
    served_rows, served_background = explainer.encode(rows), explainer.encode(background)
    np.testing.assert_allclose(
        served_rows, pipeline["encode"].transform(rows), rtol=1e-6, atol=1e-6
    )
    reference = shap.TreeExplainer(
        pipeline["model"], data=served_background, feature_perturbation="interventional"
    )
    expected = reference.shap_values(served_rows)
    owners = ["credit_amount", "age", "job", "duration", *["age"] * 4, "housing"]
    grouping = np.array([[1.0 if o == f else 0.0 for f in explainer.features] for o in owners])
    ours = explainer.explain(rows)
    np.testing.assert_allclose(ours.values, expected @ grouping, atol=1e-6)


def test_a_pca_in_front_of_the_trees_falls_back_with_the_reason() -> None:
    _, data, specs = _preprocessed([("pca", PCA(n_components=2), NUMBERS)])
    frame = credit_data().dropna()[[*NUMBERS, "housing"]]
    explainer = build_explainer(data, open_session(data, "pca"), specs, frame.iloc[:20])
    assert explainer.method == Method.PERMUTATION
    assert "combines" in explainer.reason
