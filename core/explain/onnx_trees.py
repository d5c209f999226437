"""Tree ensembles read straight from an ONNX graph, in shap's custom tree format.

Why read the graph rather than keep the scikit-learn object: the registry stores only the
ONNX artifact (hash-checked), so explanations must come from what is actually served.
The TreeEnsembleClassifier/Regressor node (ai.onnx.ml, opset 3) holds every split and leaf
weight; the steps before it (label encoders, casts, concats) are run with onnxruntime to
get the matrix the trees see, and traced here to map each matrix column back to the
original input feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from vigil.core.errors import VigilError

TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")
# Ops that keep one output column per input column (their column sources pass through).
_COLUMNWISE_OPS = {
    "Cast",
    "Identity",
    "LabelEncoder",
    "Imputer",
    "Scaler",
    "Normalizer",
    "Abs",
    "Neg",
    "Flatten",
}


class UnsupportedTreeModel(VigilError):
    """The ONNX graph has no tree ensemble TreeSHAP can read (the fallback explainer is used)."""


@dataclass(frozen=True, eq=False)
class Tree:
    """One tree as parallel arrays (shap's "dict" model format); leaves have children -1."""

    children_left: np.ndarray
    children_right: np.ndarray
    children_default: np.ndarray
    features: np.ndarray
    thresholds: np.ndarray
    leaf_values: np.ndarray  # [n_nodes]; 0 for internal nodes

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
    input_dtype: type
    output_space: str  # "log_odds" (binary, logistic link) or "raw"
    kind: str  # "classifier" | "regressor"


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
    return nodes[0]


def _decode(values: object) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]  # type: ignore[union-attr]


