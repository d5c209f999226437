"""Identical answers: the same Parquet files through DuckDB and through Spark (local[2]) give
the same validation counts and reasons, the same profile tables (counts equal, sums to
1e-9) and label aggregates, and the same drift reports. One Spark session for the module."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.core.factories import register_toy
from tests.core.lake.conftest import write_labels, write_lake
from tests.core.lake.test_build import good_rows
from vigil.core.lake.build import BuildResult, build_profiles
from vigil.core.lake.engine import EngineName
from vigil.core.lake.spark import session
from vigil.core.monitor.drift.report import drift_report
from vigil.core.monitor.drift.results import DriftReport
from vigil.core.monitor.selection import Selection
from vigil.core.store.connection import Store

pytestmark = pytest.mark.spark

TABLES = (
    "profile_columns",
    "profile_values",
    "profile_bins",
    "profile_fine_bins",
    "profile_categories",
    "profile_label_days",
    "profile_days",
)
SUMS = {"min_value", "max_value", "sum_value", "sum_squares", "total", "value"}


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    with session("local[2]", app_name="vigil-conformance") as running:
        yield running


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("lake")
    logs = write_lake(folder / "logs")
    return logs, write_labels(folder / "labels", good_rows())


def _store(root: Path) -> Store:
    store = Store(root / "home")
    with store.connect():
        pass
    inputs = root / "inputs"
    inputs.mkdir()
    register_toy(store, inputs)
    return store


@pytest.fixture(scope="module")
def built(
    spark: Any,
    lake: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[EngineName, tuple[Store, BuildResult]]:
    """The lake profiled by each engine into its own store, with 50 distinct values per day
    kept at most: income and prediction go through fine bins, tenure keeps its values."""
    logs, labels = lake
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VIGIL_EXACT_MAX_DISTINCT", "50")
        for engine in EngineName:
            root = tmp_path_factory.mktemp(engine.value)
            mp.setenv("VIGIL_HOME", str(root / "home"))
            store = _store(root)
            result = build_profiles(
                store,
                "toy",
                "1",
                str(logs),
                labels=str(labels),
                engine=engine,
                spark=spark if engine is EngineName.SPARK else None,
            )
            out[engine] = (store, result)
    return out


def _table(store: Store, name: str) -> pd.DataFrame:
    with store.connect() as con:
        frame = con.execute(
            f"SELECT * EXCLUDE (model_name, model_version) FROM {name} ORDER BY ALL"
        ).df()
    return frame.drop(columns=["profiled_at"], errors="ignore")


def _reasons(result: BuildResult) -> list[tuple[str, int]]:
    """Reasons and counts; the latest accepted time is the build's own, so it is cut off."""
    return [(re.sub(r"later than .* UTC", "later than", r.reason), r.rows) for r in result.reasons]


def test_validation_counts_and_reasons_are_the_same(built: dict) -> None:
    (_, duck), (_, spark) = built[EngineName.DUCKDB], built[EngineName.SPARK]
    for field in ("files", "rows_read", "rows_other_versions", "rows_rejected", "rows_profiled"):
        assert getattr(duck, field) == getattr(spark, field), field
    assert duck.days == spark.days
    assert _reasons(duck) == _reasons(spark) and duck.rows_rejected > 0
    assert (duck.labels_read, duck.labels_matched) == (spark.labels_read, spark.labels_matched)
    assert spark.master == "local[2]" and spark.engine is EngineName.SPARK


def test_rejected_rows_written_by_both_engines_are_the_same(built: dict) -> None:
    duck, spark = (built[e][1] for e in EngineName)
    assert duck.rejected_path != spark.rejected_path
    frames = [pd.read_parquet(r.rejected_path) for r in (duck, spark)]
    for frame in frames:
        assert len(frame) == duck.rows_rejected
    # an all-empty column (predicted_label) has no type of its own: left out
    a, b = (
        f.dropna(axis=1, how="all").sort_values(["timestamp", "income"]).reset_index(drop=True)
        for f in frames
    )
    pd.testing.assert_frame_equal(a.drop(columns="vigil_reason"), b.drop(columns="vigil_reason"))
    cut = r"later than .* UTC"
    assert list(a.vigil_reason.str.replace(cut, "", regex=True)) == list(
        b.vigil_reason.str.replace(cut, "", regex=True)
    )


@pytest.mark.parametrize("name", TABLES)
def test_profile_tables_are_equal(built: dict, name: str) -> None:
    duck, spark = (_table(built[e][0], name) for e in EngineName)
    assert len(duck) > 0 and list(duck.columns) == list(spark.columns)
    exact = [c for c in duck.columns if c not in SUMS]
    pd.testing.assert_frame_equal(duck[exact], spark[exact], check_dtype=False)
    for column in SUMS & set(duck.columns):
        pd.testing.assert_series_equal(duck[column], spark[column], rtol=1e-9, check_dtype=False)


def _numbers(report: DriftReport) -> list[tuple]:
    return [
        (
            *(w.window.start, c.feature, c.status, c.test, c.current_n),
            *(c.statistic, c.p_value, c.psi, c.statistic_error, c.current_mean),
        )
        for w in (report.overall, *report.windows)
        for c in (*w.features, *w.prediction)
    ]


def test_drift_reports_are_equal(built: dict) -> None:
    selection = Selection("toy", "1", dt.datetime(2026, 2, 28), dt.datetime(2026, 3, 7))
    duck, spark = (
        _numbers(drift_report(built[e][0], selection, granularity="day", multivariate=False))
        for e in EngineName
    )
    assert len(duck) == len(spark) > 0
    bounded = [a for a in duck if a[8]]  # income and prediction: from fine bins
    assert {a[1] for a in bounded} == {"income", "prediction"}
    for a, b in zip(duck, spark, strict=True):
        assert a[:5] == b[:5]
        for x, y in zip(a[5:], b[5:], strict=True):
            assert x == pytest.approx(y, rel=1e-9, abs=1e-12) if x is not None else y is None
