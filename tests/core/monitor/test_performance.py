"""Realised performance: every number against sklearn/numpy on the raw joined rows (pulled here,
in the test only), on the demo and on random data; coverage, too-few-labels, concept drift."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from tests.core.factories import register_toy
from vigil.core.errors import VigilError
from vigil.core.monitor.performance.bootstrap import bootstrap_binary
from vigil.core.monitor.performance.concept import concept_drift
from vigil.core.monitor.performance.report import performance_report
from vigil.core.monitor.performance.results import (
    BINARY_METRICS,
    CI_METHOD,
    MIN_LABELS,
    PerformanceError,
    PerformanceReport,
    WindowPerformance,
)
from vigil.core.monitor.selection import Segment, Selection
from vigil.core.store.connection import Store

TOL = 1e-9
DEMO_RANGE = (dt.datetime(2026, 8, 26), dt.datetime(2026, 11, 24))


def demo_selection(segment: Segment | None = None, version: str = "1.0") -> Selection:
    return Selection("credit-risk", version, *DEMO_RANGE, segment)


def raw_rows(store: Store, selection: Selection, granularity: str | None) -> pd.DataFrame:
    """Every status-'ok' prediction of the selection with its label (NaN when none)."""
    window = (
        f"date_trunc('{granularity}', l.served_at)" if granularity else "TIMESTAMP '1970-01-01'"
    )
    where, params = selection.where("l")
    table = "log_" + selection.model_name.replace("-", "_")
    with store.connect() as con:
        return con.execute(
            f"SELECT {window} AS w, l.prediction AS score, b.label AS label FROM {table} l "
            "LEFT JOIN labels b ON b.model_name = ? AND b.prediction_id = l.prediction_id "
            f"WHERE {where} AND l.status = 'ok'",
            [selection.model_name, *params],
        ).df()


def expected_binary(frame: pd.DataFrame, threshold: float) -> dict[str, float | None]:
    y, s = frame["label"].to_numpy(int), frame["score"].to_numpy(float)
    pred = (s >= threshold).astype(int)
    both = len(set(y)) == 2
    prob_true, prob_pred = calibration_curve(y, s, n_bins=10, strategy="uniform")
    bins = np.searchsorted(np.linspace(0, 1, 11)[1:-1], s, side="left")
    counts = np.bincount(bins, minlength=10)
    counts = counts[counts > 0]
    ece = float(np.sum(counts / len(s) * np.abs(prob_true - prob_pred)))
    return {
        "roc_auc": roc_auc_score(y, s) if both else None,
        "accuracy": accuracy_score(y, pred),
        "precision": precision_score(y, pred, zero_division=np.nan) if pred.sum() else None,
        "recall": recall_score(y, pred) if y.sum() else None,
        "f1": f1_score(y, pred) if (pred.sum() + y.sum()) else None,
        "log_loss": log_loss(y, s, labels=[0, 1]),
        "brier": brier_score_loss(y, s, pos_label=1) if both else float(np.mean((s - y) ** 2)),
        "ece": ece,
        "_prob_true": tuple(prob_true),
        "_prob_pred": tuple(prob_pred),
    }


def assert_window_matches(window: WindowPerformance, raw: pd.DataFrame, threshold: float):
    labelled = raw.dropna(subset=["label"])
    assert window.predictions == len(raw)
    assert window.labelled == len(labelled)
    assert window.coverage.value == pytest.approx(len(labelled) / len(raw), abs=TOL)
    if labelled.empty:
        return
    expected = expected_binary(labelled, threshold)
    for name in BINARY_METRICS:
        got, want = window.value(name), expected[name]
        if want is None:
            assert got is None, name
        else:
            assert got == pytest.approx(want, abs=TOL), name
    assert tuple(b.observed_rate for b in window.reliability) == pytest.approx(
        expected["_prob_true"], abs=TOL
    )
    assert tuple(b.mean_predicted for b in window.reliability) == pytest.approx(
        expected["_prob_pred"], abs=TOL
    )
    y, s = labelled["label"].to_numpy(int), labelled["score"].to_numpy(float)
    pred = s >= threshold
    c = window.confusion
    assert (c.tp, c.fp, c.tn, c.fn) == (
        int(np.sum(pred & (y == 1))),
        int(np.sum(pred & (y == 0))),
        int(np.sum(~pred & (y == 0))),
        int(np.sum(~pred & (y == 1))),
    )


@pytest.fixture(scope="module")
def weekly(demo_store: Store) -> PerformanceReport:
    return performance_report(demo_store, demo_selection(), "week")


def test_demo_weeks_and_whole_selection_equal_sklearn(demo_store: Store, weekly) -> None:
    raw = raw_rows(demo_store, demo_selection(), "week")
    assert [w.start for w in weekly.windows] == sorted(set(raw["w"].dt.to_pydatetime()))
    for window in weekly.windows:
        assert_window_matches(window, raw[raw["w"] == pd.Timestamp(window.start)], 0.5)
    assert_window_matches(weekly.overall, raw, 0.5)
    assert weekly.overall.start is None


def test_segment_filter_is_respected(demo_store: Store) -> None:
    selection = demo_selection(Segment("purpose", "car"))
    report = performance_report(demo_store, selection, "month")
    raw = raw_rows(demo_store, selection, "month")
    assert report.overall.predictions == len(raw) < weekly_total(demo_store)
    for window in report.windows:
        assert_window_matches(window, raw[raw["w"] == pd.Timestamp(window.start)], 0.5)


def weekly_total(store: Store) -> int:
    return len(raw_rows(store, demo_selection(), None))


def test_intervals_wilson_and_bootstrap(weekly) -> None:
    overall = weekly.overall
    c = overall.confusion
    for name, k, n in (
        ("accuracy", c.tp + c.tn, c.tp + c.tn + c.fp + c.fn),
        ("precision", c.tp, c.tp + c.fp),
        ("recall", c.tp, c.tp + c.fn),
    ):
        ci = binomtest(k, n).proportion_ci(method="wilson")
        estimate = overall.metric(name)
        assert estimate.method == "wilson"
        assert (estimate.low, estimate.high) == pytest.approx((ci.low, ci.high), abs=TOL)
    ci = binomtest(overall.labelled, overall.predictions).proportion_ci(method="wilson")
    assert (overall.coverage.low, overall.coverage.high) == pytest.approx((ci.low, ci.high))
    for name in ("roc_auc", "f1", "log_loss", "brier", "ece"):
        estimate = overall.metric(name)
        assert estimate.method == CI_METHOD[name] == "bootstrap"
        assert estimate.low <= estimate.value <= estimate.high, name
        # 21,956 labelled rows: the interval is narrow, and wider for one week's rows
        week = weekly.windows[3].metric(name)
        assert estimate.high - estimate.low < week.high - week.low, name


def test_bootstrap_of_cells_matches_bootstrap_of_rows() -> None:
    """Resampling the score table's cells is resampling rows: same interval within noise."""
    rng = np.random.default_rng(3)
    scores = rng.choice(np.linspace(0.05, 0.95, 19), 3000)
    labels = (rng.random(3000) < scores).astype(int)
    table = pd.DataFrame({"s": scores, "y": labels}).groupby("s")["y"].agg(["sum", "count"])
    boot = bootstrap_binary(
        scores=table.index.to_numpy(float),
        positives=table["sum"].to_numpy(float),
        negatives=(table["count"] - table["sum"]).to_numpy(float),
        threshold=0.5,
        draws=400,
    )
    aucs = []
    for _ in range(400):
        pick = rng.integers(0, 3000, 3000)
        aucs.append(roc_auc_score(labels[pick], scores[pick]))
    low, high = np.percentile(aucs, [2.5, 97.5])
    assert boot["roc_auc"].low == pytest.approx(low, abs=0.006)
    assert boot["roc_auc"].high == pytest.approx(high, abs=0.006)