def read_tree_ensemble(model: onnx.ModelProto) -> TreeEnsemble:
    """Read every split and leaf of the tree node; refuse what TreeSHAP cannot express."""
    node = find_tree_node(model)
    attrs = _attributes(node)
    classifier = node.op_type == "TreeEnsembleClassifier"
    prefix = "class" if classifier else "target"
    thresholds_raw = attrs.get("nodes_values_as_tensor", attrs.get("nodes_values"))
    if thresholds_raw is None:
        raise UnsupportedTreeModel("The tree node has no split thresholds.")
    thresholds_all = np.asarray(thresholds_raw)
    double = thresholds_all.dtype == np.float64 and "nodes_values_as_tensor" in attrs
    input_dtype = np.float64 if double else np.float32
    thresholds_all = thresholds_all.astype(input_dtype)
    tree_ids = np.asarray(attrs["nodes_treeids"], dtype=np.int64)
    node_ids = np.asarray(attrs["nodes_nodeids"], dtype=np.int64)
    feature_ids = np.asarray(attrs["nodes_featureids"], dtype=np.int64)
    modes = _decode(attrs["nodes_modes"])
    true_ids = np.asarray(attrs["nodes_truenodeids"], dtype=np.int64)
    false_ids = np.asarray(attrs["nodes_falsenodeids"], dtype=np.int64)
    missing_true = np.asarray(
        attrs.get("nodes_missing_value_tracks_true", [0] * len(tree_ids)), dtype=np.int64
    )
    weights = np.asarray(
        attrs.get(f"{prefix}_weights_as_tensor", attrs.get(f"{prefix}_weights")), dtype=np.float64
    )
    weight_trees = np.asarray(attrs[f"{prefix}_treeids"], dtype=np.int64)
    weight_nodes = np.asarray(attrs[f"{prefix}_nodeids"], dtype=np.int64)
    weight_outputs = np.asarray(attrs[f"{prefix}_ids"], dtype=np.int64)
    base_values = np.asarray(
        attrs.get("base_values_as_tensor", attrs.get("base_values", [])), dtype=np.float64
    )
    post_transform = attrs.get("post_transform", b"NONE")
    post_transform = post_transform.decode() if isinstance(post_transform, bytes) else "NONE"

    outputs = sorted(set(weight_outputs.tolist()))
    if classifier:
        n_classes = len(attrs.get("classlabels_int64s", attrs.get("classlabels_strings", [])))
        if len(outputs) == 1:
            # Binary with one score column: onnxruntime scores the positive (last) class.
            column = outputs[0]
            space = {"LOGISTIC": "log_odds", "NONE": "probability"}.get(post_transform, "raw")
        elif n_classes == 2 and post_transform == "NONE":
            # e.g. a random forest: per-class leaf weights that sum to the class probability.
            column = outputs[-1]
            space = "probability"
        else:
            raise UnsupportedTreeModel(
                f"A {n_classes}-class tree ensemble with post_transform {post_transform} "
                "has no single additive score to explain."
            )
    else:
        if len(outputs) != 1:
            raise UnsupportedTreeModel("Multi-target tree regressors are not supported.")
        column = outputs[0]
        if post_transform != "NONE":
            raise UnsupportedTreeModel(f"Regressor post_transform {post_transform} unsupported.")
        space = "raw"
    aggregate = attrs.get("aggregate_function", b"SUM")
    aggregate = aggregate.decode() if isinstance(aggregate, bytes) else "SUM"
    if aggregate not in ("SUM", "AVERAGE"):
        raise UnsupportedTreeModel(f"Tree aggregate function {aggregate} is not additive.")
    base_value = float(base_values[column]) if len(base_values) > column else 0.0
    if len(base_values) == 1:
        base_value = float(base_values[0])

    unsupported = sorted(
        {
            m
            for m in modes
            if m not in ("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GT", "BRANCH_GTE", "LEAF")
        }
    )
    if unsupported:
        raise UnsupportedTreeModel(f"Split modes {unsupported} cannot be expressed as x <= t.")

    trees: list[Tree] = []
    unique_trees = sorted(set(tree_ids.tolist()))
    scale = 1.0 / len(unique_trees) if aggregate == "AVERAGE" else 1.0
    for tree_id in unique_trees:
        rows = np.flatnonzero(tree_ids == tree_id)
        local = {int(node_ids[r]): i for i, r in enumerate(rows)}
        n = len(rows)
        left = np.full(n, -1, dtype=np.int64)
        right = np.full(n, -1, dtype=np.int64)
        default = np.full(n, -1, dtype=np.int64)
        features = np.full(n, -2, dtype=np.int64)
        thresholds = np.zeros(n, dtype=np.float64)
        for i, r in enumerate(rows):
            mode = modes[r]
            if mode == "LEAF":
                continue
            yes, no = local[int(true_ids[r])], local[int(false_ids[r])]
            t = thresholds_all[r]
            # shap only evaluates `x <= t`; rewrite the other modes exactly for inputs of
            # the same float precision as onnxruntime uses (x < t  <=>  x <= prev(t)).
            below = np.nextafter(t, input_dtype(-np.inf))
            if mode == "BRANCH_LEQ":
                left[i], right[i], thresholds[i] = yes, no, t
            elif mode == "BRANCH_LT":
                left[i], right[i], thresholds[i] = yes, no, below
            elif mode == "BRANCH_GT":
                left[i], right[i], thresholds[i] = no, yes, t
            else:  # BRANCH_GTE
                left[i], right[i], thresholds[i] = no, yes, below
            default[i] = yes if missing_true[r] else no
            features[i] = feature_ids[r]
        leaf_values = np.zeros(n, dtype=np.float64)
        mine = (weight_trees == tree_id) & (weight_outputs == column)
        for node_id, weight in zip(weight_nodes[mine], weights[mine], strict=True):
            leaf_values[local[int(node_id)]] += weight * scale
        trees.append(Tree(left, right, default, features, thresholds, leaf_values))
    n_columns = int(max((int(t.features.max()) for t in trees), default=-1)) + 1
    return TreeEnsemble(
        trees=tuple(trees),
        base_value=base_value,
        input_name=node.input[0],
        n_columns=n_columns,
        input_dtype=input_dtype,
        output_space=space,
        kind="classifier" if classifier else "regressor",
    )


def leaf_indices(tree: Tree, matrix: np.ndarray) -> np.ndarray:
    """The node index each row ends in, evaluated in numpy (NaN follows the default child)."""
    position = np.zeros(len(matrix), dtype=np.int64)
    rows = np.arange(len(matrix))
    while True:
        active = tree.children_left[position] >= 0
        if not active.any():
            return position
        current = position[active]
        values = matrix[rows[active], tree.features[current]]
        go_left = values <= tree.thresholds[current]
        step = np.where(go_left, tree.children_left[current], tree.children_right[current])
        step = np.where(np.isnan(values), tree.children_default[current], step)
        position[active] = step


def raw_output(ensemble: TreeEnsemble, matrix: np.ndarray) -> np.ndarray:
    """The ensemble's summed score per row (before the logistic link), for checks and tests."""
    matrix = np.asarray(matrix, dtype=ensemble.input_dtype).astype(np.float64)
    total = np.full(len(matrix), ensemble.base_value)
    for tree in ensemble.trees:
        total += tree.leaf_values[leaf_indices(tree, matrix)]
    return total


