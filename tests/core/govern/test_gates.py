"""Gate checks: each gate's verdict and numbers, PSI against an independent numpy computation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.core.factories import reference_frame, register_toy
from vigil.core.errors import PermissionDenied
from vigil.core.govern.auth import User
from vigil.core.govern.gates import checks, thresholds
from vigil.core.monitor.drift.report import drift_report
from vigil.core.monitor.selection import Selection
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
    """PSI without SQL or core.stats: reference deciles (linear interpolation) with numpy, a
    value on an edge goes up, missing values are a bin of their own."""
    if numeric:
        edges = np.unique(np.quantile(expected.dropna().to_numpy(float), np.arange(1, 10) / 10))

        def bins(values: pd.Series) -> pd.Series:
            out = pd.Series(np.searchsorted(edges, values.to_numpy(float), side="right"))
            out[values.isna().to_numpy()] = -1
            return out

        e_bins, a_bins = bins(expected), bins(actual)
    else:
        e_bins = expected.astype(str).where(expected.notna(), "(missing)")
        a_bins = actual.astype(str).where(actual.notna(), "(missing)")
    e_share = e_bins.value_counts(normalize=True)
    a_share = a_bins.value_counts(normalize=True)
    total = 0.0
    for key in set(e_share.index) | set(a_share.index):
        e = max(float(e_share.get(key, 0.0)), 1e-4)
        a = max(float(a_share.get(key, 0.0)), 1e-4)
        total += (a - e) * np.log(a / e)
    return float(total)


def test_psi_matches_numpy_on_the_demo(demo_store: Store) -> None:
    report = checks.check_gates(demo_store, MODEL, "1.1")
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
        expected = numpy_psi(reference[spec.name], logs[spec.name], numeric=not spec.categorical)
        assert by_feature[spec.name].psi == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert by_feature[spec.name].reference_rows == len(reference)
        assert by_feature[spec.name].current_rows == len(logs)


def test_demo_candidate_gates(demo_store: Store) -> None:
    report = checks.check_gates(demo_store, MODEL, "1.1")
    outcomes = {r.gate: r.outcome for r in report.results}
    assert outcomes == {
        "validation_roc_auc": "pass",
        "fairness_parity": "pass",
        "fairness_live": "fail",  # sex × age 0.76 on 1.1's shadow traffic
        "drift_psi": "fail",  # the demo's data drift (credit_amount x1.6, purpose) since 10-25
        "artifact_integrity": "pass",
        "inventory": "pass",
        "findings": "pass",
        "robustness": "fail",  # 21 % of decisions flip under small moves (> 10 %)
        "monotonic": "fail",  # savings and checking are declared increasing; the GB breaks it
        "live_challenger": "inconclusive",  # 1,150 labelled shadow requests cannot tell
        "open_alerts": "fail",  # critical fairness and ROC AUC alerts of 1.1
    }
    assert report.failed == (
        "fairness_live", "drift_psi", "robustness", "monotonic", "open_alerts"
    )  # fmt: skip
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
    assert auc.detail == f"Holdout ROC AUC {holdout['roc_auc']:.3f} meets the minimum of 0.70."
    fair = report.result("fairness_parity")
    assert fair.observed == holdout["demographic_parity_ratio_sex"]


def test_champion_itself_has_no_drift_gate(demo_store: Store) -> None:
    drift = checks.check_gates(demo_store, MODEL, "1.0").result("drift_psi")
    assert (drift.outcome, drift.detail) == ("n/a", "This is the champion.")


def test_thresholds_default_and_set_by_admin_only(demo_copy: Store) -> None:
    with demo_copy.connect() as con:
        assert {g: limit.value for g, limit in thresholds.effective(con, MODEL).items()} == {
            "validation_roc_auc": 0.70,
            "fairness_parity": 0.80,
            "drift_psi": 0.25,
            "robustness": 0.10,
            "monotonic": 0.0,
            "live_challenger": 0.01,
            "fairness_live": 0.80,
        }
    with pytest.raises(PermissionDenied) as err:
        thresholds.set_threshold(
            demo_copy, User("rita", "approver"), MODEL, "drift_psi", 0.2, "Stricter."
        )
    assert str(err.value) == (
        "rita is an approver and cannot change the threshold of gate drift_psi of credit-risk; "
        "it needs one of: admin."
    )
    with pytest.raises(thresholds.GateConfigError) as err:
        thresholds.set_threshold(demo_copy, ADAM, MODEL, "speed", 0.5, "Faster.")
    assert str(err.value) == (
        "Gate 'speed' has no threshold; choose one of validation_roc_auc, fairness_parity, "
        "drift_psi, robustness, monotonic, live_challenger, fairness_live."
    )
    with pytest.raises(thresholds.GateConfigError):
        thresholds.set_threshold(demo_copy, ADAM, MODEL, "fairness_parity", 1.5, "Over one.")
    thresholds.set_threshold(demo_copy, ADAM, MODEL, "validation_roc_auc", 0.8, "Stricter.")
    report = checks.check_gates(demo_copy, MODEL, "1.1")
    assert report.result("validation_roc_auc").threshold == 0.8
    assert report.failed == (
        "validation_roc_auc", "fairness_live", "drift_psi", "robustness", "monotonic",
        "open_alerts",
    )  # fmt: skip  # holdout AUC 0.752 < 0.8


def test_tampered_artifact_fails_its_gate(demo_copy: Store) -> None:
    with demo_copy.connect() as con:
        version = get_version(con, MODEL, "1.1")
    path = demo_copy.home / version.artifact_path
    path.write_bytes(path.read_bytes() + b"\0")
    result = checks.check_gates(demo_copy, MODEL, "1.1").result("artifact_integrity")
    assert result.outcome == "fail"
    assert "was changed after registration; it will not be run." in result.detail


def test_toy_model_gates(store: Store, tmp_path: Path) -> None:
    """First version of a model: no champion (drift n/a); missing inventory and fairness fail."""
    register_toy(store, tmp_path, "1")
    report = checks.check_gates(store, "toy", "1")
    by = {r.gate: r for r in report.results}
    assert by["drift_psi"].outcome == "n/a"
    assert by["drift_psi"].detail == "No champion to compare with."
    assert by["inventory"].outcome == "fail"
    assert by["inventory"].detail == (
        "Missing: intended use, limitations, risk tier, next review date."
    )
    assert by["fairness_parity"].outcome == "fail"
    assert by["fairness_parity"].detail == (
        "No holdout demographic parity ratio was recorded for region; record them at validation "
        "(validation_metrics.holdout.demographic_parity_ratio_<attribute>)."
    )
    assert by["validation_roc_auc"].outcome == "pass"


@pytest.mark.parametrize(
    ("holdout", "gate", "outcome", "detail"),
    [
        (
            {"roc_auc": 0.65, "demographic_parity_ratio_region": 0.9},
            "validation_roc_auc",
            "fail",
            "Holdout ROC AUC 0.650 is below the minimum of 0.70.",
        ),
        (
            {"roc_auc": 0.9, "demographic_parity_ratio_region": 0.75},
            "fairness_parity",
            "fail",
            "At validation (holdout), lowest group rate over the highest: region 0.75 below the "
            "four-fifths threshold of 0.80.",
        ),
        (
            {"roc_auc": 0.9, "demographic_parity_ratio_region": 0.85},
            "fairness_parity",
            "pass",
            "At validation (holdout), lowest group rate over the highest: region 0.85 meets 0.80.",
        ),
        (
            {"accuracy": 0.9},
            "validation_roc_auc",
            "fail",
            "No holdout ROC AUC was recorded at validation (validation_metrics.holdout.roc_auc in "
            "the metadata).",
        ),
    ],
)
def test_metric_gates(
    store: Store, tmp_path: Path, holdout: dict, gate: str, outcome: str, detail: str
) -> None:
    register_toy(store, tmp_path, "1", validation_metrics={"holdout": holdout}, **FULL_INVENTORY)
    result = checks.check_gates(store, "toy", "1").result(gate)
    assert (result.outcome, result.detail) == (outcome, detail)


def test_review_date_in_the_past_fails_inventory(store: Store, tmp_path: Path) -> None:
    register_toy(store, tmp_path, "1", **{**FULL_INVENTORY, "next_review_date": "2020-01-01"})
    result = checks.check_gates(store, "toy", "1").result("inventory")
    assert result.outcome == "fail"
    assert result.detail == (
        "The next review date 2020-01-01 has passed; review the model and record a new date."
    )


# --- one PSI: the gate's equals the Drift page's, and an independent computation -------------


def _traffic(n: int, seed: int, *, missing: bool) -> pd.DataFrame:
    """Toy-model traffic that has moved away from the toy reference (income up, more east)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.normal(56, 12, n).round(2),
            "tenure": rng.integers(0, 25, n),
            "region": rng.choice(["north", "south", "east", "west"], n, p=[0.2, 0.2, 0.5, 0.1]),
        }
    )
    if missing:
        frame.loc[frame.index % 7 == 0, "income"] = np.nan
        frame.loc[frame.index % 11 == 0, "region"] = None
    return frame


