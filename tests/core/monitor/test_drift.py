"""Drift per feature and window: exact against scipy on raw rows, profiles merge and update
incrementally, the demo's injected drift is found where it is and nowhere else, hard cases."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from tests.core import factories
from tests.core.govern.people import PASSWORD, add_people
from vigil.cli import main as cli
from vigil.core.errors import PermissionDenied
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.govern.policy import changes as policy
from vigil.core.ingest import predictions as ingest
from vigil.core.monitor import profiles
from vigil.core.monitor.drift.report import drift_report
from vigil.core.monitor.drift.settings import DriftSettingError, set_threshold
from vigil.core.monitor.selection import Segment, Selection
from vigil.core.results import to_jsonable
from vigil.core.stats.psi import PSI_EPSILON
from vigil.core.store.connection import Store

MODEL, VERSION = "credit-risk", "1.0"
START, END = dt.datetime(2026, 8, 26), dt.datetime(2026, 11, 24)
DRIFT_START = dt.date(2026, 10, 25)
NUMERIC = ["credit_amount", "duration", "age"]
CATEGORICAL = ["sex", "housing", "saving_accounts", "checking_account", "purpose", "job"]
REL = 1e-9  # DuckDB and numpy sum in different orders
DANA = User("dana", "analyst")
ADAM = User("adam", "admin")
WHY = "Test of the drift settings."


@pytest.fixture(scope="module")
def drift_store(demo_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A private copy of the demo (drift reports write profiles)."""
    target = tmp_path_factory.mktemp("drift") / "home"
    shutil.copytree(demo_store.home, target)
    return Store(target)


@pytest.fixture(scope="module")
def daily(drift_store: Store):
    return drift_report(drift_store, Selection(MODEL, VERSION, START, END), granularity="day")


def raw_frame(store: Store, sql: str, params: list) -> pd.DataFrame:
    with store.connect() as con:
        return con.execute(sql, params).df()


def reference_rows(store: Store, segment: Segment | None = None) -> pd.DataFrame:
    where, params = "model_version = ?", [VERSION]
    if segment:
        where += f" AND CAST({segment.column} AS VARCHAR) = ?"
        params.append(segment.value)
    return raw_frame(store, f"SELECT * FROM reference_credit_risk WHERE {where}", params)


def log_rows(store: Store, selection: Selection) -> pd.DataFrame:
    where, params = selection.where()
    return raw_frame(store, f"SELECT * FROM log_credit_risk WHERE {where}", params)


def assert_matches_scipy(window, ref: pd.DataFrame, cur: pd.DataFrame) -> None:
    """Every column's statistic recomputed independently from the raw rows."""
    ref = ref.assign(predicted_class=np.where(ref.prediction >= 0.5, "positive", "negative"))
    cur = cur.assign(
        predicted_class=np.where(
            cur.prediction.isna(), None, np.where(cur.prediction >= 0.5, "positive", "negative")
        )
    )
    for name in [*NUMERIC, "prediction"]:
        column = window.column(name)
        r, c = ref[name].dropna().to_numpy(float), cur[name].dropna().to_numpy(float)
        expected = stats.ks_2samp(r, c)
        assert column.test == "ks"
        assert column.statistic == pytest.approx(expected.statistic, rel=REL), name
        assert column.p_value == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300), name
        assert column.reference_std == pytest.approx(np.std(r), rel=REL)
        assert (column.current_n, column.reference_n) == (len(c), len(r))
    for name in [*CATEGORICAL, "predicted_class"]:
        column = window.column(name)
        a = ref[name].dropna().astype(str).value_counts()
        b = cur[name].dropna().astype(str).value_counts()
        table = pd.concat([a, b], axis=1).fillna(0).T.to_numpy(float)
        expected = stats.chi2_contingency(table, correction=False)
        assert column.test == "chi2"
        assert column.statistic == pytest.approx(expected.statistic, rel=REL), name
        assert column.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300), name
        # the histogram the page draws: same categories and counts
        got = dict(zip(column.bins, column.current_counts, strict=True))
        assert {k: v for k, v in got.items() if v} == b.astype(float).to_dict()
        js = jensenshannon(table[0] / table[0].sum(), table[1] / table[1].sum())
        shares_ref = np.array(column.reference_counts) / sum(column.reference_counts)
        shares_cur = np.array(column.current_counts) / sum(column.current_counts)
        assert jensenshannon(shares_ref, shares_cur) == pytest.approx(js, rel=1e-12)


