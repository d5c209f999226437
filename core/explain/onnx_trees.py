"""Tree ensembles read straight from an ONNX graph, in shap's custom tree format.

Why read the graph rather than keep the scikit-learn object: the registry stores only the
ONNX artifact (hash-checked), so explanations must come from what is actually served.
The TreeEnsembleClassifier/Regressor node (ai.onnx.ml) holds every split and leaf weight,
whichever library trained the trees (scikit-learn through skl2onnx; LightGBM and XGBoost
through onnxmltools). The steps before it are run with onnxruntime to get the matrix the
trees see, and traced by `graph` to map each matrix column back to an input feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import onnx
from onnx import helper, numpy_helper

from vigil.core.explain.attributions import FloatArray, OutputSpace
from vigil.core.explain.tracing import UnsupportedGraph

TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")
SPLIT_MODES = ("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GT", "BRANCH_GTE", "LEAF")
IntArray = npt.NDArray[np.int64]


class UnsupportedTreeModel(UnsupportedGraph):
    """The ONNX graph has no tree ensemble TreeSHAP can read (the fallback explainer is used)."""


class ModelKind(StrEnum):
    CLASSIFIER = "classifier"
    REGRESSOR = "regressor"


@dataclass(frozen=True, eq=False)
class Tree:
    """One tree as parallel arrays (shap's "dict" model format); leaves have children -1."""

    children_left: IntArray
    children_right: IntArray
    children_default: IntArray
    features: IntArray
    thresholds: FloatArray
    leaf_values: FloatArray  # [n_nodes]; 0 for internal nodes

    @property
    def n_nodes(self) -> int:
        return len(self.children_left)


@dataclass(frozen=True, eq=False)
class TreeEnsemble:
    """The trees, their base value and what their summed output means."""

    trees: tuple[Tree, ...]
    base_value: float
    input_name: str  # the tensor the tree node reads
    n_columns: int  # columns of that tensor the trees use (max feature id + 1)
    input_dtype: type[np.floating]
    output_space: OutputSpace  # log-odds (logistic link), probability, or raw
    kind: ModelKind


def _attributes(node: onnx.NodeProto) -> dict[str, object]:
    values: dict[str, object] = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        if isinstance(value, onnx.TensorProto):
            value = numpy_helper.to_array(value)
        values[attribute.name] = value
    return values


def find_tree_node(model: onnx.ModelProto) -> onnx.NodeProto:
    """The graph's single tree-ensemble node, or UnsupportedTreeModel."""
    nodes = [n for n in model.graph.node if n.op_type in TREE_OPS and n.domain == "ai.onnx.ml"]
    if len(nodes) != 1:
        raise UnsupportedTreeModel(
            f"The graph has {len(nodes)} tree-ensemble nodes; TreeSHAP needs exactly one."
        )
    node: onnx.NodeProto = nodes[0]
    return node


def _text(value: object, default: str) -> str:
    return value.decode() if isinstance(value, bytes) else default


def _texts(values: object) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()]


def _array(attrs: dict[str, object], *names: str) -> FloatArray:
    for name in names:
        if name in attrs:
            return np.asarray(attrs[name], dtype=np.float64)
    return np.asarray([], dtype=np.float64)


def _ids(attrs: dict[str, object], name: str) -> IntArray:
    return np.asarray(attrs.get(name, []), dtype=np.int64)


def _score_column(
    attrs: dict[str, object], classifier: bool, outputs: list[int]
) -> tuple[int, OutputSpace]:
    """Which weight column is the explained score, and in what space it adds up."""
    post_transform = _text(attrs.get("post_transform"), "NONE")
    if not classifier:
        if len(outputs) != 1:
            raise UnsupportedTreeModel("Multi-target tree regressors are not supported.")
        if post_transform != "NONE":
            raise UnsupportedTreeModel(f"Regressor post_transform {post_transform} unsupported.")
        return outputs[0], OutputSpace.RAW
    labels = attrs.get("classlabels_int64s", attrs.get("classlabels_strings", []))
    n_classes = np.asarray(labels).size
    if len(outputs) == 1:
        # Binary with one score column: onnxruntime scores the positive (last) class.
        spaces = {"LOGISTIC": OutputSpace.LOG_ODDS, "NONE": OutputSpace.PROBABILITY}
        if post_transform not in spaces:
            raise UnsupportedTreeModel(f"Binary post_transform {post_transform} unsupported.")
        return outputs[0], spaces[post_transform]
    if n_classes == 2 and post_transform == "NONE":
        # e.g. a random forest: per-class leaf weights that sum to the class probability.
        return outputs[-1], OutputSpace.PROBABILITY
    raise UnsupportedTreeModel(
        f"A {n_classes}-class tree ensemble with post_transform {post_transform} "
        "has no single additive score to explain."
    )