def _log(store: Store, version: str, frame: pd.DataFrame, start: dt.datetime) -> None:
    """Test setup: store rows in the toy model's log as ingestion would have."""
    rows = frame.assign(
        prediction_id=[f"{version}-{i}" for i in range(len(frame))],
        model_version=version,
        served_at=[start + dt.timedelta(minutes=i) for i in range(len(frame))],
        prediction=0.5,
        status="ok",
        batch_id=1,
        ingested_at=start,
    )
    with store.transaction() as con:
        con.register("rows", rows)
        con.execute("INSERT INTO log_toy BY NAME SELECT * FROM rows")
        con.unregister("rows")


def _champion(store: Store, version: str) -> None:
    """Test setup: make `version` the champion without the approval journey."""
    with store.transaction() as con:
        con.execute(
            "UPDATE model_versions SET status = 'production' WHERE model_version = ?", [version]
        )
        con.execute(
            "INSERT INTO aliases VALUES ('toy', 'champion', ?, now()::TIMESTAMP)", [version]
        )


@pytest.fixture
def toy_pair(store: Store, tmp_path: Path) -> Store:
    """Toy versions 1 (champion) and 2 (candidate), the same traffic logged under both."""
    register_toy(store, tmp_path, "1", **FULL_INVENTORY)
    register_toy(store, tmp_path, "2", **FULL_INVENTORY)
    _champion(store, "1")
    return store