def independent_psi(ref: pd.Series, cur: pd.Series, edges: np.ndarray | None) -> float:
    """PSI from raw values: numeric bins [edge_i-1, edge_i) by pandas.cut, categories by value,
    missing values one more bin; shares below the epsilon raised to it."""

    def counts(values: pd.Series) -> pd.Series:
        present = values.dropna()
        if edges is None:
            keyed = present.astype(str).value_counts()
        else:
            cut = pd.cut(present.astype(float), [-np.inf, *edges, np.inf], right=False)
            keyed = cut.value_counts(sort=False)
            keyed.index = keyed.index.astype(str)
        return pd.concat([keyed, pd.Series({"<missing>": values.isna().sum()})])

    table = pd.concat([counts(ref), counts(cur)], axis=1).fillna(0).to_numpy(float)
    r = np.maximum(table[:, 0] / table[:, 0].sum(), PSI_EPSILON)
    c = np.maximum(table[:, 1] / table[:, 1].sum(), PSI_EPSILON)
    return float(np.sum((c - r) * np.log(c / r)))


def deciles(values: pd.Series) -> np.ndarray:
    """The reference's interior decile edges (numpy's linear = DuckDB's quantile_cont)."""
    return np.unique(np.quantile(values.dropna().to_numpy(float), np.arange(1, 10) / 10))


def test_psi_equals_an_independent_computation_on_raw_rows(drift_store, daily) -> None:
    ref = reference_rows(drift_store)
    checked_missing = 0
    for window in (daily.overall, daily.windows[60]):
        sel = Selection(MODEL, VERSION, window.window.start, window.window.end)
        cur = log_rows(drift_store, sel)
        for name in [*NUMERIC, "prediction", *CATEGORICAL]:
            edges = deciles(ref[name]) if name in [*NUMERIC, "prediction"] else None
            expected = independent_psi(ref[name], cur[name], edges)
            assert window.column(name).psi == pytest.approx(expected, rel=1e-9, abs=1e-12), name
            checked_missing += int(ref[name].isna().any() or cur[name].isna().any())
    assert checked_missing > 0  # the missing-values bin took part


@pytest.mark.parametrize("day", ["2026-08-29", "2026-10-25", "2026-11-14"])
def test_daily_windows_equal_scipy_on_raw_rows(drift_store, daily, day) -> None:
    start = dt.datetime.fromisoformat(day)
    window = next(w for w in daily.windows if w.window.start == start)
    cur = log_rows(drift_store, Selection(MODEL, VERSION, start, start + dt.timedelta(days=1)))
    assert window.rows == len(cur)
    assert_matches_scipy(window, reference_rows(drift_store), cur)


def test_whole_range_and_wasserstein_equal_scipy(drift_store, daily) -> None:
    cur = log_rows(drift_store, Selection(MODEL, VERSION, START, END))
    ref = reference_rows(drift_store)
    assert daily.overall.rows == len(cur)
    assert_matches_scipy(daily.overall, ref, cur)
    # Wasserstein normed, via a per-feature override of the test
    override = {"feature": "credit_amount", "test": "wasserstein"}
    set_threshold(drift_store, DANA, MODEL, **override, threshold=0.1, rationale=WHY)
    try:
        report = drift_report(
            drift_store,
            Selection(MODEL, VERSION, START, END),
            granularity="month",
            multivariate=False,
        )
    finally:
        set_threshold(drift_store, DANA, MODEL, **override, threshold=None, rationale=WHY)
    column = report.overall.column("credit_amount")
    r, c = ref.credit_amount.to_numpy(float), cur.credit_amount.to_numpy(float)
    assert column.test == "wasserstein" and column.p_value is None
    assert column.statistic == pytest.approx(stats.wasserstein_distance(r, c) / np.std(r), rel=REL)
    assert column.threshold == 0.1


def test_weekly_windows_merge_day_profiles_and_equal_scipy(drift_store) -> None:
    sel = Selection(MODEL, VERSION, dt.datetime(2026, 10, 1), dt.datetime(2026, 11, 1))
    report = drift_report(drift_store, sel, granularity="week", multivariate=False)
    assert report.source == "profiles"
    starts = [w.window.start for w in report.windows]
    # ISO weeks, clipped to the range: Thu 1 Oct, then Mondays
    assert starts[0] == dt.datetime(2026, 10, 1) and starts[1] == dt.datetime(2026, 10, 5)
    week = report.windows[1]
    cur = log_rows(drift_store, Selection(MODEL, VERSION, starts[1], starts[2]))
    assert_matches_scipy(week, reference_rows(drift_store), cur)