@dataclass(frozen=True)
class _Nodes:
    """The node attributes of every tree, flat, as the ONNX node lists them."""

    tree_ids: IntArray
    node_ids: IntArray
    feature_ids: IntArray
    modes: list[str]
    true_ids: IntArray
    false_ids: IntArray
    missing_true: IntArray
    thresholds: FloatArray
    input_dtype: type[np.floating]


def _nodes(attrs: dict[str, object]) -> _Nodes:
    thresholds = _array(attrs, "nodes_values_as_tensor", "nodes_values")
    if not len(thresholds):
        raise UnsupportedTreeModel("The tree node has no split thresholds.")
    double = (
        "nodes_values_as_tensor" in attrs
        and np.asarray(attrs["nodes_values_as_tensor"]).dtype == np.float64
    )
    input_dtype: type[np.floating] = np.float64 if double else np.float32
    tree_ids = _ids(attrs, "nodes_treeids")
    modes = _texts(attrs["nodes_modes"])
    unsupported = sorted(set(modes) - set(SPLIT_MODES))
    if unsupported:
        raise UnsupportedTreeModel(f"Split modes {unsupported} cannot be expressed as x <= t.")
    missing = _ids(attrs, "nodes_missing_value_tracks_true")
    return _Nodes(
        tree_ids=tree_ids,
        node_ids=_ids(attrs, "nodes_nodeids"),
        feature_ids=_ids(attrs, "nodes_featureids"),
        modes=modes,
        true_ids=_ids(attrs, "nodes_truenodeids"),
        false_ids=_ids(attrs, "nodes_falsenodeids"),
        missing_true=missing if len(missing) else np.zeros(len(tree_ids), dtype=np.int64),
        thresholds=thresholds.astype(input_dtype).astype(np.float64),
        input_dtype=input_dtype,
    )


def _tree(nodes: _Nodes, rows: IntArray) -> Tree:
    """One tree's structure; shap only evaluates `x <= t`, so the other modes are rewritten
    exactly for inputs of the precision onnxruntime uses (x < t  <=>  x <= prev(t))."""
    local = {int(nodes.node_ids[r]): i for i, r in enumerate(rows)}
    n = len(rows)
    left, right, default = (np.full(n, -1, dtype=np.int64) for _ in range(3))
    features = np.full(n, -2, dtype=np.int64)
    thresholds = np.zeros(n, dtype=np.float64)
    for i, r in enumerate(rows):
        mode = nodes.modes[r]
        if mode == "LEAF":
            continue
        yes, no = local[int(nodes.true_ids[r])], local[int(nodes.false_ids[r])]
        t = nodes.input_dtype(nodes.thresholds[r])
        below = float(np.nextafter(t, nodes.input_dtype(-np.inf)))
        if mode == "BRANCH_LEQ":
            left[i], right[i], thresholds[i] = yes, no, float(t)
        elif mode == "BRANCH_LT":
            left[i], right[i], thresholds[i] = yes, no, below
        elif mode == "BRANCH_GT":
            left[i], right[i], thresholds[i] = no, yes, float(t)
        else:  # BRANCH_GTE
            left[i], right[i], thresholds[i] = no, yes, below
        default[i] = yes if nodes.missing_true[r] else no
        features[i] = nodes.feature_ids[r]
    return Tree(left, right, default, features, thresholds, np.zeros(n, dtype=np.float64))


def read_tree_ensemble(model: onnx.ModelProto) -> TreeEnsemble:
    """Read every split and leaf of the tree node; refuse what TreeSHAP cannot express."""
    node = find_tree_node(model)
    attrs = _attributes(node)
    classifier = node.op_type == "TreeEnsembleClassifier"
    prefix = "class" if classifier else "target"
    weights = _array(attrs, f"{prefix}_weights_as_tensor", f"{prefix}_weights")
    weight_trees = _ids(attrs, f"{prefix}_treeids")
    weight_nodes = _ids(attrs, f"{prefix}_nodeids")
    weight_outputs = _ids(attrs, f"{prefix}_ids")
    column, space = _score_column(attrs, classifier, sorted(set(weight_outputs.tolist())))
    aggregate = _text(attrs.get("aggregate_function"), "SUM")
    if aggregate not in ("SUM", "AVERAGE"):
        raise UnsupportedTreeModel(f"Tree aggregate function {aggregate} is not additive.")
    base_values = _array(attrs, "base_values_as_tensor", "base_values")
    base_value = float(base_values[column]) if len(base_values) > column else 0.0
    if len(base_values) == 1:
        base_value = float(base_values[0])
    nodes = _nodes(attrs)
    unique_trees = sorted(set(nodes.tree_ids.tolist()))
    scale = 1.0 / len(unique_trees) if aggregate == "AVERAGE" else 1.0
    trees: list[Tree] = []
    for tree_id in unique_trees:
        rows = np.flatnonzero(nodes.tree_ids == tree_id)
        tree = _tree(nodes, rows)
        local = {int(nodes.node_ids[r]): i for i, r in enumerate(rows)}
        mine = (weight_trees == tree_id) & (weight_outputs == column)
        for node_id, weight in zip(weight_nodes[mine], weights[mine], strict=True):
            tree.leaf_values[local[int(node_id)]] += float(weight) * scale
        trees.append(tree)
    n_columns = int(max((int(t.features.max()) for t in trees), default=-1)) + 1
    return TreeEnsemble(
        trees=tuple(trees),
        base_value=base_value,
        input_name=node.input[0],
        n_columns=n_columns,
        input_dtype=nodes.input_dtype,
        output_space=space,
        kind=ModelKind.CLASSIFIER if classifier else ModelKind.REGRESSOR,
    )