def cover(tree: Tree, matrix: np.ndarray) -> np.ndarray:
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
        current = position[active]
        values = matrix[rows[active], tree.features[current]]
        step = np.where(
            values <= tree.thresholds[current],
            tree.children_left[current],
            tree.children_right[current],
        )
        step = np.where(np.isnan(values), tree.children_default[current], step)
        position[active] = step
        np.add.at(counts, step, 1.0)


def to_shap_model(ensemble: TreeEnsemble, cover_matrix: np.ndarray) -> dict[str, object]:
    """shap.TreeExplainer's custom "dict" model; internal node values are cover-weighted means
    of their children (shap's path-dependent algorithm reads them; interventional does not)."""
    matrix = np.asarray(cover_matrix, dtype=ensemble.input_dtype).astype(np.float64)
    trees = []
    for tree in ensemble.trees:
        weights = cover(tree, matrix)
        values = tree.leaf_values.copy()
        # Children always have larger indices than parents in skl2onnx output; walk backwards
        # in topological order anyway, computed from the structure.
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
        "tree_output": "log_odds" if ensemble.output_space == "log_odds" else "raw_value",
    }


def _bottom_up(tree: Tree) -> list[int]:
    order: list[int] = []
    stack = [0]
    while stack:
        i = stack.pop()
        order.append(i)
        if tree.children_left[i] >= 0:
            stack.extend((int(tree.children_left[i]), int(tree.children_right[i])))
    return order[::-1]


def column_sources(model: onnx.ModelProto, tensor: str) -> tuple[str, ...]:
    """For each column of `tensor`, the graph input it is computed from.

    Traces back through column-wise ops (casts, label encoders, scalers), Reshape to one
    column and Concat along the last axis; any other op means the columns cannot be tied to
    single features, and UnsupportedTreeModel sends the caller to the model-agnostic path.
    """
    producers = {out: node for node in model.graph.node for out in node.output}
    inputs = {}
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim
        width = dims[1].dim_value if len(dims) == 2 and dims[1].dim_value > 0 else None
        inputs[value.name] = width
    memo: dict[str, tuple[str, ...]] = {}

    def trace(name: str) -> tuple[str, ...]:
        if name in memo:
            return memo[name]
        if name in inputs:
            width = inputs[name]
            if width is None:
                raise UnsupportedTreeModel(f"Input '{name}' has no fixed column count.")
            result = (name,) * width
        elif name in producers:
            node = producers[name]
            if node.op_type in _COLUMNWISE_OPS:
                result = trace(node.input[0])
            elif node.op_type == "Reshape":
                source = trace(node.input[0])
                if len(source) != 1:
                    raise UnsupportedTreeModel(f"Reshape of {len(source)} columns at '{name}'.")
                result = source
            elif node.op_type == "Concat":
                axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
                if axis not in (1, -1):
                    raise UnsupportedTreeModel(f"Concat along axis {axis} at '{name}'.")
                result = tuple(col for part in node.input for col in trace(part))
            else:
                raise UnsupportedTreeModel(
                    f"Op {node.op_type} at '{name}' mixes or reshapes columns; cannot map "
                    "tree inputs to features."
                )
        else:
            raise UnsupportedTreeModel(f"Tensor '{name}' is a constant, not a feature.")
        memo[name] = result
        return result

    return trace(tensor)


def with_tree_input_output(model: onnx.ModelProto, tensor: str) -> bytes:
    """The model with the tree node's input tensor added as a graph output, so one
    onnxruntime run yields both the encoded matrix the trees see and the model's outputs."""
    edited = onnx.ModelProto()
    edited.CopyFrom(model)
    producer = next((n for n in edited.graph.node if tensor in n.output), None)
    elem_type = onnx.TensorProto.FLOAT
    if producer is not None and producer.op_type == "Cast":
        elem_type = next(a.i for a in producer.attribute if a.name == "to")
    else:
        inferred = onnx.shape_inference.infer_shapes(edited)
        for value in (*inferred.graph.value_info, *inferred.graph.input):
            if value.name == tensor and value.type.tensor_type.elem_type:
                elem_type = value.type.tensor_type.elem_type
    edited.graph.output.append(helper.make_tensor_value_info(tensor, elem_type, None))
    return edited.SerializeToString()
