"""SHAP from the ONNX artifact: equal to shap on the scikit-learn model, additive, fast,
hash-checked, and a permutation fallback for graphs that are not tree ensembles."""

from __future__ import annotations

import datetime as dt
import hashlib
import time

import numpy as np
import pandas as pd
import pytest
import shap
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from vigil.core.contract import FeatureSpec
from vigil.core.demo.model import (
    CATEGORICAL,
    FEATURE_SCHEMA,
    FEATURES,
    NUMERIC,
    TARGET,
    load_dataset,
    train_version,
)
from vigil.core.errors import ArtifactError
from vigil.core.explain import attribution
from vigil.core.explain.explainer import PermutationExplainer, TreeShapExplainer, build_explainer
from vigil.core.monitor.selection import Selection
from vigil.core.registry import versions as registry
from vigil.core.registry.artifacts import open_session
from vigil.core.store.connection import Store

SPECS = tuple(FeatureSpec(**f) for f in FEATURE_SCHEMA)
MODEL = "credit-risk"


@pytest.fixture(scope="module")
def trained():
    return train_version("1.0")


@pytest.fixture(scope="module")
def background(trained) -> pd.DataFrame:
    return trained.reference[FEATURES].sample(100, random_state=3)


@pytest.fixture(scope="module")
def tree_explainer(trained, background) -> TreeShapExplainer:
    session = open_session(trained.onnx_bytes, "test")
    explainer = build_explainer(trained.onnx_bytes, session, SPECS, background)
    assert isinstance(explainer, TreeShapExplainer)
    return explainer


def test_tree_shap_from_onnx_equals_shap_on_the_sklearn_model(
    trained, background, tree_explainer
) -> None:
    rows = load_dataset()[FEATURES].iloc[:200]
    ours = tree_explainer.explain(rows)
    encode, trees = trained.pipeline["encode"], trained.pipeline["trees"]
    reference = shap.TreeExplainer(
        trees, data=encode.transform(background), feature_perturbation="interventional"
    )
    expected = reference.shap_values(encode.transform(rows))
    assert ours.features == tuple(FEATURES)
    np.testing.assert_allclose(ours.values, expected, atol=1e-6)
    assert ours.base_value == pytest.approx(float(np.ravel(reference.expected_value)[0]), abs=1e-6)


def test_path_dependent_tree_shap_with_training_cover_equals_sklearn(trained) -> None:
    """Cover derived from the training data reproduces sklearn's node sample weights."""
    from vigil.core.explain import onnx_trees

    ensemble = onnx_trees.read_tree_ensemble(
        __import__("onnx").load_from_string(trained.onnx_bytes)
    )
    encode, trees = trained.pipeline["encode"], trained.pipeline["trees"]
    train_matrix = encode.transform(trained.reference[FEATURES])
    ours = shap.TreeExplainer(
        onnx_trees.to_shap_model(ensemble, train_matrix), feature_perturbation="tree_path_dependent"
    )
    theirs = shap.TreeExplainer(trees, feature_perturbation="tree_path_dependent")
    rows = encode.transform(load_dataset()[FEATURES].iloc[:100])
    np.testing.assert_allclose(ours.shap_values(rows), theirs.shap_values(rows), atol=1e-6)


def test_attributions_add_up_to_the_log_odds_and_the_served_probability(
    trained, tree_explainer
) -> None:
    rows = load_dataset()[FEATURES].iloc[300:400]
    result = tree_explainer.explain(rows)
    assert result.output_space == "log_odds"
    np.testing.assert_allclose(
        result.values.sum(axis=1) + result.base_value, result.outputs, atol=1e-6
    )
    np.testing.assert_allclose(result.outputs, trained.pipeline.decision_function(rows), atol=1e-6)
    probability = 1 / (1 + np.exp(-result.outputs))
    np.testing.assert_allclose(probability, trained.pipeline.predict_proba(rows)[:, 1], atol=1e-6)


