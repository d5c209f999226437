"""`vigil profile` on DuckDB: every row counted, rejects beside the data, profiles equal to an
independent pandas computation on the good rows, rebuilds idempotent per day, labels joined."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.core.factories import log_rows, reference_frame
from tests.core.lake.conftest import (
    BAD_ROWS,
    DAYS,
    ROWS_PER_DAY,
    lake_frame,
    write_labels,
    write_lake,
)
from vigil.core.ingest.predictions import ingest_predictions
from vigil.core.lake.build import LakeVersionError, build_profiles
from vigil.core.lake.dataset import LakeDatasetError
from vigil.core.lake.grid import FINE_QUANTILES, load_grid, merge_edges
from vigil.core.lake.validate import LakeSchemaError
from vigil.core.monitor.drift.report import drift_report
from vigil.core.monitor.selection import Selection
from vigil.core.stats.psi import bin_of
from vigil.core.store.connection import Store

KEY = ["toy", "1"]


def good_rows() -> pd.DataFrame:
    """The lake's good rows of version 1 as the store would hold them (UTC day)."""
    frame = pd.concat([lake_frame(d) for d in range(DAYS)], ignore_index=True)
    served = pd.to_datetime(frame.timestamp, format="ISO8601", utc=True)
    return frame.assign(day=served.dt.tz_convert(None).dt.normalize().dt.date)


def table(store: Store, name: str, where: str = "") -> pd.DataFrame:
    with store.connect() as con:
        return con.execute(
            f"SELECT * EXCLUDE (model_name, model_version) FROM {name} WHERE model_name = ? "
            f"AND model_version = ? {where} ORDER BY ALL",
            KEY,
        ).df()


def test_every_row_is_counted_and_rejects_land_beside_the_data(
    lake_store: Store, tmp_path: Path
) -> None:
    lake = write_lake(tmp_path / "lake")
    result = build_profiles(lake_store, "toy", "1", str(lake))
    good = DAYS * ROWS_PER_DAY
    assert (result.rows_read, result.rows_other_versions) == (good + len(BAD_ROWS) + 40, 40)
    assert (result.rows_rejected, result.rows_profiled) == (len(BAD_ROWS), good)
    assert result.files == DAYS + 1
    for prefix, got in zip(
        sorted(BAD_ROWS), sorted(result.reasons, key=lambda r: r.reason), strict=True
    ):
        assert got.reason.startswith(prefix) and got.rows == 1
    # +02:00 rows of the first day belong to the UTC day before
    assert result.days[0] == dt.date(2026, 2, 28) and len(result.days) == DAYS + 1
    assert result.rejected_path is not None
    assert result.rejected_path.startswith(f"{lake}/_vigil_rejected/toy/1/")
    assert f"-build-{result.build_id}-" in result.rejected_path
    rejected = pd.read_parquet(result.rejected_path)
    assert len(rejected) == len(BAD_ROWS)
    assert set(rejected.prediction_id.dropna()) <= {f"d1-99-{i}" for i in range(len(BAD_ROWS))}
    assert (rejected.vigil_reason.str.len() > 0).all()
    with lake_store.connect() as con:
        build = con.execute(
            "SELECT rows_read, rows_rejected, rows_profiled, days, engine FROM lake_builds"
        ).fetchall()
        reasons = con.execute("SELECT sum(rows) FROM lake_rejections").fetchone()
    assert build == [(result.rows_read, len(BAD_ROWS), good, DAYS + 1, "duckdb")]
    assert reasons == (len(BAD_ROWS),)
    # the rejects folder is not part of the dataset the next build reads
    assert build_profiles(lake_store, "toy", "1", str(lake)).rows_read == result.rows_read


