"""Explanations from the store: one logged prediction, global importance and attribution
drift, equal to shap on the scikit-learn model, hash-checked, fast once cached; registered
versions of other model kinds get linear SHAP or the permutation fallback."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import warnings

import numpy as np
import pytest
import shap
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
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
from vigil.core.explain import drift, importance, local, sampling
from vigil.core.monitor.selection import Selection
from vigil.core.registry import versions as registry
from vigil.core.responsible import reasons
from vigil.core.store.connection import Store

SPECS = tuple(FeatureSpec(**f) for f in FEATURE_SCHEMA)
MODEL = "credit-risk"


@pytest.fixture(scope="module")
def trained():
    return train_version("1.0")


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
    sampling.clear_cache()
    prediction_id = _some_prediction_id(demo_store)
    first = local.explain_prediction(demo_store, MODEL, prediction_id)
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
    background = sampling.background_frame(demo_store, _version(demo_store))
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
    assert {c.feature: c.value for c in first.contributions}["housing"] == row.loc[0, "housing"]
    assert "sex" not in {c.feature for c in first.contributions}  # recorded, not an input
    # Cached per version: later explanations take well under 100 ms of CPU (CPU time, and the
    # best of three, so a busy shared machine does not decide the test).
    timings = []
    for _ in range(3):
        started = time.process_time()
        local.explain_prediction(demo_store, MODEL, prediction_id)
        timings.append(time.process_time() - started)
    assert min(timings) < 0.1


def test_unknown_prediction_id(demo_store: Store) -> None:
    with pytest.raises(sampling.PredictionNotFound) as err:
        local.explain_prediction(demo_store, MODEL, "no-such-id")
    assert str(err.value) == (
        "No prediction with id 'no-such-id' is logged for credit-risk. Check the id (it is "
        "case-sensitive), or pick one from the recent predictions."
    )


def test_a_tampered_artifact_is_refused(demo_copy: Store) -> None:
    version = _version(demo_copy)
    prediction_id = _some_prediction_id(demo_copy)
    local.explain_prediction(demo_copy, MODEL, prediction_id)  # cached while intact
    path = demo_copy.home / version.artifact_path
    tampered = path.read_bytes() + b"\x00"
    path.write_bytes(tampered)
    actual = hashlib.sha256(tampered).hexdigest()
    with pytest.raises(ArtifactError) as err:
        local.explain_prediction(demo_copy, MODEL, prediction_id)
    assert str(err.value) == (
        f"{path}: SHA-256 is {actual[:12]}…, but {version.artifact_sha256[:12]}… was recorded "
        "at registration. The artifact was changed after registration; it will not be run."
    )


SELECTION = Selection(MODEL, "1.0", dt.datetime(2026, 10, 1), dt.datetime(2026, 11, 1))


def test_global_importance_is_mean_absolute_shap_over_a_seeded_sample(demo_store: Store) -> None:
    first = importance.global_importance(demo_store, SELECTION, sample_rows=120)
    again = importance.global_importance(demo_store, SELECTION, sample_rows=120)
    assert first == again
    assert first.rows == 120 and first.complete
    values = np.array(first.shap_values)  # [features, rows]
    np.testing.assert_allclose(np.abs(values).mean(axis=1), first.mean_abs, atol=1e-12)
    assert list(first.mean_abs) == sorted(first.mean_abs, reverse=True)
    assert sum(first.shares) == pytest.approx(1.0)
    other_seed = importance.global_importance(demo_store, SELECTION, sample_rows=120, seed=5)
    assert other_seed.shap_values != first.shap_values


def test_attribution_drift_distance_and_ranks(demo_store: Store) -> None:
    result = drift.attribution_drift(demo_store, SELECTION, granularity="week", sample_rows=60)
    assert result.windows[0].start == dt.datetime(2026, 10, 1)
    assert len(result.windows) == 5
    reference = np.array(result.reference_mean_abs)
    for window in result.windows:
        assert window.rows == 60
        current = np.array(window.mean_abs)
        manual = 0.5 * np.abs(reference / reference.sum() - current / current.sum()).sum()
        assert window.distance == pytest.approx(manual, abs=1e-12)
        assert window.status == ("warning" if manual > result.threshold else "ok")
        ref_rank = {f: i for i, f in enumerate(result.features, start=1)}
        order = np.argsort(-current, kind="stable")
        now_rank = {result.features[j]: i for i, j in enumerate(order, start=1)}
        for feature, shift in window.top_rank_changes:
            assert shift == ref_rank[feature] - now_rank[feature]


def test_importance_distance_bounds() -> None:
    assert drift.importance_distance(np.array([1.0, 0.0]), np.array([0.0, 2.0])) == 1.0
    assert drift.importance_distance(np.array([1.0, 3.0]), np.array([2.0, 6.0])) == 0.0


def test_cli_explain_json(demo_store: Store, monkeypatch, capsys) -> None:
    import json

    from vigil.cli.main import main

    monkeypatch.setenv("VIGIL_HOME", str(demo_store.home))
    prediction_id = _some_prediction_id(demo_store)
    argv = ["explain", "--model", MODEL, "--version", "1.0", "--prediction-id", prediction_id]
    assert main([*argv, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    expected = local.explain_prediction(demo_store, MODEL, prediction_id)
    assert payload["prediction_id"] == prediction_id
    assert payload["probability"] == pytest.approx(expected.probability)
    assert {c["feature"]: c["contribution"] for c in payload["contributions"]} == pytest.approx(
        {c.feature: c.contribution for c in expected.contributions}
    )
    _, why = reasons.prediction_reasons(demo_store, MODEL, prediction_id)
    assert [r["text"] for r in payload["reasons"]["lowered"]] == [r.text for r in why.lowered]
    assert payload["reasons"]["decision"] == why.decision
    assert main(argv) == 0
    shown = capsys.readouterr().out
    assert "  Lowered the score:\n" in shown and "  Raised the score:\n" in shown
    for r in (*why.lowered, *why.raised):
        assert f"    - {r.sentence}\n" in shown
    assert main(["explain", "--model", MODEL, "--prediction-id", "nope"]) == 1
    assert capsys.readouterr().err == (
        "error: No prediction with id 'nope' is logged for credit-risk. Check the id (it is "
        "case-sensitive), or pick one from the recent predictions.\n"
    )


def _demo_pipeline_onnx(model: object) -> tuple[Pipeline, bytes]:
    """One-hot and scaled demo inputs in front of `model`, converted with skl2onnx."""
    data = load_dataset()
    encode = ColumnTransformer(
        [
            (
                "categories",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                CATEGORICAL,
            ),
            ("numbers", StandardScaler(), NUMERIC),
        ]
    )
    pipeline = Pipeline([("encode", encode), ("model", model)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a small network's convergence chatter
        pipeline.fit(data[FEATURES], data[TARGET])
    inputs = [(c, StringTensorType([None, 1])) for c in CATEGORICAL]
    inputs += [(c, FloatTensorType([None, 1])) for c in NUMERIC]
    converted = convert_sklearn(
        pipeline,
        initial_types=inputs,
        options={id(pipeline): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return pipeline, converted.SerializeToString()


def _register_copy(store: Store, tmp_path, onnx_bytes: bytes, version: str) -> None:
    """Register `onnx_bytes` as `version` and serve it 1.0's first two October weeks."""
    from vigil.core.contract import parse_metadata

    trained = train_version("1.0")
    artifact, reference = tmp_path / f"{version}.onnx", tmp_path / f"{version}.parquet"
    artifact.write_bytes(onnx_bytes)
    trained.reference.to_parquet(reference, index=False)
    meta = parse_metadata({**trained.metadata, "model_version": version, "previous_version": None})
    registry.register_version(
        store,
        meta,
        artifact=artifact,
        reference=reference,
        registered_by="dana",
        registered_by_role="analyst",
    )
    with store.transaction() as con:
        con.execute(
            f"INSERT INTO log_credit_risk SELECT * REPLACE ('{version}' AS model_version, "
            f"prediction_id || '-{version}' AS prediction_id) FROM log_credit_risk "
            "WHERE model_version = '1.0' AND served_at >= '2026-10-01' AND served_at < '2026-10-15'"
        )


