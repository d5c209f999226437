"""The model-agnostic fallback: shap's permutation explainer over onnxruntime, for graphs
whose arithmetic Vigil cannot read (here a small neural network)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap

from tests.core.explain.pipelines import FEATURES, SPECS, convert
from vigil.core.explain.attributions import Method, OutputSpace
from vigil.core.explain.explainer import build_explainer
from vigil.core.explain.fallback import PermutationExplainer
from vigil.core.registry.artifacts import open_session


@pytest.fixture(scope="module")
def mlp():
    return convert("mlp_classifier", scale=True)


def _explainer(converted, background: pd.DataFrame) -> PermutationExplainer:
    data = converted.onnx_bytes
    explainer = build_explainer(data, open_session(data, "mlp"), SPECS, background)
    assert isinstance(explainer, PermutationExplainer)
    return explainer


def test_a_neural_network_gets_the_permutation_explainer_with_its_reasons(mlp) -> None:
    background = mlp.data[FEATURES].sample(40, random_state=1)
    explainer = _explainer(mlp, background)
    assert explainer.method == Method.PERMUTATION
    assert explainer.output_space == OutputSpace.PROBABILITY
    assert explainer.reason.startswith("The graph has 0 tree-ensemble nodes")
    assert "0 linear-model nodes" in explainer.reason
    seen: list[tuple[int, int]] = []
    rows = mlp.data[FEATURES].iloc[10:13]
    result = explainer.explain(
        rows, progress=lambda done, total: seen.append((done, total)), time_budget_s=None
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert result.complete
    # Efficiency: the permutation explainer's attributions add up exactly.
    np.testing.assert_allclose(
        result.values.sum(axis=1) + result.base_value, result.outputs, atol=1e-6
    )
    np.testing.assert_allclose(result.outputs, mlp.pipeline.predict_proba(rows)[:, 1], atol=1e-5)
    assert result.base_value == pytest.approx(
        mlp.pipeline.predict_proba(background)[:, 1].mean(), abs=1e-5
    )


def test_the_fallback_equals_shap_permutation_on_the_original_pipeline(mlp) -> None:
    """Same masker, same seed, the scikit-learn pipeline instead of onnxruntime: the same
    permutations of the same features give the same values (text coded independently)."""
    background = mlp.data[FEATURES].sample(30, random_state=2)
    rows = mlp.data[FEATURES].iloc[40:42]
    ours = _explainer(mlp, background).explain(rows, time_budget_s=None)
    both = pd.concat([background, rows])
    codes = {c: sorted(both[c].astype(str).unique()) for c in FEATURES if c in SPECS_TEXT}

    def to_matrix(frame: pd.DataFrame) -> np.ndarray:
        return np.column_stack(
            [
                frame[c].astype(str).map(codes[c].index).to_numpy(float)
                if c in codes
                else frame[c].to_numpy(float)
                for c in FEATURES
            ]
        )

    def predict(matrix: np.ndarray) -> np.ndarray:
        frame = pd.DataFrame(
            {
                c: [codes[c][int(v)] for v in matrix[:, j]] if c in codes else matrix[:, j]
                for j, c in enumerate(FEATURES)
            }
        )
        return mlp.pipeline.predict_proba(frame)[:, 1]

    masker = shap.maskers.Independent(to_matrix(background), max_samples=len(background))
    reference = shap.PermutationExplainer(predict, masker, seed=0)
    expected = [
        reference(to_matrix(rows.iloc[[i]]), max_evals=500, silent=True).values[0]
        for i in range(len(rows))
    ]
    np.testing.assert_allclose(ours.values, np.array(expected), atol=1e-5)


SPECS_TEXT = {s.name for s in SPECS if s.type == "string"}


def test_the_fallback_stops_at_its_time_budget(mlp) -> None:
    explainer = _explainer(mlp, mlp.data[FEATURES].iloc[:20])
    result = explainer.explain(mlp.data[FEATURES].iloc[:5], time_budget_s=0.0)
    assert len(result.values) == 1 and not result.complete


def test_a_zipmap_output_is_scored_by_its_positive_class() -> None:
    """skl2onnx's default classifier output is a list of {class: probability}."""
    zipped = convert("mlp_classifier", scale=True, zipmap=True)
    rows = zipped.data[FEATURES].iloc[:4]
    result = _explainer(zipped, zipped.data[FEATURES].iloc[:20]).explain(rows, time_budget_s=None)
    assert result.output_space == OutputSpace.PROBABILITY
    np.testing.assert_allclose(result.outputs, zipped.pipeline.predict_proba(rows)[:, 1], atol=1e-5)
