"""Ingestion: every rule's exact message, exact counts, idempotency, formats, labels."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.core.factories import log_rows, register_toy
from vigil.core.errors import IngestError, UnknownModelError
from vigil.core.ingest.labels import ingest_labels
from vigil.core.ingest.predictions import ingest_predictions
from vigil.core.store.connection import Store


@pytest.fixture
def toy(store: Store, tmp_path: Path) -> Store:
    register_toy(store, tmp_path)
    return store


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def _quarantine(store: Store) -> list[tuple[int, str]]:
    with store.connect() as con:
        return con.execute(
            "SELECT row_number, reason FROM quarantine ORDER BY row_number"
        ).fetchall()


def _stored_ids(store: Store) -> list[str]:
    with store.connect() as con:
        return [
            r[0] for r in con.execute("SELECT prediction_id FROM log_toy ORDER BY 1").fetchall()
        ]


def test_good_file_is_stored_with_typed_utc_values(toy: Store, tmp_path: Path) -> None:
    rows = log_rows(3)
    rows.loc[1, "timestamp"] = "2026-03-01T12:00:00+02:00"
    result = ingest_predictions(toy, "toy", _csv(rows, tmp_path / "a.csv"))
    assert (result.read, result.stored, result.quarantined, result.already_present) == (3, 3, 0, 0)
    with toy.connect() as con:
        row = con.execute(
            "SELECT served_at, income, tenure, region, status FROM log_toy WHERE prediction_id = 'p2'"
        ).fetchone()
    assert str(row[0]) == "2026-03-01 10:00:00"  # +02:00 converted to UTC
    assert row[1:] == (41.0, 1, "south", "ok")


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("income", "abc", "income: 'abc' is not a number"),
        ("income", "inf", "income: 'inf' is not a finite number"),
        ("tenure", "2.5", "tenure: '2.5' is not a whole number"),
        ("tenure", "", "tenure is empty"),
        ("region", "", "region is empty"),
        ("timestamp", "31/02/2026", "timestamp '31/02/2026' is not a date-time"),
        ("timestamp", "", "timestamp is empty"),
        ("prediction_id", "", "prediction_id is empty"),
        ("model_version", "9", "model_version '9' is not registered for toy (registered: 1)"),
        ("model_name", "other", "model_name 'other' is not the model being ingested (toy)"),
        (
            "prediction",
            "1.5",
            "prediction 1.5 is outside [0, 1]; a binary classifier logs the "
            "positive-class probability",
        ),
        ("prediction", "high", "prediction: 'high' is not a number"),
        ("prediction", "", "prediction is empty on a row with status ok"),
        ("latency_ms", "-3", "latency_ms is negative"),
        ("latency_ms", "fast", "latency_ms: 'fast' is not a number"),
    ],
)
def test_each_bad_value_is_quarantined_with_its_reason(
    toy: Store, tmp_path: Path, column: str, value: str, reason: str
) -> None:
    rows = log_rows(3)
    rows[column] = rows[column].astype(object)
    rows.loc[1, column] = value
    result = ingest_predictions(toy, "toy", _csv(rows, tmp_path / "bad.csv"))
    assert (result.read, result.stored, result.quarantined) == (3, 2, 1)
    assert _quarantine(toy) == [(3, reason)]  # line 3: the header is line 1


def test_several_problems_in_one_row_are_all_named(toy: Store, tmp_path: Path) -> None:
    rows = log_rows(2)
    rows.loc[0, "income"] = "x"
    rows.loc[0, "timestamp"] = "never"
    ingest_predictions(toy, "toy", _csv(rows, tmp_path / "multi.csv"))
    assert _quarantine(toy) == [
        (2, "timestamp 'never' is not a date-time; income: 'x' is not a number")
    ]


def test_missing_column_quarantines_every_row_naming_it(toy: Store, tmp_path: Path) -> None:
    rows = log_rows(2).drop(columns=["tenure"])
    result = ingest_predictions(toy, "toy", _csv(rows, tmp_path / "nocol.csv"))
    assert (result.stored, result.quarantined) == (0, 2)
    assert {r for _, r in _quarantine(toy)} == {"column 'tenure' is missing from the file"}


def test_errors_rows_without_prediction_are_kept(toy: Store, tmp_path: Path) -> None:
    rows = log_rows(2)
    rows["status"] = ["ok", "timeout"]
    rows.loc[1, "prediction"] = ""
    result = ingest_predictions(toy, "toy", _csv(rows, tmp_path / "err.csv"))
    assert (result.stored, result.quarantined) == (2, 0)


def test_duplicates_in_file_and_reingest_change_nothing(toy: Store, tmp_path: Path) -> None:
    rows = log_rows(5)
    rows.loc[4, "prediction_id"] = "p2"  # duplicate of row 2
    rows.loc[0, "income"] = "oops"
    path = _csv(rows, tmp_path / "mix.csv")
    first = ingest_predictions(toy, "toy", path)
    assert (first.read, first.stored, first.quarantined, first.already_present) == (5, 3, 2, 0)
    assert _quarantine(toy) == [
        (2, "income: 'oops' is not a number"),
        (6, "duplicate prediction_id 'p2' (first on line 3)"),
    ]
    before = (_stored_ids(toy), _quarantine(toy))
    second = ingest_predictions(toy, "toy", path)
    assert (second.read, second.stored, second.quarantined, second.already_present) == (5, 0, 2, 3)
    assert second.new_quarantine_records == 0
    assert (_stored_ids(toy), _quarantine(toy)) == before
    assert second.read == second.stored + second.quarantined + second.already_present


@pytest.mark.parametrize("suffix", ["parquet", "jsonl", "csv"])
def test_all_three_formats_give_the_same_rows(toy: Store, tmp_path: Path, suffix: str) -> None:
    rows = log_rows(4)
    typed = rows.assign(
        income=rows["income"].astype(float),
        tenure=rows["tenure"].astype(int),
        prediction=rows["prediction"].astype(float),
        latency_ms=rows["latency_ms"].astype(float),
    )
    path = tmp_path / f"logs.{suffix}"
    if suffix == "parquet":
        typed.to_parquet(path, index=False)
    elif suffix == "jsonl":
        typed.to_json(path, orient="records", lines=True)
    else:
        rows.to_csv(path, index=False)
    result = ingest_predictions(toy, "toy", path)
    assert (result.read, result.stored, result.quarantined) == (4, 4, 0)
    with toy.connect() as con:
        got = con.execute(
            "SELECT income, tenure, prediction FROM log_toy ORDER BY prediction_id"
        ).fetchall()
    expected = list(typed[["income", "tenure", "prediction"]].itertuples(index=False, name=None))
    assert got == expected


def test_unknown_model_and_unreadable_files_are_refused(toy: Store, tmp_path: Path) -> None:
    path = _csv(log_rows(1), tmp_path / "a.csv")
    with pytest.raises(
        UnknownModelError, match=r"^Model 'nope' is not registered \(registered models: toy\)\.$"
    ):
        ingest_predictions(toy, "nope", path)
    with pytest.raises(
        IngestError,
        match=r"b\.txt: unsupported file type '\.txt'; use \.parquet, \.csv or \.jsonl ",
    ):
        ingest_predictions(toy, "toy", tmp_path / "b.txt")
    with pytest.raises(IngestError, match=r"missing\.csv: file not found$"):
        ingest_predictions(toy, "toy", tmp_path / "missing.csv")
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(IngestError, match=r"broken\.parquet: cannot be read as parquet"):
        ingest_predictions(toy, "toy", broken)


def test_labels_join_later_and_unknown_ids_are_quarantined(toy: Store, tmp_path: Path) -> None:
    ingest_predictions(toy, "toy", _csv(log_rows(3), tmp_path / "logs.csv"))
    labels = pd.DataFrame(
        {
            "prediction_id": ["p1", "p2", "zzz", "p3", "p1"],
            "label": ["1", "0", "1", "maybe", "1"],
            "label_timestamp": ["2026-03-20T00:00:00Z"] * 5,
        }
    )
    path = _csv(labels, tmp_path / "labels.csv")
    result = ingest_labels(toy, "toy", path)
    assert (result.read, result.stored, result.quarantined, result.already_present) == (5, 2, 3, 0)
    with toy.connect() as con:
        reasons = con.execute(
            "SELECT row_number, reason FROM quarantine WHERE kind = 'label' ORDER BY row_number"
        ).fetchall()
        stored = con.execute("SELECT prediction_id, label FROM labels ORDER BY 1").fetchall()
    assert reasons == [
        (4, "no prediction with id 'zzz' has been ingested for toy"),
        (5, "label: 'maybe' is not a number"),
        (6, "duplicate prediction_id 'p1' (first on line 2)"),
    ]
    assert stored == [("p1", 1.0), ("p2", 0.0)]
    again = ingest_labels(toy, "toy", path)
    assert (
        again.stored,
        again.quarantined,
        again.already_present,
        again.new_quarantine_records,
    ) == (0, 3, 2, 0)


def test_a_changed_label_is_not_silently_overwritten(toy: Store, tmp_path: Path) -> None:
    ingest_predictions(toy, "toy", _csv(log_rows(1), tmp_path / "logs.csv"))
    ingest_labels(
        toy, "toy", _csv(pd.DataFrame({"prediction_id": ["p1"], "label": [1]}), tmp_path / "l1.csv")
    )
    result = ingest_labels(
        toy, "toy", _csv(pd.DataFrame({"prediction_id": ["p1"], "label": [0]}), tmp_path / "l2.csv")
    )
    assert (result.stored, result.quarantined) == (0, 1)
    assert _quarantine(toy)[-1] == (
        2,
        "a label for 'p1' is already recorded (1.0); corrections are not accepted",
    )


def test_binary_labels_must_be_zero_or_one(toy: Store, tmp_path: Path) -> None:
    ingest_predictions(toy, "toy", _csv(log_rows(1), tmp_path / "logs.csv"))
    ingest_labels(
        toy, "toy", _csv(pd.DataFrame({"prediction_id": ["p1"], "label": [2]}), tmp_path / "l.csv")
    )
    assert _quarantine(toy) == [(2, "label 2 is not 0 or 1")]


def test_label_file_without_label_column_is_refused(toy: Store, tmp_path: Path) -> None:
    path = _csv(pd.DataFrame({"prediction_id": ["p1"]}), tmp_path / "l.csv")
    with pytest.raises(
        IngestError, match=r"a label file needs columns prediction_id and label; missing: label$"
    ):
        ingest_labels(toy, "toy", path)


def test_one_million_rows_ingest_in_duckdb(toy: Store, tmp_path: Path) -> None:
    """Not a timing test (bench/ has those): checks the SQL path handles volume exactly."""
    import duckdb

    path = tmp_path / "big.parquet"
    duckdb.sql(
        f"""
        COPY (SELECT 'id' || i AS prediction_id, 'toy' AS model_name, '1' AS model_version,
                     TIMESTAMP '2026-03-01' + to_seconds(i) AS timestamp,
                     (i % 100)::DOUBLE AS income, (i % 7) AS tenure,
                     ['north','south','east'][i % 3 + 1] AS region,
                     CASE WHEN i % 1000 = 0 THEN 2.0 ELSE (i % 10) / 10 END AS prediction,
                     5.0 AS latency_ms
              FROM range(200000) t(i)) TO '{path}' (FORMAT parquet)
        """
    )
    result = ingest_predictions(toy, "toy", path)
    assert (result.read, result.stored, result.quarantined) == (200000, 199800, 200)