def test_sum_of_day_profiles_equals_profile_of_the_range(drift_store, daily) -> None:
    """Merge property: summed day profiles == the same aggregates over the raw range."""
    lo, hi = dt.date(2026, 9, 7), dt.date(2026, 10, 12)
    with drift_store.connect() as con:
        merged = con.execute(
            "SELECT feature, value, sum(n)::BIGINT FROM profile_values WHERE scope = 'day' "
            "AND model_version = ? AND day >= ? AND day < ? GROUP BY ALL ORDER BY ALL",
            [VERSION, lo, hi],
        ).fetchall()
        direct = con.execute(
            " UNION ALL ".join(
                f"SELECT '{c}', CAST({c} AS DOUBLE) AS v, count(*) FROM log_credit_risk "
                f"WHERE model_version = ? AND served_at >= ? AND served_at < ? AND {c} IS NOT NULL "
                "GROUP BY v"
                for c in ["age", "credit_amount", "duration", "prediction"]
            )
            + " ORDER BY ALL",
            [VERSION, lo, hi] * 4,
        ).fetchall()
        assert merged == direct
        stats_merged = con.execute(
            "SELECT feature, sum(rows), sum(nulls), min(min_value), max(max_value), "
            "sum(sum_value) FROM profile_columns WHERE scope = 'day' AND model_version = ? "
            "AND day >= ? AND day < ? AND feature = 'credit_amount' GROUP BY feature",
            [VERSION, lo, hi],
        ).fetchone()
        raw = con.execute(
            "SELECT 'credit_amount', count(*), count(*) - count(credit_amount), "
            "min(credit_amount), max(credit_amount), sum(credit_amount) FROM log_credit_risk "
            "WHERE model_version = ? AND served_at >= ? AND served_at < ?",
            [VERSION, lo, hi],
        ).fetchone()
        assert stats_merged[:5] == raw[:5]
        assert stats_merged[5] == pytest.approx(raw[5], rel=1e-12)
        bins = con.execute(
            "SELECT bin, sum(n)::BIGINT FROM profile_bins WHERE scope = 'day' AND feature = 'age' "
            "AND model_version = ? AND day >= ? AND day < ? GROUP BY bin ORDER BY bin",
            [VERSION, lo, hi],
        ).fetchall()
        edges = profiles.reference_edges(con, con_version(con))["age"]
        ages = (
            con.execute(
                "SELECT age FROM log_credit_risk WHERE model_version = ? AND served_at >= ? "
                "AND served_at < ? AND age IS NOT NULL",
                [VERSION, lo, hi],
            )
            .df()["age"]
            .to_numpy(float)
        )
    expected = np.bincount(np.searchsorted(edges, ages, side="right"), minlength=len(edges) + 1)
    assert [n for _, n in bins] == [int(n) for n in expected if n]


def con_version(con):
    from vigil.core.registry.versions import get_version

    return get_version(con, MODEL, VERSION)


def test_profiles_match_the_raw_path(drift_store) -> None:
    """A selection cut mid-day is computed from the raw log; both paths give the same numbers."""
    aligned = Selection(MODEL, VERSION, dt.datetime(2026, 10, 20), dt.datetime(2026, 10, 30))
    shifted = Selection(
        MODEL, VERSION, dt.datetime(2026, 10, 20), dt.datetime(2026, 10, 29, 23, 59, 59, 999999)
    )
    assert log_rows(drift_store, aligned).shape == log_rows(drift_store, shifted).shape
    a = drift_report(drift_store, aligned, granularity="day", multivariate=False)
    b = drift_report(drift_store, shifted, granularity="day", multivariate=False)
    assert (a.source, b.source) == ("profiles", "raw log")
    for wa, wb in zip(a.windows, b.windows, strict=True):
        for ca, cb in zip(wa.features + wa.prediction, wb.features + wb.prediction, strict=True):
            assert ca.statistic == pytest.approx(cb.statistic, rel=1e-12)
            assert (ca.current_counts, ca.reference_counts) == (
                cb.current_counts,
                cb.reference_counts,
            )


