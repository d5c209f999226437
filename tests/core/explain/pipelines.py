"""Standard pipelines of every tree and linear family Vigil reads, trained on the German
credit data and converted to ONNX the way their users convert them (skl2onnx, with
onnxmltools' converters for LightGBM and XGBoost)."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier, LGBMRegressor
from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
from skl2onnx import convert_sklearn, update_registered_converter
from skl2onnx.common import tree_ensemble
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from skl2onnx.common.shape_calculator import (
    calculate_linear_classifier_output_shapes,
    calculate_linear_regressor_output_shapes,
)
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from xgboost import XGBClassifier, XGBRegressor

from vigil.core.contract import FeatureSpec
from vigil.core.demo.model import load_dataset

CATEGORICAL = ["housing", "saving_accounts", "checking_account", "purpose"]
IMPUTED = ["credit_amount", "duration"]
PASSTHROUGH = ["job", "age"]
FEATURES = CATEGORICAL + IMPUTED + PASSTHROUGH
SPECS = tuple(FeatureSpec(name=c, type="string", categorical=True) for c in CATEGORICAL) + tuple(
    FeatureSpec(name=c, type="number", categorical=False) for c in IMPUTED + PASSTHROUGH
)

update_registered_converter(
    LGBMClassifier,
    "LightGbmLGBMClassifier",
    calculate_linear_classifier_output_shapes,
    convert_lightgbm,
    options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
)
update_registered_converter(
    LGBMRegressor,
    "LightGbmLGBMRegressor",
    calculate_linear_regressor_output_shapes,
    convert_lightgbm,
    options={"split": None},
)
update_registered_converter(
    XGBClassifier,
    "XGBoostXGBClassifier",
    calculate_linear_classifier_output_shapes,
    convert_xgboost,
    options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
)
update_registered_converter(
    XGBRegressor, "XGBoostXGBRegressor", calculate_linear_regressor_output_shapes, convert_xgboost
)

_add_node = tree_ensemble.add_node


def _add_node_without_bools(*args: Any, **kwargs: Any) -> None:
    """skl2onnx 1.20 writes a Python False for a histogram leaf's missing-value flag, which
    onnx 1.23 refuses in an integer attribute; the converter's own intent is 0."""
    missing = kwargs.get("nodes_missing_value_tracks_true")
    if missing is not None:
        kwargs["nodes_missing_value_tracks_true"] = int(missing)
    _add_node(*args, **kwargs)


tree_ensemble.add_node = _add_node_without_bools

ESTIMATORS: dict[str, Any] = {
    "gradient_boosting_classifier": lambda: GradientBoostingClassifier(
        n_estimators=40, max_depth=3, random_state=0
    ),
    "gradient_boosting_regressor": lambda: GradientBoostingRegressor(
        n_estimators=40, max_depth=3, random_state=0
    ),
    "random_forest_classifier": lambda: RandomForestClassifier(
        n_estimators=15, max_depth=5, random_state=0
    ),
    "random_forest_regressor": lambda: RandomForestRegressor(
        n_estimators=15, max_depth=5, random_state=0
    ),
    "extra_trees_classifier": lambda: ExtraTreesClassifier(
        n_estimators=15, max_depth=5, random_state=0
    ),
    "extra_trees_regressor": lambda: ExtraTreesRegressor(
        n_estimators=15, max_depth=5, random_state=0
    ),
    "hist_gradient_boosting_classifier": lambda: HistGradientBoostingClassifier(
        max_iter=30, random_state=0
    ),
    "hist_gradient_boosting_regressor": lambda: HistGradientBoostingRegressor(
        max_iter=30, random_state=0
    ),
    "lightgbm_classifier": lambda: LGBMClassifier(n_estimators=30, random_state=0, verbose=-1),
    "lightgbm_regressor": lambda: LGBMRegressor(n_estimators=30, random_state=0, verbose=-1),
    "xgboost_classifier": lambda: XGBClassifier(n_estimators=30, max_depth=3, random_state=0),
    "xgboost_regressor": lambda: XGBRegressor(n_estimators=30, max_depth=3, random_state=0),
    "logistic_regression": lambda: LogisticRegression(max_iter=2000),
    "linear_regression": LinearRegression,
    "mlp_classifier": lambda: MLPClassifier(hidden_layer_sizes=(6,), max_iter=400, random_state=0),
}


def _is_classifier(name: str) -> bool:
    return name.endswith("classifier") or name == "logistic_regression"


@dataclass(frozen=True)
class Converted:
    name: str
    pipeline: Pipeline
    onnx_bytes: bytes
    data: pd.DataFrame  # features and the target, with some missing numbers

    @property
    def classifier(self) -> bool:
        return _is_classifier(self.name)

    def encoded(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.pipeline["encode"].transform(frame[FEATURES]), dtype=float)

    def encoded_owner(self) -> list[str]:
        """The feature each encoded column belongs to, from scikit-learn's own names."""
        names = self.pipeline["encode"].get_feature_names_out()
        return [next(f for f in FEATURES if n.split("__", 1)[1].startswith(f)) for n in names]

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's own output in the space shap explains it."""
        model, x = self.pipeline["model"], self.encoded(frame)
        if not self.classifier:
            return np.asarray(model.predict(x), dtype=float)
        if isinstance(model, (RandomForestClassifier, ExtraTreesClassifier)):
            return np.asarray(model.predict_proba(x)[:, 1], dtype=float)
        if isinstance(model, LGBMClassifier):
            return np.asarray(model.predict(x, raw_score=True), dtype=float)
        if isinstance(model, XGBClassifier):
            return np.asarray(model.predict(x, output_margin=True), dtype=float)
        return np.asarray(model.decision_function(x), dtype=float)


def credit_data(rows: int | None = None) -> pd.DataFrame:
    """The German credit data with a few missing numbers, so imputers and default branches
    are exercised."""
    data = load_dataset().reset_index(drop=True)
    data["credit_amount"] = data["credit_amount"].astype(float)
    data["duration"] = data["duration"].astype(float)
    data.loc[data.index % 37 == 0, "credit_amount"] = np.nan
    return data if rows is None else data.iloc[:rows]


@functools.cache
def convert(name: str, *, zipmap: bool = False, scale: bool = False) -> Converted:
    """The pipeline: one-hot categories, imputed numbers (scaled when `scale`), and numbers
    passed through. Trees get unscaled numbers: the graph scales in float32 and scikit-learn
    in float64, and a value one float32 step away from a split point that sits on a data
    value (as scikit-learn's and XGBoost's do) takes the other branch."""
    data = credit_data()
    imputed: Any = SimpleImputer(strategy="median")
    if scale:
        imputed = Pipeline([("impute", imputed), ("scale", StandardScaler())])
    encode = ColumnTransformer(
        [
            (
                "categories",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                CATEGORICAL,
            ),
            ("imputed", imputed, IMPUTED),
            ("numbers", "passthrough", PASSTHROUGH),
        ]
    )
    pipeline = Pipeline([("encode", encode), ("model", ESTIMATORS[name]())])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of the small networks
        pipeline.fit(data[FEATURES], data["risk"])
    inputs = [(c, StringTensorType([None, 1])) for c in CATEGORICAL]
    inputs += [(c, FloatTensorType([None, 1])) for c in IMPUTED + PASSTHROUGH]
    options = {id(pipeline): {"zipmap": zipmap}} if _is_classifier(name) else {}
    model = convert_sklearn(
        pipeline,
        initial_types=inputs,
        options=options,
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return Converted(name, pipeline, model.SerializeToString(), data)
