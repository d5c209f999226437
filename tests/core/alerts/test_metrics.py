"""The metric table: each metric's windows against an independent computation on the raw rows
(scikit-learn, numpy, fairlearn), and the table itself (one row per name, labels as the
monitors have them, no registration at import)."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_ratio
from sklearn.metrics import accuracy_score

from vigil.core.alerts import metrics
from vigil.core.monitor.performance.results import HIGHER_IS_BETTER, METRIC_LABELS, MIN_LABELS
from vigil.core.monitor.selection import Selection
from vigil.core.monitor.windows import calendar_start
from vigil.core.store.connection import Store

MODEL = "credit-risk"
SELECTION = Selection(MODEL, "1.0", dt.datetime(2026, 8, 26), dt.datetime(2026, 11, 24))
BANDS = ["<25", "25–34", "35–49", "50+"]


def raw(store: Store, selection: Selection, *, ok_only: bool = True) -> pd.DataFrame:
    """The selection's rows with their labels, straight from the tables."""
    where, params = selection.where("l")
    status = " AND l.status = 'ok' AND l.prediction IS NOT NULL" if ok_only else ""
    with store.connect() as con:
        frame = con.execute(
            "SELECT l.served_at, l.status, l.latency_ms, l.prediction, l.sex, l.age, b.label "
            "FROM log_credit_risk l LEFT JOIN labels b "
            "ON b.model_name = ? AND b.prediction_id = l.prediction_id "
            f"WHERE {where}{status}",
            [MODEL, *params],
        ).df()
    frame["week"] = frame["served_at"].dt.to_period("W-SUN").dt.start_time
    frame["day"] = frame["served_at"].dt.floor("D")
    return frame


def series(store: Store, name: str, granularity: str, attribute: str | None = None):
    metric = metrics.metric(name)
    return metric.compute.per_window(metrics.Reports(store), SELECTION, granularity, attribute)


def test_accuracy_per_week_is_sklearns(demo_store: Store) -> None:
    rows = raw(demo_store, SELECTION)
    labelled = rows[rows["label"].notna()]
    values = series(demo_store, "accuracy", "week")
    checked = 0
    for week, part in labelled.groupby("week"):
        got = values.at(week.to_pydatetime())
        if len(part) < MIN_LABELS:
            assert got.value is None and got.note.startswith("too few labels")
            continue
        expected = accuracy_score(
            part["label"].astype(int), (part["prediction"] >= 0.5).astype(int)
        )
        assert got.value == pytest.approx(expected, abs=1e-12)
        checked += 1
    assert checked >= 8


def test_latency_and_error_rate_per_day_are_numpys(demo_store: Store) -> None:
    rows = raw(demo_store, SELECTION, ok_only=False)
    p99 = series(demo_store, "latency_p99", "day")
    errors = series(demo_store, "error_rate", "day")
    for day, part in rows.groupby("day"):
        start = day.to_pydatetime()
        latencies = part["latency_ms"].dropna().to_numpy()
        assert p99.at(start).value == pytest.approx(np.percentile(latencies, 99), rel=1e-9)
        assert errors.at(start).value == pytest.approx((part["status"] != "ok").mean(), abs=1e-12)
    assert len(rows["day"].unique()) == 90


def _selection_rates(part: pd.DataFrame, columns: list[str]) -> pd.Series:
    groups = part.groupby(columns)["y_pred"].agg(["mean", "size"])
    return groups.loc[groups["size"] >= 30, "mean"]


def test_demographic_parity_on_one_attribute_is_fairlearns(demo_store: Store) -> None:
    rows = raw(demo_store, SELECTION)
    rows["y_pred"] = (rows["prediction"] >= 0.5).astype(int)
    values = series(demo_store, "demographic_parity_ratio", "week", "sex")
    for week, part in rows.groupby("week"):
        expected = demographic_parity_ratio(
            part["y_pred"], part["y_pred"], sensitive_features=part["sex"]
        )
        assert values.at(week.to_pydatetime()).value == pytest.approx(expected, abs=1e-12)