def test_too_few_labels_replaces_the_status(weekly) -> None:
    last_weeks = {w.start: w for w in weekly.windows}
    recent = last_weeks[dt.datetime(2026, 11, 16)]
    assert recent.labelled < MIN_LABELS
    assert recent.status == "too few labels"
    assert last_weeks[dt.datetime(2026, 11, 23)].labelled == 0
    assert last_weeks[dt.datetime(2026, 11, 23)].value("roc_auc") is None
    assert last_weeks[dt.datetime(2026, 9, 7)].status == "ok"


def test_unknown_granularity_is_rejected(demo_store: Store) -> None:
    with pytest.raises(VigilError) as err:
        performance_report(demo_store, demo_selection(), "fortnight")
    assert str(err.value) == (
        "Unknown granularity 'fortnight': use day, week, month or a number of predictions per "
        "window (e.g. 1000)."
    )


def test_windows_of_n_predictions_partition_the_labelled_rows(demo_store: Store) -> None:
    """The shared windowing also cuts performance into windows of N predictions."""
    report = performance_report(demo_store, demo_selection(), 20_000, intervals=False)
    assert len(report.windows) > 1
    assert [w.start for w in report.windows] == sorted(w.start for w in report.windows)
    assert sum(w.predictions for w in report.windows) == report.overall.predictions
    assert sum(w.labelled for w in report.windows) == report.overall.labelled