def test_injected_drift_found_from_its_first_day_and_nowhere_else(daily) -> None:
    drifted: dict[str, set[dt.date]] = {}
    for window in daily.windows:
        for column in window.features + window.prediction:
            if column.drifted:
                drifted.setdefault(column.feature, set()).add(window.window.start.date())
    after = {w.window.start.date() for w in daily.windows if w.window.start.date() >= DRIFT_START}
    assert drifted == {"credit_amount": after, "purpose": after}
    assert len(after) == 30
    assert all(not w.dataset.drifted for w in daily.windows)  # 2 of 9 < 50 %
    last = daily.windows[-1].dataset
    assert last.sentence() == (
        "2 of 9 features drifted (22 %), not above the 50 % dataset threshold."
    )


def test_segment_compares_like_with_like(drift_store) -> None:
    segment = Segment("housing", "own")
    sel = Selection(MODEL, VERSION, dt.datetime(2026, 10, 25), END, segment)
    report = drift_report(drift_store, sel, granularity="week", multivariate=False)
    assert report.source == "raw log"
    assert_matches_scipy(
        report.overall, reference_rows(drift_store, segment), log_rows(drift_store, sel)
    )
    assert report.overall.column("housing").statistic == 0.0  # one category on both sides


def test_reference_window_instead_of_reference_data(drift_store) -> None:
    ref_sel = Selection(MODEL, VERSION, dt.datetime(2026, 9, 1), dt.datetime(2026, 10, 1))
    sel = Selection(MODEL, VERSION, dt.datetime(2026, 11, 1), END)
    report = drift_report(drift_store, sel, granularity="week", reference=ref_sel)
    assert report.reference_label == "logs 2026-09-01 – 2026-10-01 (end exclusive)"
    ref = log_rows(drift_store, ref_sel)
    column = report.overall.column("credit_amount")
    # reference of 10k rows: the default numeric test is Wasserstein / reference std
    r, c = (
        ref.credit_amount.to_numpy(float),
        log_rows(drift_store, sel).credit_amount.to_numpy(float),
    )
    assert column.test == "wasserstein"
    assert column.statistic == pytest.approx(stats.wasserstein_distance(r, c) / np.std(r), rel=REL)
    assert column.drifted
    assert report.overall.column("purpose").test == "jensenshannon"
    assert report.multivariate.drifted  # credit amounts x1.6: a classifier tells them apart
    assert report.multivariate.auc > 0.6


def test_multivariate_signal_is_bounded_deterministic_and_quiet_without_drift(drift_store) -> None:
    sel = Selection(MODEL, VERSION, dt.datetime(2026, 9, 1), dt.datetime(2026, 10, 1))
    a = drift_report(drift_store, sel, granularity="month", domain_sample=500)
    b = drift_report(drift_store, sel, granularity="month", domain_sample=500)
    assert a.multivariate == b.multivariate
    assert a.multivariate.current_n == 500
    assert not a.multivariate.drifted and a.multivariate.auc < 0.55


def _forget_day_profiles(store: Store) -> None:
    """Start from no stored day profiles (the shared demo may have been profiled already)."""
    with store.transaction() as con:
        con.execute("DELETE FROM profile_days")
        for table in profiles.PROFILE_TABLES:
            con.execute(f"DELETE FROM {table} WHERE scope = 'day'")
        con.execute("DELETE FROM drift_pair_cache")
        con.execute("DELETE FROM drift_domain_cache")


