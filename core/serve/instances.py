"""Request instances checked against a version's declared features, scored with onnxruntime.

Validation names every bad field once (`instances[3].age: ...`), so a caller fixes a batch in
one round trip. Feeds are built straight from the JSON values (no DataFrame per request): one
[n, 1] tensor per model input, text as strings, everything else as float32, exactly like
`registry.artifacts.build_feed`, which a test holds this to.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort

from vigil.core.contract import TYPE_NOUNS, FeatureSpec
from vigil.core.errors import ArtifactError

REQUEST_ID = "request_id"
MAX_REQUEST_ID = 128
JSON_TYPES = {"number": "number", "integer": "integer", "string": "string", "boolean": "boolean"}


@dataclass(frozen=True)
class FieldError:
    """One bad field: where (FastAPI-style location) and what is wrong with it."""

    loc: tuple[str | int, ...]
    msg: str
    type: str


def _type_problem(spec: FeatureSpec, value: Any) -> str | None:
    if spec.type == "string":
        return None if isinstance(value, str) else "must be text"
    if spec.type == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be {TYPE_NOUNS[spec.type]}"
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if spec.type == "integer" and isinstance(value, float) and not value.is_integer():
        return "must be a whole number"
    return None


def _instance_errors(
    index: int, instance: Any, features: tuple[FeatureSpec, ...], names: frozenset[str]
) -> list[FieldError]:
    where: tuple[str | int, ...] = ("body", "instances", index)
    if not isinstance(instance, dict):
        return [FieldError(where, "must be an object of feature: value", "type_error")]
    errors: list[FieldError] = []
    for key in instance:
        if key not in names and key != REQUEST_ID:
            errors.append(
                FieldError(
                    (*where, key),
                    f"unknown field; this model's features are {', '.join(sorted(names))}",
                    "extra_forbidden",
                )
            )
    rid = instance.get(REQUEST_ID)
    if rid is not None and (not isinstance(rid, str) or not 0 < len(rid) <= MAX_REQUEST_ID):
        errors.append(
            FieldError(
                (*where, REQUEST_ID),
                f"must be text of 1 to {MAX_REQUEST_ID} characters",
                "type_error",
            )
        )
    for spec in features:
        if spec.name not in instance:
            if not spec.nullable:
                errors.append(
                    FieldError(
                        (*where, spec.name), f"required ({TYPE_NOUNS[spec.type]})", "missing"
                    )
                )
            continue
        value = instance[spec.name]
        if value is None:
            if not spec.nullable:
                errors.append(FieldError((*where, spec.name), "must not be null", "null"))
            continue
        problem = _type_problem(spec, value)
        if problem:
            errors.append(
                FieldError((*where, spec.name), f"{problem}, got {_show(value)}", "type_error")
            )
    return errors


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


_FAST_TYPES = {
    "number": frozenset({float, int}),
    "integer": frozenset({int}),
    "string": frozenset({str}),
    "boolean": frozenset({bool}),
}


def _clean(instances: Sequence[Any], features: tuple[FeatureSpec, ...]) -> bool:
    """True when a quick column-wise look proves the batch valid (the common case); False
    means "look row by row", which also writes the messages."""
    if not all(type(row) is dict for row in instances):
        return False
    allowed = frozenset(f.name for f in features) | {REQUEST_ID}
    if any(not allowed.issuperset(row) for row in instances):
        return False
    for spec in features:
        column = [row.get(spec.name) for row in instances]
        kinds = set(map(type, column))
        ok = _FAST_TYPES[spec.type] | ({type(None)} if spec.nullable else set())
        if not kinds <= ok:
            return False
        if float in kinds and not np.isfinite(np.array(column, dtype=float)).all():
            return False
    ids = [row[REQUEST_ID] for row in instances if REQUEST_ID in row]
    return all(type(v) is str and 0 < len(v) <= MAX_REQUEST_ID for v in ids)


def validate(instances: Sequence[Any], features: tuple[FeatureSpec, ...]) -> list[FieldError]:
    """Every problem of every instance; empty when the batch can be scored."""
    if _clean(instances, features):
        return []
    names = frozenset(f.name for f in features)
    errors: list[FieldError] = []
    for index, instance in enumerate(instances):
        errors.extend(_instance_errors(index, instance, features, names))
    return errors


def build_feed(
    instances: Sequence[dict[str, Any]], features: tuple[FeatureSpec, ...]
) -> dict[str, np.ndarray]:
    """One [n, 1] tensor per model input (validated instances; a missing nullable is NaN)."""
    feed: dict[str, np.ndarray] = {}
    n = len(instances)
    for spec in features:
        if not spec.model_input:
            continue
        values = [row.get(spec.name) for row in instances]
        if spec.type == "string":
            feed[spec.name] = np.array([str(v) for v in values], dtype=object).reshape(n, 1)
        else:
            feed[spec.name] = np.array(
                [np.nan if v is None else float(v) for v in values], dtype=np.float32
            ).reshape(n, 1)
    return feed


def score(
    session: ort.InferenceSession,
    instances: Sequence[dict[str, Any]],
    features: tuple[FeatureSpec, ...],
) -> np.ndarray:
    """The positive-class probability (classification) or the value (regression) per row."""
    outputs = session.run(None, build_feed(instances, features))
    names = [o.name for o in session.get_outputs()]
    if "probabilities" in names:
        return np.asarray(outputs[names.index("probabilities")])[:, -1].astype(float)
    for value in outputs:
        array = np.asarray(value)
        if array.dtype.kind == "f":
            return array.reshape(len(instances), -1)[:, 0].astype(float)
    raise ArtifactError("The model has no numeric output to use as its score")


def predicted_labels(scores: np.ndarray, task: str, threshold: float | None) -> list[str | None]:
    """'1'/'0' against the version's decision threshold; None for regression."""
    if task != "binary_classification":
        return [None] * len(scores)
    cut = 0.5 if threshold is None else threshold
    return ["1" if s >= cut else "0" for s in scores.tolist()]


def instance_schema(features: tuple[FeatureSpec, ...]) -> dict[str, Any]:
    """JSON Schema of one instance, for the OpenAPI document."""
    properties: dict[str, Any] = {}
    for spec in features:
        kind = JSON_TYPES[spec.type]
        prop: dict[str, Any] = {"type": [kind, "null"] if spec.nullable else kind}
        notes = [
            n
            for n, on in (
                ("sensitive", spec.sensitive),
                ("not a model input", not spec.model_input),
            )
            if on
        ]
        if notes:
            prop["description"] = "; ".join(notes)
        properties[spec.name] = prop
    properties[REQUEST_ID] = {
        "type": "string",
        "maxLength": MAX_REQUEST_ID,
        "description": "optional caller id; canary and A/B assignment is sticky by it",
    }
    return {
        "type": "object",
        "properties": properties,
        "required": [f.name for f in features if not f.nullable],
        "additionalProperties": False,
    }
