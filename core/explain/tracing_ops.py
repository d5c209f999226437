"""The ops that move, copy or reduce columns, each traced cell by cell (see `tracing`)."""

from __future__ import annotations

import numpy as np
import onnx

from vigil.core.explain.tracing import (
    CONSTANT,
    Handler,
    Sources,
    Tracer,
    UnsupportedGraph,
    attribute,
    axes_of,
    axis_of,
    int_attribute,
    ints,
    one_feature,
    reduce_axis,
)


def _concat(t: Tracer, node: onnx.NodeProto) -> list[Sources]:
    parts = [t.trace(n) for n in node.input]
    axis = axis_of(node, parts[0])
    try:
        return [np.concatenate(parts, axis=axis)]
    except ValueError as err:
        raise UnsupportedGraph(f"Concat shapes disagree at '{node.output[0]}'.") from err


def _reshape(t: Tracer, node: onnx.NodeProto) -> list[Sources]:
    source = t.trace(node.input[0])
    shape = ints(t.constant(node.input[1], "reshape target"))
    if not shape or shape[0] not in (0, -1):
        raise UnsupportedGraph(f"Reshape at '{node.output[0]}' does not keep rows apart.")
    rest = [source.shape[i] if s == 0 and i < source.ndim else s for i, s in enumerate(shape[1:])]
    if shape[0] == -1 and (-1 in rest or int(np.prod(rest)) != source.size):
        raise UnsupportedGraph(f"Reshape at '{node.output[0]}' does not keep rows apart.")
    try:
        return [source.reshape(rest)]
    except ValueError as err:
        raise UnsupportedGraph(f"Reshape at '{node.output[0]}' does not fit the row.") from err


def _flatten(t: Tracer, node: onnx.NodeProto) -> list[Sources]:
    source = t.trace(node.input[0])
    if int_attribute(node, "axis", 1) != 1:
        raise UnsupportedGraph(f"Flatten at '{node.output[0]}' mixes rows.")
    return [source.reshape(-1)]


def _squeeze(t: Tracer, node: onnx.NodeProto) -> list[Sources]:
    source = t.trace(node.input[0])
    axes = axes_of(t, node)
    if axes is None:
        return [source.squeeze()]
    axes = [a + source.ndim + 1 if a < 0 else a for a in axes]
    if min(axes) <= 0:
        raise UnsupportedGraph(f"Squeeze at '{node.output[0]}' drops the row axis.")
    return [source.squeeze(axis=tuple(a - 1 for a in axes))]


def _unsqueeze(t: Tracer, node: onnx.NodeProto) -> list[Sources]:
    source = t.trace(node.input[0])
    axes = axes_of(t, node) or []
    out_rank = source.ndim + 1 + len(axes)
    axes = sorted(a + out_rank if a < 0 else a for a in axes)
    if not axes or axes[0] <= 0:
        raise UnsupportedGraph(f"Unsqueeze at '{node.output[0]}' adds a row axis.")
    for a in axes:
        source = np.expand_dims(source, a - 1)
    return [source]


def _one_hot(t: Tracer, node: onnx.NodeProto) -> list[Sources]:
    """ai.onnx.ml OneHotEncoder: [N, ...] -> [N, ..., categories]."""
    source = t.trace(node.input[0])
    categories = attribute(node, "cats_strings") or attribute(node, "cats_int64s") or []
    width = np.asarray(categories).size
    return [np.repeat(source[..., np.newaxis], width, axis=-1)]


def _array_feature_extractor(t: Tracer, node: onnx.NodeProto) -> list[Sources]:
    """ai.onnx.ml ArrayFeatureExtractor: picks columns of the last axis by constant index."""
    source = t.trace(node.input[0])
    indices = ints(t.constant(node.input[1], "column index"))
    if source.ndim == 0:
        raise UnsupportedGraph(f"ArrayFeatureExtractor at '{node.output[0]}' on a scalar.")
    return [np.take(source, indices, axis=-1)]


def _gather(t: Tracer, node: onnx.NodeProto) -> list[Sources]:
    source = t.trace(node.input[0])
    indices = t.constant(node.input[1], "gather index")
    return [np.take(source, indices.astype(np.int64), axis=axis_of(node, source))]


def _slice(t: Tracer, node: onnx.NodeProto) -> list[Sources]:
    source = t.trace(node.input[0])
    starts = ints(t.constant(node.input[1], "slice start"))
    ends = ints(t.constant(node.input[2], "slice end"))
    given = len(node.input) > 3 and node.input[3]
    axes = ints(t.constant(node.input[3], "slice axes")) if given else list(range(len(starts)))
    steps_given = len(node.input) > 4 and node.input[4]
    steps = ints(t.constant(node.input[4], "slice steps")) if steps_given else [1] * len(starts)
    index: list[slice] = [slice(None)] * source.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        axis = axis + source.ndim + 1 if axis < 0 else axis
        if axis == 0:
            raise UnsupportedGraph(f"Slice at '{node.output[0]}' selects rows.")
        index[axis - 1] = slice(start, end, step)
    return [source[tuple(index)]]