def test_incremental_update_recomputes_only_touched_days(demo_copy: Store, tmp_path: Path) -> None:
    _forget_day_profiles(demo_copy)
    first = drift_report(
        demo_copy, Selection(MODEL, VERSION, START, END), granularity="day", multivariate=False
    )
    assert first.days_recomputed == 90
    with demo_copy.connect() as con:
        before = con.execute("SELECT day, max_batch_id FROM profile_days").fetchall()
        rows = con.execute(
            "SELECT * FROM log_credit_risk WHERE model_version = ? AND served_at >= ? LIMIT 40",
            [VERSION, dt.datetime(2026, 11, 20)],
        ).df()
    new = rows.rename(columns={"served_at": "timestamp"}).drop(columns=["batch_id", "ingested_at"])
    new["model_name"] = MODEL
    new["prediction_id"] = [f"extra-{i}" for i in range(len(new))]
    new.loc[:19, "timestamp"] = pd.Timestamp("2026-11-21 10:00:00")
    new.loc[20:, "timestamp"] = pd.Timestamp("2026-11-24 09:30:00")  # a new day
    path = tmp_path / "extra.parquet"
    new.to_parquet(path, index=False)
    result = ingest.ingest_predictions(demo_copy, MODEL, path)
    assert result.stored == 40
    sel = Selection(MODEL, VERSION, START, END + dt.timedelta(days=1))
    second = drift_report(demo_copy, sel, granularity="day", multivariate=False)
    assert second.days_recomputed == 2
    with demo_copy.connect() as con:
        after = dict(con.execute("SELECT day, max_batch_id FROM profile_days").fetchall())
        assert {d for d, b in after.items() if b == result.batch_id} == {
            dt.date(2026, 11, 21),
            dt.date(2026, 11, 24),
        }
        touched = (dt.date(2026, 11, 21), dt.date(2026, 11, 24))
        assert {d: b for d, b in before if d not in touched} == {
            d: b for d, b in after.items() if d not in touched
        }
        snapshot = profile_snapshot(con)
    # a full recompute from scratch gives the same profiles and the same report
    with demo_copy.transaction() as con:
        con.execute("DELETE FROM profile_days")
        for table in profiles.PROFILE_TABLES:
            con.execute(f"DELETE FROM {table} WHERE scope = 'day'")
    full = drift_report(demo_copy, sel, granularity="day", multivariate=False)
    assert full.days_recomputed == 91
    with demo_copy.connect() as con:
        again = profile_snapshot(con)
    for table, rows in snapshot.items():
        assert len(again[table]) == len(rows)
        for got, expected in zip(again[table], rows, strict=True):
            for a, b in zip(got, expected, strict=True):  # float sums come in any order
                assert a == (pytest.approx(b, rel=1e-12) if isinstance(b, float) else b), table
    assert comparable(full) == comparable(second)


def comparable(report) -> object:
    """The report as JSON, less the moments (float sums in any order) and the refresh count."""
    out = to_jsonable(replace(report, days_recomputed=0))
    for window in [out["overall"], *out["windows"]]:
        for column in window["features"] + window["prediction"]:
            for key in ("reference_mean", "current_mean", "reference_std", "current_std"):
                column.pop(key)
    return out


def profile_snapshot(con) -> dict[str, list[tuple]]:
    return {
        table: con.execute(
            f"SELECT * EXCLUDE (model_name, scope) FROM {table} WHERE scope = 'day' "
            "ORDER BY ALL NULLS FIRST"
        ).fetchall()
        for table in profiles.PROFILE_TABLES
    }


# ---------------------------------------------------------------- hard cases, on a toy model


@pytest.fixture
def toy(store: Store, tmp_path: Path) -> Store:
    """The toy model (reference: 200 rows, tenure constant 5), with crafted days of traffic:
    03-01: 120 normal rows; 03-02: income all missing, region 'west' unseen in the reference;
    03-03: 10 rows only; 03-04: no traffic; 03-05: 120 rows, income shifted by +15."""
    features = [dict(f) for f in factories.FEATURES]
    features[0]["nullable"] = True
    meta_path, artifact, reference = factories.write_inputs(tmp_path, features=features)
    frame = factories.reference_frame()
    frame["tenure"] = 5
    frame.to_parquet(reference, index=False)
    from vigil.core.contract import parse_metadata
    from vigil.core.registry.versions import register_version

    add_people(store, {"dana": "analyst", "adam": "admin"})
    register_version(
        store,
        parse_metadata(json.loads(meta_path.read_text())),
        artifact=artifact,
        reference=reference,
        registered_by="dana",
        registered_by_role="analyst",
    )
    rng = np.random.default_rng(5)
    parts = []
    for day, n, income, region in [
        (
            "2026-03-01",
            120,
            rng.normal(50, 10, 120).round(2),
            rng.choice(["north", "south", "east"], 120),
        ),
        ("2026-03-02", 120, [None] * 120, rng.choice(["north", "west"], 120)),
        ("2026-03-03", 10, rng.normal(50, 10, 10).round(2), ["north"] * 10),
        (
            "2026-03-05",
            120,
            rng.normal(65, 10, 120).round(2),
            rng.choice(["north", "south", "east"], 120),
        ),
    ]:
        rows = factories.log_rows(n, start=f"{day}T08:00:00Z")
        rows["prediction_id"] = [f"{day}-{i}" for i in range(n)]
        rows["income"] = [None if v is None else str(v) for v in income]
        rows["region"] = list(region)
        rows["tenure"] = "5"
        parts.append(rows)
    path = tmp_path / "toy-log.csv"
    pd.concat(parts).to_csv(path, index=False)
    result = ingest.ingest_predictions(store, "toy", path)
    assert result.stored == 370, result
    return store