def _first_id(store: Store, version: str) -> str:
    with store.connect() as con:
        return str(
            con.execute(
                "SELECT min(prediction_id) FROM log_credit_risk WHERE model_version = ? "
                "AND status = 'ok'",
                [version],
            ).fetchone()[0]
        )


def test_a_registered_network_is_explained_by_the_fallback_end_to_end(
    demo_copy: Store, tmp_path
) -> None:
    """Registered through the registry, served rows copied from 1.0: the fallback explains
    one prediction, a small global sample and the attribution drift within its budget."""
    pipeline, data = _demo_pipeline_onnx(
        MLPClassifier(hidden_layer_sizes=(6,), max_iter=300, random_state=0)
    )
    _register_copy(demo_copy, tmp_path, data, "9.0")
    prediction_id = _first_id(demo_copy, "9.0")
    result = local.explain_prediction(demo_copy, MODEL, prediction_id)
    assert result.method == "permutation" and result.model_version == "9.0"
    assert result.output_space == "probability" and result.probability is None
    total = result.base_value + sum(c.contribution for c in result.contributions)
    assert total == pytest.approx(result.output_value, abs=1e-6)
    with demo_copy.connect() as con:
        row = con.execute(
            "SELECT * FROM log_credit_risk WHERE prediction_id = ?", [prediction_id]
        ).df()
    assert result.output_value == pytest.approx(
        pipeline.predict_proba(row[FEATURES])[0, 1], abs=1e-5
    )
    selection = Selection(MODEL, "9.0", dt.datetime(2026, 10, 1), dt.datetime(2026, 10, 15))
    overall = importance.global_importance(demo_copy, selection)
    assert overall.method == "permutation" and overall.rows == importance.PERMUTATION_ROWS
    attribution = drift.attribution_drift(demo_copy, selection, granularity="week")
    assert [w.rows for w in attribution.windows] == [20, 20, 20]


