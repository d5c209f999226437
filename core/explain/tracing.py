"""Which original feature each column of a tensor inside an ONNX graph is computed from.

Why: TreeSHAP and linear SHAP explain the matrix the trees or coefficients see, and a
reviewer needs those numbers per original feature. A converted scikit-learn, LightGBM or
XGBoost pipeline builds that matrix with column-wise ops (casts, label encoders, scalers,
imputers, binarizers), one-to-many ops (one-hot encoders) and ops that move columns around
(concat, reshape, flatten, squeeze, slices, gathers, feature extractors). Tracing them tells,
for every column, the single feature it depends on; the columns of one feature (its one-hot
columns) are then summed back into it. Any op that mixes features within one column (a PCA,
a row normaliser over several features) makes the mapping impossible: `UnsupportedGraph`
sends the caller to the model-agnostic explainer.

Each tensor is traced to a numpy object array shaped like one row of it (the batch axis
dropped) whose cells name the feature the cell is computed from ("" for constants).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt
import onnx
from onnx import helper, numpy_helper

from vigil.core.errors import VigilError

Sources = npt.NDArray[np.object_]
CONSTANT = ""

# One input, one output of the same shape, cell by cell.
ELEMENTWISE_UNARY = frozenset(
    {
        "Abs", "Binarizer", "Cast", "Ceil", "Exp", "Floor", "Identity", "Imputer", "IsInf",
        "IsNaN", "LabelEncoder", "Log", "Neg", "Not", "Reciprocal", "Relu", "Round", "Scaler",
        "Sigmoid", "Sign", "Sqrt", "Clip", "CastLike",
    }
)  # fmt: skip
# Several inputs broadcast against each other; a cell depends on the same cell of each.
ELEMENTWISE_NARY = frozenset(
    {
        "Add", "And", "BitShift", "Div", "Equal", "Greater", "GreaterOrEqual", "Less",
        "LessOrEqual", "Max", "Mean", "Min", "Mod", "Mul", "Or", "Pow", "Sub", "Sum", "Where",
        "Xor",
    }
)  # fmt: skip


class UnsupportedGraph(VigilError):
    """The graph's columns cannot be tied to single features (the fallback explainer is used)."""


def attribute(node: onnx.NodeProto, name: str, default: object = None) -> object:
    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def int_attribute(node: onnx.NodeProto, name: str, default: int) -> int:
    value = attribute(node, name, default)
    if not isinstance(value, (int, np.integer)):
        raise UnsupportedGraph(f"Attribute {name} of {node.op_type} is not an integer.")
    return int(value)


def ints(value: object) -> list[int]:
    return [int(v) for v in np.asarray(value).ravel()]


Handler = Callable[["Tracer", onnx.NodeProto], list[Sources]]