def test_hard_cases(toy: Store) -> None:
    sel = Selection("toy", "1", dt.datetime(2026, 3, 1), dt.datetime(2026, 3, 6))
    report = drift_report(toy, sel, granularity="day", multivariate=False)
    by_day = {w.window.start.date().day: w for w in report.windows}
    # a normal day
    assert by_day[1].column("income").status == "no drift"
    # all-null column: no data, not drift; the dataset verdict ignores it
    income = by_day[2].column("income")
    assert (income.status, income.drifted, income.current_nulls) == ("no data", None, 120)
    # unseen category kept as its own bin; JS exact with zero reference share, PSI finite
    region = by_day[2].column("region")
    assert region.bins[-1] == "west" and region.reference_counts[-1] == 0
    assert region.status == "drift"
    ref = np.array(region.reference_counts) / sum(region.reference_counts)
    cur = np.array(region.current_counts) / sum(region.current_counts)
    eps = 1e-4
    p, q = np.clip(ref, eps, None), np.clip(cur, eps, None)
    assert region.psi == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-12)
    # a column that arrives empty has no test verdict, but PSI moves: all rows in the missing bin
    with toy.connect() as con:
        reference = con.execute("SELECT income FROM reference_toy").df()["income"]
        day2 = con.execute(
            "SELECT income FROM log_toy WHERE served_at >= '2026-03-02' AND served_at < '2026-03-03'"
        ).df()["income"]
    assert income.psi == pytest.approx(
        independent_psi(reference, day2, deciles(reference)), rel=1e-9
    )
    assert income.psi > 5
    # tiny sample: a verdict would be noise
    assert {c.status for c in by_day[3].features} == {"too few rows"}
    assert by_day[3].dataset.status == "too few rows" and by_day[3].dataset.drifted is None
    # empty window
    assert by_day[4].rows == 0
    assert {c.status for c in by_day[4].features + by_day[4].prediction} == {"no data"}
    assert by_day[4].dataset.status == "no data"
    assert by_day[4].dataset.sentence() == (
        "No feature could be tested in this window (no data or too few rows)."
    )
    # a real shift
    assert by_day[5].column("income").status == "drift"
    # constant reference (tenure = 5 everywhere): KS 0, no drift; Wasserstein normed by |5|
    assert by_day[5].column("tenure").statistic == 0.0
    set_threshold(
        toy, DANA, "toy", feature="tenure", test="wasserstein", threshold=0.1, rationale=WHY
    )
    report = drift_report(toy, sel, granularity="day", multivariate=False)
    tenure = report.windows[0].column("tenure")
    assert (tenure.test, tenure.statistic, tenure.status) == ("wasserstein", 0.0, "no drift")


def test_settings_errors_and_dataset_threshold(toy: Store) -> None:
    with pytest.raises(DriftSettingError) as err:
        set_threshold(toy, DANA, "toy", test="anderson", threshold=0.1)
    assert str(err.value) == (
        "Unknown drift test 'anderson' for toy; use one of chi2, dataset_share, domain_auc, "
        "jensenshannon, ks, psi, wasserstein."
    )
    with pytest.raises(DriftSettingError) as err:
        set_threshold(toy, DANA, "toy", test="psi", threshold=-1)
    assert str(err.value) == "The threshold of psi for toy must be a finite number >= 0, got -1."
    with pytest.raises(DriftSettingError) as err:
        set_threshold(toy, DANA, "toy", feature="salary", test="psi", threshold=0.2)
    assert str(err.value) == (
        "toy has no column 'salary'; use '*' or one of income, predicted_class, prediction, "
        "region, tenure."
    )
    with pytest.raises(PermissionDenied) as err:
        set_threshold(toy, User("vic", "viewer"), "toy", test="psi", threshold=0.2)
    assert str(err.value) == (
        "vic is a viewer and cannot change drift thresholds of toy; it needs one of: analyst, admin."
    )
    set_threshold(toy, DANA, "toy", test="dataset_share", threshold=0.2, rationale=WHY)
    set_threshold(toy, DANA, "toy", test="ks", threshold=0.3, rationale=WHY)
    sel = Selection("toy", "1", dt.datetime(2026, 3, 5), dt.datetime(2026, 3, 6))
    report = drift_report(toy, sel, granularity="day", multivariate=False)
    assert report.overall.column("income").threshold == pytest.approx(0.1)  # 0.3 / 3 features
    assert report.overall.dataset.threshold == 0.2
    assert report.overall.dataset.drifted
    with toy.connect() as con:
        records = [r for r in audit.read_records(con) if r["action"].endswith("drift_threshold")]
    assert [(r["actor"], r["evidence"]) for r in records][-1][0] == "dana"
    # back to the default loosens the dataset verdict: it waits for an admin's confirmation
    back = set_threshold(toy, DANA, "toy", test="dataset_share", threshold=None, rationale=WHY)
    assert (
        drift_report(toy, sel, granularity="day", multivariate=False).overall.dataset.threshold
        == 0.2
    )
    policy.confirm(toy, ADAM, back.change.change_id, "Back to the default share.")
    report = drift_report(toy, sel, granularity="day", multivariate=False)
    assert report.overall.dataset.threshold == 0.5