def _step(tree: Tree, matrix: FloatArray, position: IntArray, rows: IntArray) -> IntArray:
    """Where the active rows go next (NaN follows the default child)."""
    values = matrix[rows, tree.features[position]]
    step = np.where(
        values <= tree.thresholds[position],
        tree.children_left[position],
        tree.children_right[position],
    )
    return np.where(np.isnan(values), tree.children_default[position], step)


def leaf_indices(tree: Tree, matrix: FloatArray) -> IntArray:
    """The node index each row ends in, evaluated in numpy."""
    position = np.zeros(len(matrix), dtype=np.int64)
    rows = np.arange(len(matrix))
    while True:
        active = tree.children_left[position] >= 0
        if not active.any():
            return position
        position[active] = _step(tree, matrix, position[active], rows[active])


def raw_output(ensemble: TreeEnsemble, matrix: FloatArray) -> FloatArray:
    """The ensemble's summed score per row (before any link), for checks and tests."""
    matrix = np.asarray(matrix, dtype=ensemble.input_dtype).astype(np.float64)
    total = np.full(len(matrix), ensemble.base_value)
    for tree in ensemble.trees:
        total += tree.leaf_values[leaf_indices(tree, matrix)]
    return total


def cover(tree: Tree, matrix: FloatArray) -> FloatArray:
    """Rows of `matrix` passing through each node: ONNX stores no sample counts, and with the
    training data as `matrix` this equals scikit-learn's weighted_n_node_samples."""
    counts = np.zeros(tree.n_nodes, dtype=np.float64)
    position = np.zeros(len(matrix), dtype=np.int64)
    rows = np.arange(len(matrix))
    np.add.at(counts, position, 1.0)
    while True:
        active = tree.children_left[position] >= 0
        if not active.any():
            return counts
        step = _step(tree, matrix, position[active], rows[active])
        position[active] = step
        np.add.at(counts, step, 1.0)


def to_shap_model(ensemble: TreeEnsemble, cover_matrix: FloatArray) -> dict[str, object]:
    """shap.TreeExplainer's custom "dict" model; internal node values are cover-weighted means
    of their children (shap's path-dependent algorithm reads them; interventional does not)."""
    matrix = np.asarray(cover_matrix, dtype=ensemble.input_dtype).astype(np.float64)
    trees = []
    for tree in ensemble.trees:
        weights = cover(tree, matrix)
        values = tree.leaf_values.copy()
        for i in _bottom_up(tree):
            left, right = tree.children_left[i], tree.children_right[i]
            if left < 0:
                continue
            total = weights[left] + weights[right]
            if total > 0:
                values[i] = (weights[left] * values[left] + weights[right] * values[right]) / total
            else:
                values[i] = (values[left] + values[right]) / 2
        trees.append(
            {
                "children_left": tree.children_left.astype(np.int32),
                "children_right": tree.children_right.astype(np.int32),
                "children_default": tree.children_default.astype(np.int32),
                "features": tree.features.astype(np.int32),
                "thresholds": tree.thresholds.astype(np.float64),
                "values": values.reshape(-1, 1),
                "node_sample_weight": weights,
            }
        )
    return {
        "trees": trees,
        "base_offset": ensemble.base_value,
        "input_dtype": ensemble.input_dtype,
        "internal_dtype": np.float64,
        "tree_output": "log_odds" if ensemble.output_space == OutputSpace.LOG_ODDS else "raw_value",
    }


def _bottom_up(tree: Tree) -> list[int]:
    """Node indices, children before parents, from the structure (not the index order)."""
    order: list[int] = []
    stack = [0]
    while stack:
        i = stack.pop()
        order.append(i)
        if tree.children_left[i] >= 0:
            stack.extend((int(tree.children_left[i]), int(tree.children_right[i])))
    return order[::-1]