class Tracer:
    """Traces tensors to their sources, memoised; `handlers` know the ops that move columns."""

    def __init__(self, model: onnx.ModelProto, handlers: dict[str, Handler]) -> None:
        self.handlers = handlers
        self.producers = {out: node for node in model.graph.node for out in node.output}
        self.constants: dict[str, npt.NDArray[np.generic]] = {
            init.name: numpy_helper.to_array(init) for init in model.graph.initializer
        }
        for node in model.graph.node:
            if node.op_type == "Constant":
                value = attribute(node, "value")
                if isinstance(value, onnx.TensorProto):
                    self.constants[node.output[0]] = numpy_helper.to_array(value)
        self.inputs = {v.name: v for v in model.graph.input if v.name not in self.constants}
        self.memo: dict[str, Sources] = {}

    def constant(self, name: str, what: str) -> npt.NDArray[np.generic]:
        if name not in self.constants:
            raise UnsupportedGraph(f"The {what} '{name}' is computed at run time, not a constant.")
        return self.constants[name]

    def trace(self, name: str) -> Sources:
        if name not in self.memo:
            if name in self.inputs:
                self.memo[name] = self._input(self.inputs[name])
            elif name in self.constants:
                raise UnsupportedGraph(f"Tensor '{name}' is a constant, not a feature.")
            elif name in self.producers:
                node = self.producers[name]
                outputs = self._node(node)
                for out, sources in zip(node.output, outputs, strict=False):
                    self.memo[out] = sources
            else:
                raise UnsupportedGraph(f"Tensor '{name}' is neither an input nor computed.")
        return self.memo[name]

    def _input(self, value: onnx.ValueInfoProto) -> Sources:
        dims = value.type.tensor_type.shape.dim[1:]
        sizes = [d.dim_value for d in dims]
        if any(s <= 0 for s in sizes):
            raise UnsupportedGraph(f"Input '{value.name}' has no fixed column count.")
        return np.full(tuple(sizes), value.name, dtype=object)

    def _node(self, node: onnx.NodeProto) -> list[Sources]:
        op = node.op_type
        if op in ELEMENTWISE_UNARY:
            return [self.trace(node.input[0])]
        if op in ELEMENTWISE_NARY:
            return [self._elementwise(node)]
        handler = self.handlers.get(op)
        if handler is None:
            raise UnsupportedGraph(
                f"Op {op} at '{node.output[0]}' mixes or reshapes columns in a way Vigil "
                "cannot map back to single features."
            )
        return handler(self, node)

    def _elementwise(self, node: onnx.NodeProto) -> Sources:
        """Broadcast the inputs' sources; a cell fed by two different features is refused."""
        parts: list[Sources] = []
        rank = max(
            (self.trace(n).ndim + 1 for n in node.input if n and n not in self.constants),
            default=0,
        )
        if rank == 0:
            raise UnsupportedGraph(f"Op {node.op_type} at '{node.output[0]}' has no feature input.")
        for name in node.input:
            if not name:
                continue
            if name in self.constants:
                shape = self.constants[name].shape
                if len(shape) > rank or (len(shape) == rank and shape[0] != 1):
                    raise UnsupportedGraph(f"Constant '{name}' spans rows at '{node.output[0]}'.")
                parts.append(np.full(shape[1:] if len(shape) == rank else shape, "", object))
            else:
                parts.append(self.trace(name))
        try:
            cells = np.broadcast_arrays(*parts)
        except ValueError as err:
            raise UnsupportedGraph(f"Shapes do not broadcast at '{node.output[0]}'.") from err
        out = np.full(cells[0].shape, CONSTANT, dtype=object)
        for index in np.ndindex(out.shape):
            out[index] = one_feature((c[index] for c in cells), node)
        return out


def one_feature(cells: Iterable[object], node: onnx.NodeProto) -> str:
    """The single feature some cells come from; two features in one output cell refuse."""
    names = {str(c) for c in cells} - {CONSTANT}
    if len(names) > 1:
        raise UnsupportedGraph(
            f"Op {node.op_type} at '{node.output[0]}' combines {sorted(names)} in one column."
        )
    return names.pop() if names else CONSTANT


def reduce_axis(source: Sources, axis: int, keep: bool, node: onnx.NodeProto) -> Sources:
    """Sources after reducing one axis: each output cell depends on the whole axis."""
    moved = np.moveaxis(source, axis, -1)
    out = np.full(moved.shape[:-1], CONSTANT, dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = one_feature(moved[index], node)
    return np.expand_dims(out, axis) if keep else out


def axis_of(node: onnx.NodeProto, sources: Sources, default: int = 0) -> int:
    """An ONNX axis of a batched tensor as an axis of its sources (batch axis refused)."""
    axis = int_attribute(node, "axis", default)
    if axis < 0:
        axis += sources.ndim + 1
    if axis <= 0 or axis > sources.ndim:
        raise UnsupportedGraph(f"Op {node.op_type} at '{node.output[0]}' works across rows.")
    return axis - 1


def axes_of(t: Tracer, node: onnx.NodeProto) -> list[int] | None:
    if len(node.input) > 1 and node.input[1]:
        return ints(t.constant(node.input[1], "axes"))
    value = attribute(node, "axes")
    return None if value is None else ints(value)