# ---------------------------------------------------------------- concept drift on the demo


def test_concept_drift_shows_from_late_september(demo_store: Store) -> None:
    report = concept_drift(demo_store, demo_selection(), "week", metric="accuracy")
    by_start = {w.start: w for w in report.windows}
    before = [w for w in report.windows if w.start < dt.datetime(2026, 9, 21)]
    after = [
        w for w in report.windows if dt.datetime(2026, 9, 28) <= w.start < dt.datetime(2026, 11, 16)
    ]
    assert all(w.verdict == "stable" for w in before)
    assert (
        np.mean([w.metric_value for w in after]) < np.mean([w.metric_value for w in before]) - 0.04
    )
    flagged = [w.start for w in report.windows if w.performance_drop]
    assert dt.datetime(2026, 10, 5) in flagged and dt.datetime(2026, 10, 12) in flagged
    assert len(flagged) >= 4
    assert min(flagged) >= dt.datetime(2026, 9, 28)
    if report.input_drift_source == "input drift unknown":
        assert by_start[dt.datetime(2026, 10, 12)].verdict == (
            "possible concept drift (input drift unknown)"
        )
    else:  # core.drift's dataset verdict: inputs steady until the data drift of 2026-10-25
        assert by_start[dt.datetime(2026, 10, 12)].input_drift is False
        assert by_start[dt.datetime(2026, 10, 12)].verdict == "concept drift"
    # the score–outcome relation moves: calibration error grows past the baseline's
    assert report.baseline.kind == "period"
    assert report.baseline_ece < 0.08
    assert all(not w.calibration_shift for w in before)
    assert sum(w.calibration_shift for w in after) >= 4


def test_concept_drift_verdicts_use_the_input_drift_verdict(demo_store: Store) -> None:
    weeks = [w.start for w in performance_report(demo_store, demo_selection(), "week").windows]
    stable_inputs = dict.fromkeys(weeks, False)
    report = concept_drift(
        demo_store, demo_selection(), "week", metric="accuracy", input_drift=stable_inputs
    )
    verdicts = {w.start: w.verdict for w in report.windows}
    assert verdicts[dt.datetime(2026, 10, 12)] == "concept drift"
    assert verdicts[dt.datetime(2026, 9, 7)] == "stable"
    assert verdicts[dt.datetime(2026, 11, 23)] == "too few labels"
    drifting = dict.fromkeys(weeks, True)
    report = concept_drift(
        demo_store, demo_selection(), "week", metric="accuracy", input_drift=drifting
    )
    assert {w.start: w.verdict for w in report.windows}[dt.datetime(2026, 10, 12)] == (
        "performance drop with input drift"
    )


def test_concept_drift_rejects_a_metric_of_another_task(demo_store: Store) -> None:
    with pytest.raises(PerformanceError) as err:
        concept_drift(demo_store, demo_selection(), "week", metric="rmse")
    assert str(err.value) == (
        "'rmse' is not a performance metric of a binary_classification model; choose one of "
        "roc_auc, accuracy, precision, recall, f1, log_loss, brier, ece."
    )


# ---------------------------------------------------------------- randomized data


@pytest.fixture(scope="module")
def toy_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Store]:
    stores = {}
    for task in ("binary_classification", "regression"):
        home = tmp_path_factory.mktemp(f"perf-{task}")
        store = Store(home)
        extra = {} if task == "binary_classification" else {"task": "regression"}
        register_toy(store, Path(home), **extra)
        stores[task] = store
    return stores


