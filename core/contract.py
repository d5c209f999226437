"""The prediction-log contract and a model version's metadata, parsed and checked."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.core.errors import MetadataError
from vigil.core.results import to_jsonable

TASKS = ("binary_classification", "regression")
FEATURE_TYPES = {"number": "DOUBLE", "integer": "BIGINT", "string": "VARCHAR", "boolean": "BOOLEAN"}
TYPE_NOUNS = {
    "number": "a number",
    "integer": "an integer",
    "string": "text",
    "boolean": "true/false",
}
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
COLUMN_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

# Columns every log row has, besides the model's own features (see README: the log contract).
CONTRACT_COLUMNS = (
    "prediction_id",
    "model_name",
    "model_version",
    "timestamp",
    "prediction",
    "predicted_label",
    "latency_ms",
    "status",
)
LABEL_COLUMNS = ("prediction_id", "label", "label_timestamp")
RESERVED = {*CONTRACT_COLUMNS, "served_at", "batch_id", "ingested_at", "label"}

REQUIRED_METADATA = (
    "model_name",
    "model_version",
    "task",
    "training_date",
    "owner",
    "training_data_version",
    "code_commit",
    "hyperparameters",
    "validation_metrics",
    "features",
)


@dataclass(frozen=True)
class FeatureSpec:
    """One column of the model's input (or an extra column such as a sensitive attribute)."""

    name: str
    type: str
    categorical: bool
    nullable: bool = False
    sensitive: bool = False
    model_input: bool = True
    # Optional, read by explanations and robustness checks: the reason a decision gives when
    # this feature lowered or raised the score (adverse-action reasons), a declared monotonic
    # relation to the score ("increasing" | "decreasing"), and an order of the categories.
    reason_lowers: str | None = None
    reason_raises: str | None = None
    monotonic: str | None = None
    order: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", tuple(str(v) for v in self.order))  # JSON lists

    @property
    def sql_type(self) -> str:
        return FEATURE_TYPES[self.type]


class FeatureSet:
    """What a metadata document and a stored version both derive from their features."""

    features: tuple[FeatureSpec, ...]

    @property
    def model_inputs(self) -> tuple[FeatureSpec, ...]:
        return tuple(f for f in self.features if f.model_input)

    @property
    def sensitive(self) -> tuple[FeatureSpec, ...]:
        return tuple(f for f in self.features if f.sensitive)


@dataclass(frozen=True)
class ModelMetadata(FeatureSet):
    """Everything the inventory records about one model version, as given at registration."""

    model_name: str
    model_version: str
    task: str
    training_date: dt.date
    owner: str
    training_data_version: str
    code_commit: str
    hyperparameters: dict[str, Any]
    validation_metrics: dict[str, dict[str, float]]
    features: tuple[FeatureSpec, ...]
    positive_label: str | None = None
    decision_threshold: float | None = None
    intended_use: str | None = None
    limitations: str | None = None
    risk_tier: str | None = None
    next_review_date: dt.date | None = None
    previous_version: str | None = None
    notes: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def feature_schema_json(self) -> str:
        return json.dumps(to_jsonable(list(self.features)))