def test_gate_psi_equals_the_drift_page_psi(toy_pair: Store) -> None:
    """Same rows, same bins (the candidate's reference edges): the same number, per feature."""
    start = dt.datetime(2026, 3, 1)
    frame = _traffic(600, seed=3, missing=False)
    _log(toy_pair, "1", frame, start)
    _log(toy_pair, "2", frame, start)
    report = checks.check_gates(toy_pair, "toy", "2")
    window = report.drift_window
    assert window is not None and window.rows == 600
    page = drift_report(
        toy_pair, Selection("toy", "2", window.start, window.end), multivariate=False
    )
    assert page.overall.rows == 600
    gate = {p.feature: p.psi for p in report.feature_psi}
    assert set(gate) == {"income", "tenure", "region"}
    for feature, value in gate.items():
        assert page.overall.column(feature).psi == pytest.approx(value, rel=1e-12), feature
    assert max(gate.values()) > 0.05  # the traffic did move: the comparison is not trivial


def test_gate_psi_counts_missing_values_as_a_bin(toy_pair: Store) -> None:
    start = dt.datetime(2026, 3, 1)
    frame = _traffic(700, seed=5, missing=True)
    _log(toy_pair, "1", frame, start)
    report = checks.check_gates(toy_pair, "toy", "2")
    reference = reference_frame()  # what register_toy stored for version 2
    for p in report.feature_psi:
        expected = numpy_psi(reference[p.feature], frame[p.feature], numeric=p.feature != "region")
        assert p.psi == pytest.approx(expected, rel=1e-9), p.feature
        assert p.current_rows == 700
    psi = {p.feature: p.psi for p in report.feature_psi}
    without_missing = numpy_psi(reference["income"], frame["income"].dropna(), numeric=True)
    assert psi["income"] > without_missing  # a seventh of incomes went missing: that is drift