def _logistic_onnx() -> tuple[Pipeline, bytes]:
    data = load_dataset()
    encode = ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ("numbers", StandardScaler(), NUMERIC),
        ]
    )
    pipeline = Pipeline([("encode", encode), ("logit", LogisticRegression(max_iter=2000))])
    pipeline.fit(data[FEATURES], data[TARGET])
    inputs = [(c, StringTensorType([None, 1])) for c in CATEGORICAL]
    inputs += [(c, FloatTensorType([None, 1])) for c in NUMERIC]
    model = convert_sklearn(
        pipeline,
        initial_types=inputs,
        options={id(pipeline): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return pipeline, model.SerializeToString()


def test_a_logistic_regression_is_explained_by_the_permutation_fallback() -> None:
    pipeline, data = _logistic_onnx()
    frame = load_dataset()[FEATURES]
    background = frame.sample(40, random_state=1)
    explainer = build_explainer(data, open_session(data, "logit"), SPECS, background)
    assert isinstance(explainer, PermutationExplainer)
    assert explainer.reason == "The graph has 0 tree-ensemble nodes; TreeSHAP needs exactly one."
    seen: list[tuple[int, int]] = []
    rows = frame.iloc[10:13]
    result = explainer.explain(rows, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert result.method == "permutation" and result.output_space == "probability"
    assert result.complete
    # Efficiency: the permutation explainer's attributions add up exactly.
    np.testing.assert_allclose(
        result.values.sum(axis=1) + result.base_value, result.outputs, atol=1e-6
    )
    np.testing.assert_allclose(result.outputs, pipeline.predict_proba(rows)[:, 1], atol=1e-5)
    assert result.base_value == pytest.approx(
        pipeline.predict_proba(background)[:, 1].mean(), abs=1e-5
    )


def test_the_fallback_stops_at_its_time_budget() -> None:
    _, data = _logistic_onnx()
    frame = load_dataset()[FEATURES]
    explainer = build_explainer(data, open_session(data, "logit"), SPECS, frame.iloc[:20])
    result = explainer.explain(frame.iloc[:5], time_budget_s=0.0)
    assert len(result.values) == 1 and not result.complete


# ---------------------------------------------------------------- from the store


def _version(store: Store, version: str = "1.0"):
    with store.connect() as con:
        return registry.get_version(con, MODEL, version)


def _some_prediction_id(store: Store) -> str:
    with store.connect() as con:
        return con.execute(
            "SELECT l.prediction_id FROM log_credit_risk l JOIN labels b "
            "ON b.model_name = ? AND b.prediction_id = l.prediction_id "
            "WHERE l.model_version = '1.0' AND l.status = 'ok' ORDER BY l.prediction_id LIMIT 1",
            [MODEL],
        ).fetchone()[0]


def test_explain_a_logged_prediction(demo_store: Store, trained) -> None:
    attribution.clear_cache()
    prediction_id = _some_prediction_id(demo_store)
    first = attribution.explain_prediction(demo_store, MODEL, prediction_id)
    assert first.method == "tree_shap" and first.model_version == "1.0"
    with demo_store.connect() as con:
        row = con.execute(
            "SELECT * FROM log_credit_risk WHERE prediction_id = ?", [prediction_id]
        ).df()
        label = con.execute(
            "SELECT label FROM labels WHERE prediction_id = ?", [prediction_id]
        ).fetchone()[0]
    contributions = {c.feature: c.contribution for c in first.contributions}
    # Same numbers as shap on the scikit-learn model, against the same background.
    background = attribution.background_frame(demo_store, _version(demo_store))
    encode = trained.pipeline["encode"]
    expected = shap.TreeExplainer(
        trained.pipeline["trees"],
        data=encode.transform(background),
        feature_perturbation="interventional",
    ).shap_values(encode.transform(row[FEATURES]))[0]
    for j, name in enumerate(FEATURES):
        assert contributions[name] == pytest.approx(expected[j], abs=1e-6)
    # Additivity, in log-odds and as the served probability.
    assert first.base_value + sum(contributions.values()) == pytest.approx(
        first.output_value, abs=1e-6
    )
    assert first.probability == pytest.approx(row.loc[0, "prediction"], abs=1e-5)
    assert first.logged_prediction == pytest.approx(row.loc[0, "prediction"])
    assert first.label == label
    assert first.note is None
    # Sorted by size, with the values as logged.
    sizes = [abs(c.contribution) for c in first.contributions]
    assert sizes == sorted(sizes, reverse=True)
    assert {c.feature: c.value for c in first.contributions}["sex"] == row.loc[0, "sex"]
    # Cached per version: later explanations are well under 100 ms.
    started = time.perf_counter()
    attribution.explain_prediction(demo_store, MODEL, prediction_id)
    assert (time.perf_counter() - started) < 0.1


def test_unknown_prediction_id(demo_store: Store) -> None:
    with pytest.raises(attribution.PredictionNotFound) as err:
        attribution.explain_prediction(demo_store, MODEL, "no-such-id")
    assert str(err.value) == (
        "No prediction with id 'no-such-id' is logged for credit-risk. Check the id (it is "
        "case-sensitive), or pick one from the recent predictions."
    )


def test_a_tampered_artifact_is_refused(demo_copy: Store) -> None:
    version = _version(demo_copy)
    prediction_id = _some_prediction_id(demo_copy)
    attribution.explain_prediction(demo_copy, MODEL, prediction_id)  # cached while intact
    path = demo_copy.home / version.artifact_path
    tampered = path.read_bytes() + b"\x00"
    path.write_bytes(tampered)
    actual = hashlib.sha256(tampered).hexdigest()
    with pytest.raises(ArtifactError) as err:
        attribution.explain_prediction(demo_copy, MODEL, prediction_id)
    assert str(err.value) == (
        f"{path}: SHA-256 is {actual[:12]}…, but {version.artifact_sha256[:12]}… was recorded "
        "at registration. The artifact was changed after registration; it will not be run."
    )


SELECTION = Selection(MODEL, "1.0", dt.datetime(2026, 10, 1), dt.datetime(2026, 11, 1))


def test_global_importance_is_mean_absolute_shap_over_a_seeded_sample(demo_store: Store) -> None:
    first = attribution.global_importance(demo_store, SELECTION, sample_rows=120)
    again = attribution.global_importance(demo_store, SELECTION, sample_rows=120)
    assert first == again
    assert first.rows == 120 and first.complete
    values = np.array(first.shap_values)  # [features, rows]
    np.testing.assert_allclose(np.abs(values).mean(axis=1), first.mean_abs, atol=1e-12)
    assert list(first.mean_abs) == sorted(first.mean_abs, reverse=True)
    assert sum(first.shares) == pytest.approx(1.0)
    other_seed = attribution.global_importance(demo_store, SELECTION, sample_rows=120, seed=5)
    assert other_seed.shap_values != first.shap_values


def test_attribution_drift_distance_and_ranks(demo_store: Store) -> None:
    drift = attribution.attribution_drift(demo_store, SELECTION, granularity="week", sample_rows=60)
    assert drift.windows[0].start == dt.datetime(2026, 10, 1)
    assert len(drift.windows) == 5
    reference = np.array(drift.reference_mean_abs)
    for window in drift.windows:
        assert window.rows == 60
        current = np.array(window.mean_abs)
        manual = 0.5 * np.abs(reference / reference.sum() - current / current.sum()).sum()
        assert window.distance == pytest.approx(manual, abs=1e-12)
        assert window.status == ("warning" if manual > drift.threshold else "ok")
        ref_rank = {f: i for i, f in enumerate(drift.features, start=1)}
        order = np.argsort(-current, kind="stable")
        now_rank = {drift.features[j]: i for i, j in enumerate(order, start=1)}
        for feature, shift in window.top_rank_changes:
            assert shift == ref_rank[feature] - now_rank[feature]


def test_importance_distance_bounds() -> None:
    assert attribution.importance_distance(np.array([1.0, 0.0]), np.array([0.0, 2.0])) == 1.0
    assert attribution.importance_distance(np.array([1.0, 3.0]), np.array([2.0, 6.0])) == 0.0


def test_cli_explain_json(demo_store: Store, monkeypatch, capsys) -> None:
    import json

    from vigil.cli.main import main

    monkeypatch.setenv("VIGIL_HOME", str(demo_store.home))
    prediction_id = _some_prediction_id(demo_store)
    argv = ["explain", "--model", MODEL, "--version", "1.0", "--prediction-id", prediction_id]
    assert main([*argv, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    expected = attribution.explain_prediction(demo_store, MODEL, prediction_id)
    assert payload["prediction_id"] == prediction_id
    assert payload["probability"] == pytest.approx(expected.probability)
    assert {c["feature"]: c["contribution"] for c in payload["contributions"]} == pytest.approx(
        {c.feature: c.contribution for c in expected.contributions}
    )
    assert main(["explain", "--model", MODEL, "--prediction-id", "nope"]) == 1
    assert capsys.readouterr().err == (
        "error: No prediction with id 'nope' is logged for credit-risk. Check the id (it is "
        "case-sensitive), or pick one from the recent predictions.\n"
    )


def test_a_registered_logistic_version_is_explained_end_to_end(demo_copy: Store, tmp_path) -> None:
    """Registered through the registry, served rows copied from 1.0: the fallback explains
    one prediction, a small global sample and the attribution drift within its budget."""
    from vigil.core.contract import parse_metadata

    pipeline, data = _logistic_onnx()
    trained = train_version("1.0")
    artifact, reference = tmp_path / "logit.onnx", tmp_path / "reference.parquet"
    artifact.write_bytes(data)
    trained.reference.to_parquet(reference, index=False)
    meta = parse_metadata({**trained.metadata, "model_version": "9.0", "previous_version": None})
    registry.register_version(
        demo_copy,
        meta,
        artifact=artifact,
        reference=reference,
        registered_by="dana",
        registered_by_role="analyst",
    )
    with demo_copy.transaction() as con:
        con.execute(
            "INSERT INTO log_credit_risk SELECT * REPLACE ('9.0' AS model_version, "
            "prediction_id || '-l' AS prediction_id) FROM log_credit_risk "
            "WHERE model_version = '1.0' AND served_at >= '2026-10-01' AND served_at < '2026-10-15'"
        )
    with demo_copy.connect() as con:
        prediction_id = con.execute(
            "SELECT min(prediction_id) FROM log_credit_risk WHERE model_version = '9.0' "
            "AND status = 'ok'"
        ).fetchone()[0]
    local = attribution.explain_prediction(demo_copy, MODEL, prediction_id)
    assert local.method == "permutation" and local.model_version == "9.0"
    assert local.output_space == "probability" and local.probability is None
    total = local.base_value + sum(c.contribution for c in local.contributions)
    assert total == pytest.approx(local.output_value, abs=1e-6)
    with demo_copy.connect() as con:
        row = con.execute(
            "SELECT * FROM log_credit_risk WHERE prediction_id = ?", [prediction_id]
        ).df()
    assert local.output_value == pytest.approx(
        pipeline.predict_proba(row[FEATURES])[0, 1], abs=1e-5
    )
    selection = Selection(MODEL, "9.0", dt.datetime(2026, 10, 1), dt.datetime(2026, 10, 15))
    overall = attribution.global_importance(demo_copy, selection)
    assert overall.method == "permutation" and overall.rows == attribution.PERMUTATION_ROWS
    drift = attribution.attribution_drift(demo_copy, selection, granularity="week")
    assert [w.rows for w in drift.windows] == [20, 20, 20]


def test_a_random_forest_is_explained_by_tree_shap_in_probability() -> None:
    """Two weight columns, no link: the positive class's column, equal to shap on sklearn."""
    from sklearn.ensemble import RandomForestClassifier

    from vigil.core.demo.model import build_pipeline, to_onnx

    data = load_dataset()
    pipeline = build_pipeline()
    pipeline.steps[-1] = (
        "trees",
        RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0),
    )
    pipeline.fit(data[FEATURES], data[TARGET])
    onnx_bytes = to_onnx(pipeline)
    background = data[FEATURES].iloc[:80]
    explainer = build_explainer(onnx_bytes, open_session(onnx_bytes, "rf"), SPECS, background)
    assert isinstance(explainer, TreeShapExplainer)
    rows = data[FEATURES].iloc[100:150]
    result = explainer.explain(rows)
    assert result.output_space == "probability"
    encode = pipeline["encode"]
    expected = shap.TreeExplainer(
        pipeline["trees"], data=encode.transform(background), feature_perturbation="interventional"
    ).shap_values(encode.transform(rows))[..., 1]
    np.testing.assert_allclose(result.values, expected, atol=1e-6)
    np.testing.assert_allclose(result.outputs, pipeline.predict_proba(rows)[:, 1], atol=1e-6)
