"""The demo: deterministic, two versions in the right states, traffic with what was injected."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from vigil.core.demo.model import train_version
from vigil.core.demo.seed import DemoReport
from vigil.core.registry import versions as registry
from vigil.core.store.connection import Store


def test_demo_registers_a_champion_and_a_pending_challenger(demo_store: Store) -> None:
    with demo_store.connect() as con:
        versions = {v.model_version: v.status for v in registry.list_versions(con, "credit-risk")}
        aliases = registry.aliases(con, "credit-risk")
    assert versions == {"1.0": "production", "1.1": "pending_approval"}
    assert aliases == {"champion": "1.0"}


def test_demo_counts_add_up(demo: tuple[Store, DemoReport]) -> None:
    _, report = demo
    for result in report.ingests:
        assert result.read == result.stored + result.quarantined + result.already_present
    assert sum(r.quarantined for r in report.ingests) == 6  # the one malformed file


def test_onnx_scores_equal_scikit_learn(demo_store: Store) -> None:
    trained = train_version("1.0")
    with demo_store.connect() as con:
        version = registry.get_version(con, "credit-risk", "1.0")
        frame = con.execute(
            "SELECT * FROM log_credit_risk WHERE model_version = '1.0' AND status = 'ok' LIMIT 500"
        ).df()
    expected = trained.pipeline.predict_proba(frame[[f.name for f in version.features]])[:, 1]
    assert np.allclose(frame["prediction"], expected, atol=1e-5)


def test_injected_drift_and_concept_drift_are_in_the_data(demo_store: Store) -> None:
    with demo_store.connect() as con:
        amounts = con.execute(
            """
            SELECT served_at >= '2026-10-25' AS after, median(credit_amount)
            FROM log_credit_risk WHERE model_version = '1.0' GROUP BY 1 ORDER BY 1
            """
        ).fetchall()
        labelled = con.execute(
            """
            SELECT served_at >= '2026-09-25' AS after, l.prediction, b.label
            FROM log_credit_risk l JOIN labels b ON b.prediction_id = l.prediction_id
            WHERE l.model_version = '1.0' AND l.served_at < '2026-10-25'
            """
        ).df()
    assert amounts[1][1] / amounts[0][1] > 1.4
    before = labelled[~labelled["after"]]
    after = labelled[labelled["after"]]
    assert (
        roc_auc_score(before["label"], before["prediction"])
        - roc_auc_score(after["label"], after["prediction"])
        > 0.03
    )


def test_the_demo_is_deterministic(demo_store: Store, tmp_path) -> None:
    from tests.conftest import DEMO_END, DEMO_PASSWORD
    from vigil.core.demo.seed import seed

    other = Store(tmp_path)
    seed(other, end=DEMO_END, password=DEMO_PASSWORD)
    query = "SELECT sum(prediction), count(*), sum(latency_ms) FROM log_credit_risk"
    with demo_store.connect() as a, other.connect() as b:
        assert a.execute(query).fetchone() == b.execute(query).fetchone()


def test_sex_is_recorded_beside_each_prediction_but_is_not_a_model_input(
    demo_store: Store,
) -> None:
    import onnxruntime as ort

    from vigil.core.registry.artifacts import score

    with demo_store.connect() as con:
        version = registry.get_version(con, "credit-risk", "1.0")
        frame = con.execute(
            "SELECT * FROM log_credit_risk WHERE model_version = '1.0' AND status = 'ok' "
            "ORDER BY prediction_id LIMIT 300"
        ).df()
    sex = next(f for f in version.features if f.name == "sex")
    assert sex.sensitive and not sex.model_input
    assert set(frame["sex"]) == {"female", "male"}  # logged beside every prediction
    session = ort.InferenceSession(
        (demo_store.home / version.artifact_path).read_bytes(), providers=["CPUExecutionProvider"]
    )
    assert "sex" not in {i.name for i in session.get_inputs()}
    swapped = frame.assign(sex=frame["sex"].map({"female": "male", "male": "female"}))
    assert np.array_equal(
        score(session, frame, version.features), score(session, swapped, version.features)
    )


def test_demo_metadata_gives_reasons_and_monotonic_relations(demo_store: Store) -> None:
    with demo_store.connect() as con:
        version = registry.get_version(con, "credit-risk", "1.1")
    for spec in version.model_inputs:
        assert spec.reason_lowers and spec.reason_raises, spec.name
    declared = {f.name: (f.monotonic, f.order) for f in version.features if f.monotonic}
    assert declared == {
        "saving_accounts": ("increasing", ("little", "moderate", "quite rich", "rich")),
        "checking_account": ("increasing", ("little", "moderate", "rich")),
    }
