"""What every explainer returns, and the words for its method and output space.

Attributions are always per original input feature, in the space the model's score is formed
in: log-odds for a logistic link, probability when the model averages probabilities (a random
forest classifier), the raw score otherwise. Every method is interventional SHAP against a
background sample of the reference data, so all of them answer one question: how far does
this feature's value move the output away from its average over the reference population.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

Progress = Callable[[int, int], None]  # (rows done, rows total)
FloatArray = npt.NDArray[np.float64]


class Method(StrEnum):
    TREE_SHAP = "tree_shap"
    LINEAR_SHAP = "linear_shap"
    PERMUTATION = "permutation"

    @property
    def label(self) -> str:
        return {
            "tree_shap": "Exact TreeSHAP",
            "linear_shap": "Exact linear SHAP",
            "permutation": "Permutation SHAP (approximate)",
        }[self.value]

    @property
    def words(self) -> str:
        return METHOD_WORDS[self]


METHOD_WORDS = {
    Method.TREE_SHAP: (
        "Exact TreeSHAP: the tree ensemble is read from the registered ONNX graph and its "
        "Shapley values computed exactly against a background sample of the reference data. "
        "The same numbers as shap's TreeExplainer on the original model."
    ),
    Method.LINEAR_SHAP: (
        "Exact linear SHAP: the coefficients are read from the registered ONNX graph; a "
        "feature's contribution is its coefficient times how far its value lies from the "
        "reference sample's mean (summed over its encoded columns)."
    ),
    Method.PERMUTATION: (
        "Permutation SHAP (approximate): the model is a black box to Vigil, so shap's "
        "permutation explainer runs it many times with features swapped for values of a "
        "background sample. Contributions add up exactly to the output, but each one is an "
        "estimate, it takes seconds per prediction, and a time budget may stop it early."
    ),
}


class OutputSpace(StrEnum):
    LOG_ODDS = "log_odds"
    PROBABILITY = "probability"
    RAW = "raw"

    @property
    def words(self) -> str:
        return {
            "log_odds": "log-odds of the favourable outcome",
            "probability": "probability of the favourable outcome",
            "raw": "model score",
        }[self.value]


@dataclass(frozen=True, eq=False)
class Attributions:
    """SHAP values for some rows: values[i, j] is feature j's share of row i's output."""

    features: tuple[str, ...]
    values: FloatArray  # [rows, features]
    base_value: float  # expected output over the background
    outputs: FloatArray  # [rows] the model output being explained
    output_space: OutputSpace
    method: Method
    complete: bool = True  # False when a time budget stopped the fallback early


class Explainer(Protocol):
    """What the store-facing code needs of an explainer, whichever method it uses."""

    @property
    def method(self) -> Method: ...

    @property
    def output_space(self) -> OutputSpace: ...

    @property
    def features(self) -> tuple[str, ...]: ...

    @property
    def base_value(self) -> float: ...

    @property
    def reason(self) -> str:
        """Why this method was chosen (empty for the exact methods)."""
        ...

    def explain(
        self,
        frame: pd.DataFrame,
        *,
        progress: Progress | None = None,
        time_budget_s: float | None = None,
    ) -> Attributions: ...


def sigmoid(x: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64))), dtype=np.float64)


def sigmoid1(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-float(x))))