def load_rows(store: Store, frame: pd.DataFrame) -> None:
    """Replace the toy's logs and labels with `frame` (direct inserts: ingest is tested apart)."""
    logs = pd.DataFrame(
        {
            "prediction_id": [f"r{i}" for i in range(len(frame))],
            "model_version": "1",
            "served_at": pd.Timestamp("2026-03-02") + pd.to_timedelta(frame["hour"], unit="h"),
            "prediction": np.where(frame["ok"], frame["score"], np.nan),
            "latency_ms": frame["latency"],
            "status": np.where(frame["ok"], "ok", "error"),
            "region": frame["region"],
        }
    )
    labels = logs.loc[frame["labelled"].to_numpy() & frame["ok"].to_numpy(), ["prediction_id"]]
    labels["label"] = frame.loc[labels.index, "label"].to_numpy(float)
    with store.transaction() as con:
        con.execute("DELETE FROM log_toy")
        con.execute("DELETE FROM labels")
        con.register("new_logs", logs)
        con.execute("INSERT INTO log_toy BY NAME SELECT * FROM new_logs")
        con.register("new_labels", labels)
        con.execute(
            "INSERT INTO labels SELECT 'toy', prediction_id, label, NULL, 0, now()::TIMESTAMP "
            "FROM new_labels"
        )


@st.composite
def frames(draw, regression: bool = False) -> pd.DataFrame:
    n = draw(st.integers(5, 120))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    grid = draw(st.sampled_from([4, 10, 1000]))  # few distinct scores: many ties
    score = np.round(rng.random(n) * grid) / grid
    if regression:
        score = rng.normal(10, 3, n).round(1)
        label = score + rng.normal(0, 2, n).round(1)
    else:
        label = (rng.random(n) < np.clip(score + rng.normal(0, 0.3, n), 0, 1)).astype(float)
    return pd.DataFrame(
        {
            "hour": rng.integers(0, 24 * 20, n),
            "score": score,
            "label": label,
            "labelled": rng.random(n) < 0.8,
            "ok": rng.random(n) < 0.95,
            "latency": rng.lognormal(3, 0.5, n).round(2),
            "region": rng.choice(["north", "south"], n),
        }
    )


TOY_SELECTION = Selection("toy", "1", dt.datetime(2026, 3, 1), dt.datetime(2026, 4, 1))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=frames())
def test_random_binary_data_equals_sklearn(toy_stores, frame: pd.DataFrame) -> None:
    store = toy_stores["binary_classification"]
    load_rows(store, frame)
    report = performance_report(store, TOY_SELECTION, "week", min_labels=1)
    raw = raw_rows(store, TOY_SELECTION, "week")
    assert sum(w.predictions for w in report.windows) == len(raw)
    for window in report.windows:
        assert_window_matches(window, raw[raw["w"] == pd.Timestamp(window.start)], 0.5)
    if len(raw):
        assert_window_matches(report.overall, raw, 0.5)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=frames(regression=True))
def test_random_regression_data_equals_sklearn(toy_stores, frame: pd.DataFrame) -> None:
    store = toy_stores["regression"]
    load_rows(store, frame)
    report = performance_report(store, TOY_SELECTION, "week", min_labels=1)
    raw = raw_rows(store, TOY_SELECTION, "week")
    for window in (*report.windows, report.overall):
        part = raw if window.start is None else raw[raw["w"] == pd.Timestamp(window.start)]
        part = part.dropna(subset=["label"])
        assert window.labelled == len(part)
        if part.empty:
            assert window.value("mae") is None
            continue
        y, p = part["label"].to_numpy(), part["score"].to_numpy()
        assert window.value("mae") == pytest.approx(mean_absolute_error(y, p), abs=1e-9)
        assert window.value("rmse") == pytest.approx(root_mean_squared_error(y, p), abs=1e-9)
        if len(part) > 1 and np.var(y) > 1e-12:
            assert window.value("r2") == pytest.approx(r2_score(y, p), abs=1e-7)
        mae = window.metric("mae")
        if len(part) > 1:
            half = 1.959963984540054 * np.std(np.abs(p - y), ddof=1) / np.sqrt(len(part))
            assert mae.low == pytest.approx(max(0.0, mae.value - half), abs=1e-9)