def _transpose(t: Tracer, node: onnx.NodeProto) -> list[Sources]:
    source = t.trace(node.input[0])
    perm = ints(attribute(node, "perm", list(range(source.ndim + 1))[::-1]))
    if perm[0] != 0:
        raise UnsupportedGraph(f"Transpose at '{node.output[0]}' moves the row axis.")
    return [source.transpose([p - 1 for p in perm[1:]])]


def _split(t: Tracer, node: onnx.NodeProto) -> list[Sources]:
    source = t.trace(node.input[0])
    axis = axis_of(node, source)
    sizes = attribute(node, "split")
    if len(node.input) > 1 and node.input[1]:
        sizes = t.constant(node.input[1], "split sizes")
    if sizes is None:
        return list(np.split(source, len(node.output), axis=axis))
    cuts = np.cumsum(ints(sizes))[:-1]
    return list(np.split(source, cuts, axis=axis))


def _feature_vectorizer(t: Tracer, node: onnx.NodeProto) -> list[Sources]:
    """ai.onnx.ml FeatureVectorizer: each input cut or zero-padded to its declared width."""
    widths = ints(attribute(node, "inputdimensions", []))
    parts = []
    for name, width in zip(node.input, widths, strict=True):
        flat = t.trace(name).reshape(-1)[:width]
        parts.append(np.concatenate([flat, np.full(width - len(flat), CONSTANT, object)]))
    return [np.concatenate(parts)]


def _normalizer(t: Tracer, node: onnx.NodeProto) -> list[Sources]:
    """ai.onnx.ml Normalizer divides each row by its norm: per column only when every column
    comes from one feature."""
    source = t.trace(node.input[0])
    if len(set(source.ravel().tolist()) - {CONSTANT}) > 1:
        raise UnsupportedGraph(
            f"Normalizer at '{node.output[0]}' divides by a norm over several features."
        )
    return [source]


def _arg_reduce(t: Tracer, node: onnx.NodeProto) -> list[Sources]:
    """ArgMax / ArgMin over an axis whose cells all come from one feature (a binned feature)."""
    source = t.trace(node.input[0])
    keep = bool(attribute(node, "keepdims", 1))
    return [reduce_axis(source, axis_of(node, source), keep, node)]


def _reduce(t: Tracer, node: onnx.NodeProto) -> list[Sources]:
    """Reduce* over axes that are not the row axis."""
    source = t.trace(node.input[0])
    axes = axes_of(t, node)
    if not axes:
        raise UnsupportedGraph(f"{node.op_type} at '{node.output[0]}' reduces across rows.")
    keep = bool(attribute(node, "keepdims", 1))
    for axis in sorted((a + source.ndim + 1 if a < 0 else a for a in axes), reverse=True):
        if axis <= 0:
            raise UnsupportedGraph(f"{node.op_type} at '{node.output[0]}' reduces across rows.")
        source = reduce_axis(source, axis - 1, keep, node)
    return [source]


def _matmul(t: Tracer, node: onnx.NodeProto) -> list[Sources]:
    """Rows times a constant matrix: output column m depends on the input columns with a
    non-zero weight in column m (a diagonal matrix is per column, a PCA is refused)."""
    source = t.trace(node.input[0])
    weights = t.constant(node.input[1], "weight matrix")
    if node.op_type == "Gemm":
        if len(node.input) > 2 and node.input[2] and node.input[2] not in t.constants:
            raise UnsupportedGraph(f"Gemm at '{node.output[0]}' adds a computed tensor.")
        if int_attribute(node, "transA", 0):
            raise UnsupportedGraph(f"Gemm at '{node.output[0]}' transposes the rows.")
        if int_attribute(node, "transB", 0):
            weights = weights.T
    if source.ndim != 1 or weights.ndim != 2 or weights.shape[0] != source.shape[0]:
        raise UnsupportedGraph(f"{node.op_type} at '{node.output[0]}' is not rows × matrix.")
    out = np.full(weights.shape[1], CONSTANT, dtype=object)
    for m in range(weights.shape[1]):
        out[m] = one_feature(source[np.flatnonzero(weights[:, m])], node)
    return [out]


_REDUCE_OPS = (
    "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
    "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare",
)  # fmt: skip

HANDLERS: dict[str, Handler] = {
    "ArgMax": _arg_reduce,
    "ArgMin": _arg_reduce,
    "ArrayFeatureExtractor": _array_feature_extractor,
    "Concat": _concat,
    "FeatureVectorizer": _feature_vectorizer,
    "Flatten": _flatten,
    "Gather": _gather,
    "Gemm": _matmul,
    "MatMul": _matmul,
    "Normalizer": _normalizer,
    "OneHotEncoder": _one_hot,
    "Reshape": _reshape,
    "Slice": _slice,
    "Split": _split,
    "Squeeze": _squeeze,
    "Transpose": _transpose,
    "Unsqueeze": _unsqueeze,
    **dict.fromkeys(_REDUCE_OPS, _reduce),
}