def test_profiles_equal_an_independent_computation(
    lake_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per UTC day, from pandas on the good rows: rows, moments, value counts where a day
    has at most 100 distinct values (tenure), fine and decile bins, categories."""
    monkeypatch.setenv("VIGIL_EXACT_MAX_DISTINCT", "100")
    build_profiles(lake_store, "toy", "1", str(write_lake(tmp_path / "lake", with_bad=False)))
    rows = good_rows()
    columns = table(lake_store, "profile_columns", "AND scope = 'day'").set_index(
        ["day", "feature"]
    )
    with lake_store.connect() as con:
        grid = load_grid(con, *KEY)
    for name in ("income", "tenure", "prediction"):
        for day, values in rows.groupby("day")[name]:
            got = columns.loc[(pd.Timestamp(day), name)]
            assert (got.rows, got.nulls) == (len(values), values.isna().sum())
            assert got.sum_value == pytest.approx(values.sum(), rel=1e-12)
            assert got.sum_squares == pytest.approx((values**2).sum(), rel=1e-12)
            assert (got.min_value, got.max_value) == (values.min(), values.max())
            assert got.distinct_values == values.nunique()
            assert got.values_kept == (values.nunique() <= 100)
    values = table(lake_store, "profile_values", "AND scope = 'day'")
    long = rows.melt(["day"], ["income", "tenure", "prediction"], "feature", "value")
    distinct = long.groupby(["day", "feature"]).value.transform("nunique")
    expected = long[distinct <= 100].groupby(["day", "feature", "value"]).size()
    got = values.set_index([values.day.dt.date, "feature", "value"]).n
    assert got.to_dict() == expected.to_dict()
    assert set(values.feature[values.day.dt.date > dt.date(2026, 2, 28)]) == {"tenure"}
    fine = table(lake_store, "profile_fine_bins", "AND scope = 'day' AND feature = 'income'")
    bins = table(lake_store, "profile_bins", "AND scope = 'day' AND feature = 'income'")
    edges, coarse = grid.fine["income"], grid.coarse["income"]
    for day, income in rows.groupby("day").income:
        index = np.searchsorted(edges, income, side="right")
        mine = fine[fine.day.dt.date == day]
        assert dict(zip(mine.bin, mine.n, strict=True)) == pd.Series(index).value_counts().to_dict()
        sums = pd.Series(income.to_numpy()).groupby(index).sum()
        assert np.allclose(mine.set_index("bin").total.sort_index(), sums.sort_index(), rtol=1e-12)
        deciles = pd.Series(bin_of(income, coarse)).value_counts().to_dict()
        mine = bins[bins.day.dt.date == day]
        assert dict(zip(mine.bin, mine.n, strict=True)) == deciles
    reference = reference_frame().income  # the toy's reference data, binned on the same grid
    quantiles = np.quantile(reference, FINE_QUANTILES)  # numpy's linear = quantile_cont
    assert np.allclose(edges, merge_edges(list(quantiles), coarse), rtol=1e-12)
    mine = table(lake_store, "profile_fine_bins", "AND scope = 'reference' AND feature = 'income'")
    expected = pd.Series(np.searchsorted(edges, reference, side="right")).value_counts()
    assert dict(zip(mine.bin, mine.n, strict=True)) == expected.to_dict()
    categories = table(lake_store, "profile_categories", "AND scope = 'day' AND feature = 'region'")
    expected = rows.groupby(["day", "region"]).size().to_dict()
    assert {
        (d.date(), c): n for d, c, n in categories[["day", "category", "n"]].itertuples(False)
    } == expected


def test_a_rebuild_replaces_exactly_the_days_it_reads(lake_store: Store, tmp_path: Path) -> None:
    lake = write_lake(tmp_path / "lake")
    build_profiles(lake_store, "toy", "1", str(lake))
    first = {t: table(lake_store, t) for t in ("profile_columns", "profile_fine_bins")}
    build_profiles(lake_store, "toy", "1", str(lake))
    for name, before in first.items():
        # idempotent (sums to rounding: DuckDB adds in parallel, in any order)
        pd.testing.assert_frame_equal(
            table(lake_store, name), before, check_exact=False, rtol=1e-12
        )
    day3 = lake_frame(3, seed=1)  # a corrected file for one day
    day3.timestamp = day3.timestamp.str.replace("+02:00", "Z")  # inside its own UTC day
    day3.to_parquet(lake / "day=3" / "part-0.parquet", index=False)
    result = build_profiles(lake_store, "toy", "1", str(lake / "day=3" / "*.parquet"))
    assert result.days == (dt.date(2026, 3, 4),)
    after = table(lake_store, "profile_columns")
    counts = ["day", "feature", "rows", "min_value", "max_value"]  # sums vary in rounding
    changed = set(
        after[counts]
        .merge(first["profile_columns"][counts], how="outer", indicator=True)
        .query("_merge != 'both'")
        .day.dt.date
    )
    assert changed == {dt.date(2026, 3, 4)}
    income = after[(after.day.dt.date == dt.date(2026, 3, 4)) & (after.feature == "income")]
    assert income.sum_value.item() == pytest.approx(day3.income.sum(), rel=1e-12)
    with lake_store.connect() as con:
        rows = dict(con.execute("SELECT day, rows FROM profile_days").fetchall())
    assert rows[dt.date(2026, 3, 4)] == ROWS_PER_DAY


def test_labels_join_on_the_engine(lake_store: Store, tmp_path: Path) -> None:
    lake = write_lake(tmp_path / "lake", with_bad=False)
    rows = good_rows()
    labels = write_labels(tmp_path / "labels", rows)
    result = build_profiles(lake_store, "toy", "1", str(lake), labels=str(labels / "*.parquet"))
    frame = pd.read_parquet(labels / "labels.parquet")
    # a label that is not 0 or 1 is ignored; an id with two different labels has none
    counts = frame[frame.label.isin([0, 1])].groupby("prediction_id").label.agg(["min", "max"])
    good = counts[counts["min"] == counts["max"]]["min"]
    joined = rows.assign(label=rows.prediction_id.map(good))
    assert result.labels_read == len(frame)
    assert result.labels_matched == joined.label.notna().sum() == len(rows[::3]) - 1
    got = table(lake_store, "profile_label_days").set_index("day")
    for day, part in joined.groupby("day"):
        labelled, positive = part[part.label.notna()], part.prediction >= 0.5
        row = got.loc[pd.Timestamp(day)]
        assert (row.predictions, row.labelled) == (len(part), len(labelled))
        assert row.true_positives == ((part.label == 1) & positive).sum()
        assert row.false_positives == ((part.label == 0) & positive).sum()
        assert row.true_negatives == ((part.label == 0) & ~positive).sum()
        assert row.false_negatives == ((part.label == 1) & ~positive).sum()


def test_the_drift_report_reads_lake_profiles(lake_store: Store, tmp_path: Path) -> None:
    build_profiles(lake_store, "toy", "1", str(write_lake(tmp_path / "lake", with_bad=False)))
    selection = Selection("toy", "1", dt.datetime(2026, 3, 1), dt.datetime(2026, 3, 7))
    report = drift_report(lake_store, selection, granularity="day")
    assert report.source == "profiles"
    # each day gives 12 rows (01:30 +02:00) to the UTC day before and gets 12 from the next
    assert [w.rows for w in report.windows] == [ROWS_PER_DAY] * 5 + [ROWS_PER_DAY - 12]
    assert report.windows[-1].column("income").drifted  # shifted by 0.4 std: found
    assert not report.windows[0].column("income").drifted


def test_refusals(lake_store: Store, tmp_path: Path) -> None:
    with pytest.raises(LakeDatasetError, match="No Parquet file"):
        build_profiles(lake_store, "toy", "1", str(tmp_path / "nothing" / "*.parquet"))
    with pytest.raises(LakeDatasetError, match="Use --engine spark"):
        build_profiles(lake_store, "toy", "1", "s3a://bucket/logs/*.parquet")
    broken = tmp_path / "broken"
    broken.mkdir()
    lake_frame(0).drop(columns=["prediction"]).to_parquet(broken / "a.parquet")
    with pytest.raises(LakeSchemaError, match="no column prediction"):
        build_profiles(lake_store, "toy", "1", str(broken))
    logged = tmp_path / "logged.csv"
    log_rows(5).to_csv(logged, index=False)
    ingest_predictions(lake_store, "toy", logged)
    with pytest.raises(LakeVersionError, match="has 5 log rows in the store"):
        build_profiles(lake_store, "toy", "1", str(write_lake(tmp_path / "lake")))