def test_the_unscoped_fairness_metric_is_the_worst_attribute_and_says_which(
    demo_store: Store,
) -> None:
    """Every sensitive attribute and every intersection, groups of 30+ rows, as pandas sees it."""
    rows = raw(demo_store, SELECTION)
    rows["y_pred"] = (rows["prediction"] >= 0.5).astype(int)
    rows["age"] = pd.cut(rows["age"], [-np.inf, 25, 35, 50, np.inf], right=False, labels=BANDS)
    rows["age"] = rows["age"].astype(str)
    attributes = {"sex": ["sex"], "age": ["age"], "sex × age": ["sex", "age"]}
    values = series(demo_store, "demographic_parity_ratio", "week")
    for week, part in rows.groupby("week"):
        ratios = {}
        for name, columns in attributes.items():
            rates = _selection_rates(part, columns)
            if len(rates) >= 2:
                ratios[name] = rates.min() / rates.max()
        worst = min(ratios, key=ratios.__getitem__)
        got = values.at(week.to_pydatetime())
        assert got.value == pytest.approx(ratios[worst], abs=1e-12)
        assert got.note == f"worst: {worst}"


def test_an_attribute_the_version_lacks_has_no_data(demo_store: Store) -> None:
    got = series(demo_store, "demographic_parity_ratio", "week", "housing")
    assert got.values == {}
    assert got.otherwise.value is None
    assert got.otherwise.note.startswith("1.0 has no sensitive attribute 'housing' (it has: sex,")


def test_drift_metrics_count_the_drifted_features(demo_store: Store) -> None:
    reports = metrics.Reports(demo_store)
    report = reports.drift(SELECTION, "week")
    count = metrics.metric("drifted_features").compute.per_window(reports, SELECTION, "week", None)
    for window in report.windows:
        got = count.at(calendar_start(window.window.start, "week"))
        drifted = [c.feature for c in window.features if c.drifted]
        if window.dataset.share is None:
            assert got.value is None
        else:
            assert got.value == len(drifted) and got.note == ", ".join(drifted)
    assert reports.drift(SELECTION, "week") is report  # one report per evaluation


def test_the_table_names_each_metric_once_as_the_monitors_label_it() -> None:
    names = [m.name for m in metrics.METRICS]
    assert len(names) == len(set(names))
    for m in metrics.METRICS:
        if m.name in METRIC_LABELS:
            assert m.label == METRIC_LABELS[m.name]
            higher = m.direction is metrics.Direction.HIGHER_IS_BETTER
            assert higher == HIGHER_IS_BETTER[m.name]
    assert {m.name for m in metrics.METRICS if m.by_attribute} == {
        f"{a}_{b}"
        for a, b in itertools.product(
            ("demographic_parity", "equalized_odds"), ("ratio", "difference")
        )
    }
    assert not hasattr(metrics, "register_metric")


@pytest.mark.parametrize(
    "metric",
    [m for m in metrics.METRICS if m.applies_to("binary_classification")],
    ids=lambda m: m.name,
)
def test_every_binary_metric_computes_on_the_demo(demo_store: Store, metric) -> None:
    reports = metrics.Reports(demo_store)
    month = metric.compute.per_window(reports, SELECTION, "month", None)
    assert set(month.values) <= {dt.datetime(2026, m, 1) for m in (8, 9, 10, 11)}
    assert any(v.value is not None for v in month.values.values())
    whole = metric.compute.whole(reports, SELECTION, None)
    assert whole.value is not None or whole.note


def test_unknown_metric_lists_the_known_ones() -> None:
    with pytest.raises(Exception) as err:
        metrics.metric("nonsense")
    assert str(err.value).startswith("Unknown metric 'nonsense'; rules can watch: accuracy, brier,")
