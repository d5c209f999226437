"""Gate checks: each gate's verdict and numbers, PSI against an independent numpy computation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.core.factories import register_toy
from vigil.core.errors import PermissionDenied
from vigil.core.govern import gates
from vigil.core.govern.auth import User
from vigil.core.registry.versions import get_version
from vigil.core.store.connection import Store

MODEL = "credit-risk"
ADAM = User("adam", "admin")
FULL_INVENTORY = {
    "intended_use": "Testing.",
    "limitations": "Toy data.",
    "risk_tier": "low",
    "next_review_date": "2099-01-01",
}


def numpy_psi(expected: pd.Series, actual: pd.Series, *, numeric: bool) -> float:
    """PSI computed without SQL: deciles with numpy, values <= edge fall into that bin."""
    if numeric:
        edges = np.unique(np.quantile(expected.dropna().to_numpy(float), np.arange(1, 10) / 10))

        def bins(values: pd.Series) -> pd.Series:
            out = pd.Series(np.searchsorted(edges, values.to_numpy(float), side="left"))
            out[values.isna().to_numpy()] = -1
            return out

        e_bins, a_bins = bins(expected), bins(actual)
    else:
        e_bins = expected.astype(str).where(expected.notna(), "(missing)")
        a_bins = actual.astype(str).where(actual.notna(), "(missing)")
    e_share = e_bins.value_counts(normalize=True)
    a_share = a_bins.value_counts(normalize=True)
    keys = set(e_share.index) | set(a_share.index)
    total = 0.0
    for key in keys:
        e = max(float(e_share.get(key, 0.0)), gates.PSI_FLOOR)
        a = max(float(a_share.get(key, 0.0)), gates.PSI_FLOOR)
        total += (a - e) * np.log(a / e)
    return total


def test_psi_matches_numpy_on_the_demo(demo_store: Store) -> None:
    report = gates.check_gates(demo_store, MODEL, "1.1")
    window = report.drift_window
    assert window is not None and window.champion_version == "1.0"
    assert window.end - window.start == dt.timedelta(days=30)
    with demo_store.connect() as con:
        version = get_version(con, MODEL, "1.1")
        reference = con.execute(
            "SELECT * FROM reference_credit_risk WHERE model_version = '1.1'"
        ).df()
        logs = con.execute(
            "SELECT * FROM log_credit_risk WHERE model_version = '1.0' "
            "AND served_at >= ? AND served_at < ?",
            [window.start, window.end],
        ).df()
        last = con.execute(
            "SELECT max(served_at) FROM log_credit_risk WHERE model_version = '1.0'"
        ).fetchone()[0]
    assert window.rows == len(logs)
    assert window.end == last + dt.timedelta(microseconds=1)
    by_feature = {p.feature: p for p in report.feature_psi}
    assert set(by_feature) == {f.name for f in version.features}
    for spec in version.features:
        numeric = not spec.categorical and spec.type != "string"
        expected = numpy_psi(reference[spec.name], logs[spec.name], numeric=numeric)
        assert by_feature[spec.name].psi == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert by_feature[spec.name].reference_rows == len(reference)
        assert by_feature[spec.name].current_rows == len(logs)


def test_demo_candidate_gates(demo_store: Store) -> None:
    report = gates.check_gates(demo_store, MODEL, "1.1")
    outcomes = {r.gate: r.outcome for r in report.results}
    assert outcomes == {
        "validation_roc_auc": "pass",
        "fairness_parity": "pass",
        "drift_psi": "fail",  # the demo's data drift (credit_amount x1.6, purpose) since 10-25
        "artifact_integrity": "pass",
        "inventory": "pass",
    }
    assert report.failed == ("drift_psi",)
    assert not report.passed
    drift = report.result("drift_psi")
    worst = max(report.feature_psi, key=lambda p: p.psi)
    assert worst.feature == "credit_amount"
    assert drift.observed == worst.psi
    assert drift.threshold == 0.25
    assert drift.detail.startswith(f"max PSI {worst.psi:.3f} (credit_amount) > 0.25; reference")
    assert drift.detail.endswith("over the threshold: purpose, credit_amount")
    auc = report.result("validation_roc_auc")
    with demo_store.connect() as con:
        holdout = get_version(con, MODEL, "1.1").validation_metrics["holdout"]
    assert auc.observed == holdout["roc_auc"]
    assert auc.detail == f"holdout roc_auc {holdout['roc_auc']:.4f} >= 0.70"
    fair = report.result("fairness_parity")
    assert fair.observed == holdout["demographic_parity_ratio_sex"]


def test_champion_itself_has_no_drift_gate(demo_store: Store) -> None:
    drift = gates.check_gates(demo_store, MODEL, "1.0").result("drift_psi")
    assert (drift.outcome, drift.detail) == ("n/a", "This is the champion.")


def test_thresholds_default_and_set_by_admin_only(demo_copy: Store) -> None:
    with demo_copy.connect() as con:
        assert gates.thresholds(con, MODEL) == {
            "validation_roc_auc": 0.70,
            "fairness_parity": 0.80,
            "drift_psi": 0.25,
        }
    with pytest.raises(PermissionDenied) as err:
        gates.set_threshold(demo_copy, User("rita", "approver"), MODEL, "drift_psi", 0.5)
    assert str(err.value) == (
        "rita is an approver and cannot change gate thresholds; it needs one of: admin."
    )
    with pytest.raises(gates.GateConfigError) as err:
        gates.set_threshold(demo_copy, ADAM, MODEL, "speed", 0.5)
    assert str(err.value) == (
        "Gate 'speed' has no threshold; choose one of validation_roc_auc, fairness_parity, "
        "drift_psi."
    )
    gates.set_threshold(demo_copy, ADAM, MODEL, "drift_psi", 0.5)
    report = gates.check_gates(demo_copy, MODEL, "1.1")
    assert report.passed
    with demo_copy.connect() as con:
        last = con.execute(
            "SELECT action, actor, evidence FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    assert last[:2] == ("set_gate_threshold", "adam")


def test_tampered_artifact_fails_its_gate(demo_copy: Store) -> None:
    with demo_copy.connect() as con:
        version = get_version(con, MODEL, "1.1")
    path = demo_copy.home / version.artifact_path
    path.write_bytes(path.read_bytes() + b"\0")
    result = gates.check_gates(demo_copy, MODEL, "1.1").result("artifact_integrity")
    assert result.outcome == "fail"
    assert "was changed after registration; it will not be run." in result.detail


def test_toy_model_gates(store: Store, tmp_path: Path) -> None:
    """First version of a model: no champion (drift n/a); missing inventory and fairness fail."""
    register_toy(store, tmp_path, "1")
    report = gates.check_gates(store, "toy", "1")
    by = {r.gate: r for r in report.results}
    assert by["drift_psi"].outcome == "n/a"
    assert by["drift_psi"].detail == "No champion to compare with."
    assert by["inventory"].outcome == "fail"
    assert by["inventory"].detail == (
        "Missing: intended use, limitations, risk tier, next review date."
    )
    assert by["fairness_parity"].outcome == "fail"
    assert by["fairness_parity"].detail == (
        "Sensitive attributes are declared but no holdout demographic_parity_ratio_* metric "
        "was recorded."
    )
    assert by["validation_roc_auc"].outcome == "pass"


@pytest.mark.parametrize(
    ("holdout", "gate", "outcome", "detail"),
    [
        (
            {"roc_auc": 0.65, "demographic_parity_ratio_region": 0.9},
            "validation_roc_auc",
            "fail",
            "holdout roc_auc 0.6500 < 0.70",
        ),
        (
            {"roc_auc": 0.9, "demographic_parity_ratio_region": 0.75},
            "fairness_parity",
            "fail",
            "demographic parity ratio region 0.750; lowest (region) < 0.80",
        ),
        (
            {"roc_auc": 0.9, "demographic_parity_ratio_region": 0.85},
            "fairness_parity",
            "pass",
            "demographic parity ratio region 0.850; lowest (region) >= 0.80",
        ),
        (
            {"accuracy": 0.9},
            "validation_roc_auc",
            "fail",
            "No holdout roc_auc in the version's validation metrics.",
        ),
    ],
)
def test_metric_gates(
    store: Store, tmp_path: Path, holdout: dict, gate: str, outcome: str, detail: str
) -> None:
    register_toy(store, tmp_path, "1", validation_metrics={"holdout": holdout}, **FULL_INVENTORY)
    result = gates.check_gates(store, "toy", "1").result(gate)
    assert (result.outcome, result.detail) == (outcome, detail)


def test_review_date_in_the_past_fails_inventory(store: Store, tmp_path: Path) -> None:
    register_toy(store, tmp_path, "1", **{**FULL_INVENTORY, "next_review_date": "2020-01-01"})
    result = gates.check_gates(store, "toy", "1").result("inventory")
    assert result.outcome == "fail"
    assert result.detail == (
        "The next review date 2020-01-01 has passed; review the model and record a new date."
    )