def test_count_windows(toy: Store) -> None:
    sel = Selection("toy", "1", dt.datetime(2026, 3, 1), dt.datetime(2026, 3, 6))
    report = drift_report(toy, sel, granularity=100, multivariate=False)
    assert [w.rows for w in report.windows] == [100, 100, 100, 70]
    assert report.source == "raw log"


def test_too_many_windows(drift_store: Store) -> None:
    from vigil.core.errors import VigilError

    with pytest.raises(VigilError) as err:
        drift_report(drift_store, Selection(MODEL, VERSION, START, END), granularity=20)
    assert str(err.value) == (
        "1,560 windows (one per 20 predictions) are too many to compare at once (at most "
        "1,000); choose a coarser granularity or a shorter range."
    )


def test_cli_drift_json(drift_store: Store, monkeypatch, capsys) -> None:
    monkeypatch.setenv("VIGIL_HOME", str(drift_store.home))
    code = cli.main(
        [
            "drift",
            "--model",
            MODEL,
            "--version",
            VERSION,
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-07",
            "--granularity",
            "day",
            "--json",
        ]
    )
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["windows"]) == 7
    names = {f["name"]: f for f in payload["overall"]["features"]}
    assert names["credit_amount"]["drifted"] is True and names["age"]["drifted"] is False
    assert set(names["age"]) >= {
        "name",
        "kind",
        "test",
        "statistic",
        "p_value",
        "threshold",
        "drifted",
    }
    assert payload["overall"]["dataset"]["share_drifted"] == pytest.approx(2 / 9)
    assert payload["multivariate"]["auc"] is not None
    assert [p["name"] for p in payload["overall"]["prediction"]] == [
        "prediction",
        "predicted_class",
    ]


def test_cli_drift_threshold(toy: Store, monkeypatch, capsys) -> None:
    """A stricter PSI applies at once; back to the default (looser) waits for an admin."""
    monkeypatch.setenv("VIGIL_PASSWORD", PASSWORD)
    args = ["drift-threshold", "--model", "toy", "--test", "psi", "--user", "dana"]
    args += ["--rationale", "PSI per the model risk policy"]
    assert cli.main([*args, "--threshold", "0.05"]) == 0
    assert capsys.readouterr().out == "toy: psi threshold for * is now 0.05\n"
    stored = "SELECT feature, test, threshold FROM drift_settings"
    with toy.connect() as con:
        assert con.execute(stored).fetchall() == [("*", "psi", 0.05)]
    assert cli.main([*args, "--reset"]) == 0
    with toy.connect() as con:
        assert con.execute(stored).fetchall() == [("*", "psi", 0.05)]
        (change_id,) = con.execute("SELECT max(change_id) FROM policy_changes").fetchone()
    policy.confirm(toy, ADAM, change_id, "Back to the default PSI.")
    with toy.connect() as con:
        assert con.execute(stored).fetchall() == []


def test_cli_errors_exit_non_zero(drift_store: Store, monkeypatch, capsys) -> None:
    monkeypatch.setenv("VIGIL_HOME", str(drift_store.home))
    code = cli.main(
        [
            "drift",
            "--model",
            "nope",
            "--version",
            "1",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-07",
            "--json",
        ]
    )
    assert code == 1
    assert "Model 'nope' is not registered" in capsys.readouterr().err
