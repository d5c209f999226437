"""Lake fixtures: the toy model registered without store logs, and Parquet logs for it with
rows that break each rule once (so every count has a known answer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.core.factories import register_toy
from vigil.core.store.connection import Store

DAYS = 6
ROWS_PER_DAY = 300
START = pd.Timestamp("2026-03-01")

# One row per rule it breaks, with the reason both engines must give.
BAD_ROWS = {
    "prediction is outside [0, 1]; a binary classifier logs the positive-class probability": {
        "prediction": 1.5
    },
    "prediction is empty on a row with status ok": {"prediction": None},
    "income is not a finite number": {"income": float("inf")},
    "income is empty": {"income": None},
    "tenure is not a whole number": {"tenure": 2.5},
    "prediction_id is empty": {"prediction_id": None},
    "timestamp is not a date-time": {"timestamp": "not a time"},
    "latency_ms is negative": {"latency_ms": -1.0},
    "model_name is not toy": {"model_name": "other"},
    "timestamp is earlier than 2025-01-15": {"timestamp": "2020-01-01T00:00:00Z"},
    "timestamp is later than": {"timestamp": "2099-01-01T00:00:00Z"},
}  # the last two are the start of their reason (the rest names settings and the build time)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "spark: runs Apache Spark (local[2], needs Java 17+)")


def lake_frame(day: int, rows: int = ROWS_PER_DAY, seed: int = 0) -> pd.DataFrame:
    """Good rows of one day: continuous income (about one distinct value per row), integer
    tenure, three regions; time stamps as ISO text, some with a +02:00 offset that moves them
    to the previous UTC day (both engines must agree on the day)."""
    rng = np.random.default_rng(seed * 1000 + day)
    local = START + pd.Timedelta(days=day) + pd.to_timedelta(rng.uniform(0, 86_400, rows), "s")
    stamps = [t.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for t in local]
    for i in range(0, rows, 25):  # +02:00: 01:30 local is 23:30 UTC the day before
        stamps[i] = (START + pd.Timedelta(days=day, hours=1, minutes=30)).strftime(
            "%Y-%m-%dT%H:%M:%S+02:00"
        )
    shift = 4.0 if day >= DAYS - 2 else 0.0  # the last two days drift
    return pd.DataFrame(
        {
            "prediction_id": [f"d{day}-{seed}-{i}" for i in range(rows)],
            "model_name": "toy",
            "model_version": "1",
            "timestamp": stamps,
            "income": rng.normal(50 + shift, 10, rows),
            "tenure": rng.integers(0, 20, rows).astype(float),
            "region": rng.choice(["north", "south", "east"], rows),
            "prediction": rng.uniform(0, 1, rows).round(3),
            "predicted_label": None,
            "latency_ms": rng.uniform(5, 50, rows).round(2),
            "status": "ok",
        }
    )


def bad_rows(day: int) -> pd.DataFrame:
    base = lake_frame(day, rows=len(BAD_ROWS), seed=99)
    for i, change in enumerate(BAD_ROWS.values()):
        for column, value in change.items():
            base.loc[i, column] = value
    return base


def write_lake(folder: Path, *, with_bad: bool = True, seed: int = 0) -> Path:
    """One folder per day (Hive style) plus rows of another version, as a shared lake has."""
    for day in range(DAYS):
        frame = lake_frame(day, seed=seed)
        if with_bad and day == 1:
            frame = pd.concat([frame, bad_rows(day)], ignore_index=True)
        part = folder / f"day={day}"
        part.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(part / "part-0.parquet", index=False)
    other = lake_frame(0, rows=40, seed=seed + 7).assign(model_version="2")
    other.to_parquet(folder / "day=0" / "other-version.parquet", index=False)
    return folder


def write_labels(folder: Path, logs: pd.DataFrame) -> Path:
    """Labels for two rows in three; one id labelled twice with different values and one
    label that is not 0 or 1, both left out."""
    rng = np.random.default_rng(5)
    labelled = logs.iloc[::3]
    frame = pd.DataFrame(
        {
            "prediction_id": labelled.prediction_id.to_numpy(),
            "label": (rng.uniform(size=len(labelled)) < labelled.prediction).astype(float),
        }
    )
    extra = pd.DataFrame(
        {
            "prediction_id": [frame.prediction_id.iloc[0], frame.prediction_id.iloc[1]],
            "label": [1 - frame.label.iloc[0], 2.0],
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    pd.concat([frame, extra], ignore_index=True).to_parquet(folder / "labels.parquet")
    return folder


@pytest.fixture
def lake_store(store: Store, tmp_path: Path) -> Store:
    """The toy model's version 1 registered, with no log rows in the store."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    register_toy(store, inputs)
    return store