def test_a_registered_logistic_regression_gets_exact_linear_shap(
    demo_copy: Store, tmp_path
) -> None:
    pipeline, data = _demo_pipeline_onnx(LogisticRegression(max_iter=2000))
    _register_copy(demo_copy, tmp_path, data, "9.1")
    prediction_id = _first_id(demo_copy, "9.1")
    result = local.explain_prediction(demo_copy, MODEL, prediction_id)
    assert result.method == "linear_shap" and result.output_space == "log_odds"
    with demo_copy.connect() as con:
        row = con.execute(
            "SELECT * FROM log_credit_risk WHERE prediction_id = ?", [prediction_id]
        ).df()
    version = _version(demo_copy, "9.1")
    background = sampling.background_frame(demo_copy, version)
    encode = pipeline["encode"]
    expected = shap.LinearExplainer(
        pipeline["model"],
        shap.maskers.Independent(encode.transform(background), max_samples=1000),
    ).shap_values(encode.transform(row[FEATURES]))[0]
    names = encode.get_feature_names_out()
    per_feature = {
        f: sum(v for n, v in zip(names, expected, strict=True) if n.split("__")[1].startswith(f))
        for f in FEATURES
    }
    assert {c.feature: c.contribution for c in result.contributions} == pytest.approx(
        per_feature, abs=1e-6
    )
    assert result.probability == pytest.approx(
        pipeline.predict_proba(row[FEATURES])[0, 1], abs=1e-6
    )
