"""Train the demo's credit-risk models with scikit-learn and convert them to ONNX."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from vigil.core.settings import REPO_ROOT

DATASET = REPO_ROOT / "data" / "german_credit.csv"
MODEL_NAME = "credit-risk"
# The model's inputs. Sex is not one of them: it is recorded beside each prediction so that
# fairness can be tested (as a bank must), but the model never sees it.
CATEGORICAL = ["housing", "saving_accounts", "checking_account", "purpose"]
NUMERIC = ["job", "credit_amount", "duration", "age"]
FEATURES = CATEGORICAL + NUMERIC
SENSITIVE_ONLY = ["sex"]
LOGGED = SENSITIVE_ONLY + FEATURES  # every column a prediction log carries
TARGET = "risk"
SAVINGS_ORDER = ["little", "moderate", "quite rich", "rich"]
CHECKING_ORDER = ["little", "moderate", "rich"]

FEATURE_SCHEMA: list[dict[str, Any]] = [
    {"name": "sex", "type": "string", "categorical": True, "sensitive": True, "model_input": False},
    {
        "name": "housing",
        "type": "string",
        "categorical": True,
        "reason_lowers": "Housing situation (renting or living rent-free)",
        "reason_raises": "Owns the home",
    },
    {
        "name": "saving_accounts",
        "type": "string",
        "categorical": True,
        "reason_lowers": "Insufficient savings",
        "reason_raises": "Substantial savings",
        "order": SAVINGS_ORDER,
        "monotonic": "increasing",
    },
    {
        "name": "checking_account",
        "type": "string",
        "categorical": True,
        "reason_lowers": "Low or no checking account balance",
        "reason_raises": "Healthy checking account balance",
        "order": CHECKING_ORDER,
        "monotonic": "increasing",
    },
    {
        "name": "purpose",
        "type": "string",
        "categorical": True,
        "reason_lowers": "Purpose of the loan carries more risk",
        "reason_raises": "Purpose of the loan carries less risk",
    },
    {
        "name": "job",
        "type": "integer",
        "categorical": True,
        "reason_lowers": "Level of employment skill",
        "reason_raises": "Skilled or highly qualified employment",
        "order": ["0", "1", "2", "3"],
    },
    {
        "name": "credit_amount",
        "type": "number",
        "categorical": False,
        "reason_lowers": "Amount of credit requested is high",
        "reason_raises": "Amount of credit requested is moderate",
    },
    {
        "name": "duration",
        "type": "integer",
        "categorical": False,
        "reason_lowers": "Loan term is long",
        "reason_raises": "Loan term is short",
    },
    {
        "name": "age",
        "type": "integer",
        "categorical": False,
        "sensitive": True,
        "reason_lowers": "Age of applicant",
        "reason_raises": "Age of applicant",
    },
]


@dataclass(frozen=True)
class TrainedVersion:
    version: str
    pipeline: Pipeline
    onnx_bytes: bytes
    metadata: dict[str, Any]
    reference: pd.DataFrame


def load_dataset(path: Path = DATASET) -> pd.DataFrame:
    frame = pd.read_csv(path)
    for column in SENSITIVE_ONLY + CATEGORICAL:
        frame[column] = frame[column].astype(str)
    return frame


def build_pipeline(**params: Any) -> Pipeline:
    """Ordinal-encoded categories feed the trees directly: one tree input per feature keeps
    TreeSHAP attributions in the features a reviewer knows, not in one-hot columns."""
    encode = ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                CATEGORICAL,
            ),
            ("numbers", "passthrough", NUMERIC),
        ]
    )
    return Pipeline([("encode", encode), ("trees", GradientBoostingClassifier(**params))])


def to_onnx(pipeline: Pipeline) -> bytes:
    inputs = [(c, StringTensorType([None, 1])) for c in CATEGORICAL]
    inputs += [(c, FloatTensorType([None, 1])) for c in NUMERIC]
    model = convert_sklearn(
        pipeline,
        initial_types=inputs,
        options={id(pipeline): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return bytes(model.SerializeToString())


def holdout_metrics(y_true: np.ndarray, score: np.ndarray, sex: pd.Series) -> dict[str, float]:
    predicted = (score >= 0.5).astype(int)
    rate = {g: float(predicted[(sex == g).to_numpy()].mean()) for g in ("female", "male")}
    return {
        "roc_auc": float(roc_auc_score(y_true, score)),
        "accuracy": float(accuracy_score(y_true, predicted)),
        "precision": float(precision_score(y_true, predicted)),
        "recall": float(recall_score(y_true, predicted)),
        "f1": float(f1_score(y_true, predicted)),
        "log_loss": float(log_loss(y_true, score)),
        "brier": float(brier_score_loss(y_true, score)),
        "selection_rate_female": rate["female"],
        "selection_rate_male": rate["male"],
        "demographic_parity_ratio_sex": min(rate.values()) / max(rate.values()),
    }


VERSIONS: dict[str, dict[str, Any]] = {
    "1.0": {
        "params": {"n_estimators": 120, "max_depth": 3, "learning_rate": 0.05, "random_state": 7},
        "training_date": "2026-06-30",
        "training_data_version": "german-credit@2026-06 (train split, seed 7)",
        "code_commit": "3f9c2e1",
        "notes": "First production model for retail credit pre-screening.",
        "previous_version": None,
    },
    "1.1": {
        "params": {
            "n_estimators": 250,
            "max_depth": 3,
            "learning_rate": 0.05,
            "subsample": 0.8,
            "random_state": 11,
        },
        "training_date": "2026-11-02",
        "training_data_version": "german-credit@2026-10 (train split, seed 11)",
        "code_commit": "a71d09b",
        "notes": "Retrained with more trees and row subsampling; challenger in shadow mode.",
        "previous_version": "1.0",
    },
}


def train_version(version: str, data: pd.DataFrame | None = None) -> TrainedVersion:
    """Deterministic: the same version always trains the same model on the same split."""
    spec = VERSIONS[version]
    data = load_dataset() if data is None else data
    train, holdout = train_test_split(
        data, test_size=0.3, random_state=spec["params"]["random_state"], stratify=data[TARGET]
    )
    pipeline = build_pipeline(**spec["params"])
    pipeline.fit(train[FEATURES], train[TARGET])
    score = pipeline.predict_proba(holdout[FEATURES])[:, 1]
    metrics = holdout_metrics(holdout[TARGET].to_numpy(), score, holdout["sex"])
    reference = train[LOGGED].copy()
    reference["label"] = train[TARGET].astype(float)
    metadata = {
        "model_name": MODEL_NAME,
        "model_version": version,
        "task": "binary_classification",
        "training_date": spec["training_date"],
        "owner": "Retail Credit Analytics",
        "training_data_version": spec["training_data_version"],
        "code_commit": spec["code_commit"],
        "hyperparameters": {"algorithm": "GradientBoostingClassifier", **spec["params"]},
        "validation_metrics": {"holdout": metrics},
        "features": FEATURE_SCHEMA,
        "positive_label": "1 (good credit risk)",
        "decision_threshold": 0.5,
        "intended_use": (
            "Pre-screening of retail loan applications; a loan officer takes the decision."
        ),
        "limitations": (
            "Trained on 1,000 historical German applications; not validated for business "
            "loans above 20,000 DM or applicants under 19."
        ),
        "risk_tier": "high",
        "next_review_date": (
            dt.date.fromisoformat(spec["training_date"]) + dt.timedelta(days=180)
        ).isoformat(),
        "previous_version": spec["previous_version"],
        "notes": spec["notes"],
    }
    return TrainedVersion(version, pipeline, to_onnx(pipeline), metadata, reference)