def _date(value: Any, key: str, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as err:
        raise MetadataError(
            f"{where}: '{key}' must be a date like 2026-01-31, got {value!r}"
        ) from err


def _feature(raw: Any, index: int, where: str) -> FeatureSpec:
    if not isinstance(raw, dict) or "name" not in raw or "type" not in raw:
        raise MetadataError(f"{where}: features[{index}] needs at least 'name' and 'type'")
    name, ftype = str(raw["name"]), str(raw["type"])
    if not COLUMN_PATTERN.match(name) or name in RESERVED:
        raise MetadataError(
            f"{where}: feature name {name!r} is not allowed (letters, digits and _ only, "
            f"not one of the log contract's own columns)"
        )
    if ftype not in FEATURE_TYPES:
        raise MetadataError(
            f"{where}: feature {name!r} has type {ftype!r}; use one of {', '.join(FEATURE_TYPES)}"
        )
    categorical = bool(raw.get("categorical", ftype in ("string", "boolean")))
    if ftype == "string" and not categorical:
        raise MetadataError(f"{where}: feature {name!r} is text, so it must be categorical")
    monotonic, order = raw.get("monotonic"), raw.get("order", [])
    if monotonic not in (None, "increasing", "decreasing"):
        raise MetadataError(
            f"{where}: feature {name!r} has monotonic {monotonic!r}; use 'increasing' or "
            "'decreasing'"
        )
    if not isinstance(order, list) or (order and not categorical):
        raise MetadataError(f"{where}: 'order' of feature {name!r} must list its categories")
    if monotonic and ftype == "string" and not order:
        raise MetadataError(f"{where}: text feature {name!r} needs an 'order' to be monotonic")
    reasons = {k: raw.get(k) for k in ("reason_lowers", "reason_raises")}
    return FeatureSpec(
        name=name,
        type=ftype,
        categorical=categorical,
        nullable=bool(raw.get("nullable", False)),
        sensitive=bool(raw.get("sensitive", False)),
        model_input=bool(raw.get("model_input", True)),
        reason_lowers=None if reasons["reason_lowers"] is None else str(reasons["reason_lowers"]),
        reason_raises=None if reasons["reason_raises"] is None else str(reasons["reason_raises"]),
        monotonic=monotonic,
        order=tuple(str(v) for v in order),
    )


def parse_metadata(raw: dict[str, Any], where: str = "metadata") -> ModelMetadata:
    """Check a metadata document and turn it into ModelMetadata, naming what is wrong."""
    missing = [key for key in REQUIRED_METADATA if raw.get(key) in (None, "", [], {})]
    if missing:
        raise MetadataError(f"{where}: missing required field(s): {', '.join(missing)}")
    name, version = str(raw["model_name"]), str(raw["model_version"])
    if not NAME_PATTERN.match(name):
        raise MetadataError(
            f"{where}: model_name {name!r} must start with a letter and use letters, digits, "
            "'.', '_' or '-' (at most 64)"
        )
    if not NAME_PATTERN.match(version) and not re.match(r"^[0-9][A-Za-z0-9_.-]{0,63}$", version):
        raise MetadataError(f"{where}: model_version {version!r} must be letters, digits, . _ -")
    task = str(raw["task"])
    if task not in TASKS:
        raise MetadataError(f"{where}: task {task!r} must be one of {', '.join(TASKS)}")
    if not isinstance(raw["hyperparameters"], dict):
        raise MetadataError(f"{where}: 'hyperparameters' must be an object of name: value")
    metrics = raw["validation_metrics"]
    if not isinstance(metrics, dict) or not all(isinstance(v, dict) for v in metrics.values()):
        raise MetadataError(
            f"{where}: 'validation_metrics' must map each data set to its metrics, e.g. "
            '{"holdout": {"roc_auc": 0.78}}'
        )
    if not isinstance(raw["features"], list):
        raise MetadataError(f"{where}: 'features' must be a list")
    features = tuple(_feature(f, i, where) for i, f in enumerate(raw["features"]))
    names = [f.name for f in features]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise MetadataError(f"{where}: feature(s) declared twice: {', '.join(duplicates)}")
    if not any(f.model_input for f in features):
        raise MetadataError(f"{where}: at least one feature must be a model input")
    threshold = raw.get("decision_threshold")
    if task == "binary_classification":
        threshold = 0.5 if threshold is None else float(threshold)
        if not 0.0 < threshold < 1.0:
            raise MetadataError(f"{where}: decision_threshold must lie strictly between 0 and 1")
    known = {
        *REQUIRED_METADATA,
        "positive_label",
        "decision_threshold",
        "intended_use",
        "limitations",
        "risk_tier",
        "next_review_date",
        "previous_version",
        "notes",
    }
    return ModelMetadata(
        model_name=name,
        model_version=version,
        task=task,
        training_date=_date(raw["training_date"], "training_date", where),
        owner=str(raw["owner"]),
        training_data_version=str(raw["training_data_version"]),
        code_commit=str(raw["code_commit"]),
        hyperparameters=dict(raw["hyperparameters"]),
        validation_metrics={k: {m: float(x) for m, x in v.items()} for k, v in metrics.items()},
        features=features,
        positive_label=None if raw.get("positive_label") is None else str(raw["positive_label"]),
        decision_threshold=threshold,
        intended_use=raw.get("intended_use"),
        limitations=raw.get("limitations"),
        risk_tier=raw.get("risk_tier"),
        next_review_date=(
            _date(raw["next_review_date"], "next_review_date", where)
            if raw.get("next_review_date")
            else None
        ),
        previous_version=None
        if raw.get("previous_version") is None
        else str(raw["previous_version"]),
        notes=raw.get("notes"),
        extra={k: v for k, v in raw.items() if k not in known},
    )


def load_metadata(path: Path) -> ModelMetadata:
    try:
        raw = json.loads(Path(path).read_text())
    except FileNotFoundError as err:
        raise MetadataError(f"{path}: file not found") from err
    except json.JSONDecodeError as err:
        raise MetadataError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from err
    if not isinstance(raw, dict):
        raise MetadataError(f"{path}: must hold one JSON object")
    return parse_metadata(raw, where=str(path))
