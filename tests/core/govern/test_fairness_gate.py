"""The fairness gates: every sensitive attribute and pair, at validation and on live traffic,
checked against group rates computed with pandas from the raw log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.core.factories import register_toy
from tests.core.govern.people import add_people
from vigil.core.govern.auth import User
from vigil.core.govern.gates import checks, fairness, thresholds
from vigil.core.govern.gates.live import comparison_window
from vigil.core.registry.versions import get_version
from vigil.core.store.connection import Store

MODEL = "credit-risk"
ADAM = User("adam", "admin")


def _bands(age: pd.Series) -> pd.Series:
    """The fairness report's documented age bands, by hand."""
    return pd.cut(age, [-np.inf, 25, 35, 50, np.inf], right=False,
                  labels=["<25", "25–34", "35–49", "50+"]).astype(str)  # fmt: skip


def _lowest_ratio(frame: pd.DataFrame, columns: list[str], threshold: float = 0.8) -> float:
    """Lowest group approval rate over the highest, among groups of at least 30 rows."""
    groups = frame.groupby(columns)["approved"].agg(["mean", "size"])
    judged = groups[groups["size"] >= 30]["mean"]
    return float(judged.min() / judged.max())


@pytest.fixture(scope="module")
def live_rows(demo_store: Store) -> pd.DataFrame:
    with demo_store.connect() as con:
        start, end = comparison_window(con, MODEL)
        frame = con.execute(
            "SELECT sex, age, prediction FROM log_credit_risk WHERE model_version = '1.1' "
            "AND status = 'ok' AND prediction IS NOT NULL AND served_at >= ? AND served_at < ?",
            [start, end],
        ).df()
    frame["approved"] = frame["prediction"] >= 0.5
    frame["age band"] = _bands(frame["age"])
    return frame


def test_live_fairness_names_the_failing_pair_with_its_numbers(
    demo_store: Store, live_rows: pd.DataFrame
) -> None:
    report = checks.check_gates(demo_store, MODEL, "1.1")
    gate = report.result("fairness_live")
    by_attribute = {c.attribute: c for c in report.fairness_live.checks}
    expected = {
        "sex": _lowest_ratio(live_rows, ["sex"]),
        "age": _lowest_ratio(live_rows, ["age band"]),
        "sex × age": _lowest_ratio(live_rows, ["sex", "age band"]),
    }
    for name, ratio in expected.items():
        assert by_attribute[name].ratio == pytest.approx(ratio, rel=1e-12)
    assert [n for n, c in by_attribute.items() if not c.passed] == ["sex × age"]  # 0.76 < 0.8
    assert (gate.outcome, gate.threshold) == ("fail", 0.8)
    assert gate.observed == pytest.approx(expected["sex × age"])
    assert report.fairness_live.rows == len(live_rows)
    assert f"On {len(live_rows):,} live predictions of 1.1" in gate.detail
    assert "sex × age is below the four-fifths threshold of 0.80: male, <25 at 0.76" in gate.detail
    assert "Meeting 0.80 (lowest group ratio): sex 0.99, age 0.84." in gate.detail


def test_validation_fairness_names_what_was_not_recorded(demo_store: Store) -> None:
    report = checks.check_gates(demo_store, MODEL, "1.1")
    gate = report.result("fairness_parity")
    with demo_store.connect() as con:
        holdout = get_version(con, MODEL, "1.1").validation_metrics["holdout"]
    assert gate.outcome == "pass" and gate.observed == holdout["demographic_parity_ratio_sex"]
    assert [(c.attribute, c.ratio) for c in report.fairness_validation] == [
        ("sex", holdout["demographic_parity_ratio_sex"]),
        ("age", None),
        ("sex × age", None),
    ]
    assert "Not recorded at validation: age, sex × age (judged on live traffic)." in gate.detail


def test_a_stricter_threshold_fails_more_attributes(
    demo_copy: Store, live_rows: pd.DataFrame
) -> None:
    thresholds.set_threshold(demo_copy, ADAM, MODEL, "fairness_live", 0.9, "Stricter.")
    report = checks.check_gates(demo_copy, MODEL, "1.1")
    failing = [c.attribute for c in report.fairness_live.checks if c.passed is False]
    assert failing == ["age", "sex × age"]  # age 0.84 < 0.9; sex 0.99 still meets it
    assert report.result("fairness_live").threshold == 0.9
    add_people(demo_copy, {"eve": "admin"})  # a looser one waits for a second admin
    change = thresholds.set_threshold(demo_copy, ADAM, MODEL, "fairness_live", 0.7, "Looser.")
    assert change.change.state == "pending"
    assert checks.check_gates(demo_copy, MODEL, "1.1").result("fairness_live").threshold == 0.9


def test_without_live_traffic_unmeasured_attributes_cannot_be_told(
    store: Store, tmp_path: Path
) -> None:
    """The toy's sensitive region was not recorded at validation and it has no traffic."""
    register_toy(store, tmp_path, "1")
    report = checks.check_gates(store, "toy", "1")
    live = report.result("fairness_live")
    assert live.outcome == "inconclusive"
    assert live.detail == (
        "region: not measured at validation, and 1 has no live traffic to measure them on; "
        "run it in shadow to measure them."
    )
    validation = report.result("fairness_parity")
    assert validation.outcome == "fail"
    assert validation.detail.startswith(
        "No holdout demographic parity ratio was recorded for region"
    )


def test_no_sensitive_attribute_no_fairness_gate(store: Store, tmp_path: Path) -> None:
    features = [
        {"name": "income", "type": "number", "categorical": False},
        {"name": "tenure", "type": "integer", "categorical": False},
        {"name": "region", "type": "string", "categorical": True},
    ]
    register_toy(store, tmp_path, "1", features=features)
    report = checks.check_gates(store, "toy", "1")
    assert {report.result(g).outcome for g in ("fairness_parity", "fairness_live")} == {"n/a"}
    with store.connect() as con:
        assert fairness.attributes(get_version(con, "toy", "1")) == ()
