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

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import onnx
from onnx import helper

from vigil.core.explain.tracing import CONSTANT, Tracer, UnsupportedGraph, int_attribute
from vigil.core.explain.tracing_ops import HANDLERS


def column_sources(model: onnx.ModelProto, tensor: str) -> tuple[str, ...]:
    """For each column of `tensor` (a row flattened), the graph input it is computed from
    ("" for a column that is a constant)."""
    return tuple(str(s) for s in Tracer(model, HANDLERS).trace(tensor).reshape(-1))


def feature_map(
    model: onnx.ModelProto, tensor: str, features: Sequence[str]
) -> npt.NDArray[np.float64]:
    """[columns, features] with a 1 where a column is computed from a feature: encoded
    attributions times this matrix are attributions per feature."""
    sources = column_sources(model, tensor)
    unknown = sorted(set(sources) - set(features) - {CONSTANT})
    if unknown:
        raise UnsupportedGraph(f"Columns come from undeclared inputs {unknown}.")
    matrix = np.zeros((len(sources), len(features)))
    for column, name in enumerate(sources):
        if name != CONSTANT:
            matrix[column, list(features).index(name)] = 1.0
    return matrix


def with_output(model: onnx.ModelProto, tensor: str) -> bytes:
    """The model with an inner tensor added as a graph output, so one onnxruntime run
    yields the encoded matrix the explained node sees."""
    edited = onnx.ModelProto()
    edited.CopyFrom(model)
    producer = next((n for n in edited.graph.node if tensor in n.output), None)
    elem_type: int = onnx.TensorProto.FLOAT
    if producer is not None and producer.op_type == "Cast":
        elem_type = int_attribute(producer, "to", onnx.TensorProto.FLOAT)
    else:
        inferred = onnx.shape_inference.infer_shapes(edited)
        for value in (*inferred.graph.value_info, *inferred.graph.input):
            if value.name == tensor and value.type.tensor_type.elem_type:
                elem_type = value.type.tensor_type.elem_type
    edited.graph.output.append(helper.make_tensor_value_info(tensor, elem_type, None))
    return bytes(edited.SerializeToString())
