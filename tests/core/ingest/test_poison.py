"""No input may poison the store: each bad input of issue 9, reproduced, and what happens now."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from tests.core.factories import log_rows, register_toy
from vigil.core.errors import IngestError
from vigil.core.ingest.batches import IngestResult, Kind
from vigil.core.ingest.labels import ingest_labels
from vigil.core.ingest.predictions import ingest_predictions
from vigil.core.ingest.run import Outcome, ingest_files
from vigil.core.store.connection import Store


@pytest.fixture
def toy(store: Store, tmp_path: Path) -> Store:
    register_toy(store, tmp_path)
    return store


def _quarantine(store: Store) -> list[tuple[int, str]]:
    with store.connect() as con:
        rows = con.execute("SELECT row_number, reason FROM quarantine ORDER BY row_number")
        return [(int(r[0]), str(r[1])) for r in rows.fetchall()]


def _stored(store: Store, column: str = "prediction_id") -> list[object]:
    with store.connect() as con:
        return [r[0] for r in con.execute(f"SELECT {column} FROM log_toy ORDER BY 1").fetchall()]


def _adds_up(result: IngestResult) -> None:
    assert result.read == result.stored + result.quarantined + result.already_present


@pytest.mark.parametrize(
    ("stamp", "words"),
    [
        ("9999-12-31T00:00:00", "is later than"),
        ("0001-01-01T00:00:00", "is earlier than 2025-01-15"),
        ("1970-01-01T00:00:00Z", "is earlier than 2025-01-15"),
    ],
)
def test_implausible_timestamps_are_quarantined(
    toy: Store, tmp_path: Path, stamp: str, words: str
) -> None:
    rows = log_rows(3)
    rows.loc[1, "timestamp"] = stamp
    path = tmp_path / "t.csv"
    rows.to_csv(path, index=False)
    result = ingest_predictions(toy, "toy", path)
    assert (result.stored, result.quarantined) == (2, 1)
    [(line, reason)] = _quarantine(toy)
    assert line == 3 and reason.startswith(f"timestamp '{stamp}' {words}")
    # the store stays usable: the next ingest and a page's computation still work
    later = log_rows(2)
    later["prediction_id"] = ["q1", "q2"]
    later.to_csv(tmp_path / "next.csv", index=False)
    assert ingest_predictions(toy, "toy", tmp_path / "next.csv").stored == 2
    assert max(_stored(toy, "served_at")).year == 2026  # type: ignore[attr-defined]


def test_the_time_bounds_follow_the_settings(
    toy: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_INGEST_PAST_DAYS", "3650")
    rows = log_rows(1, start="2019-06-01T00:00:00Z")
    rows.to_csv(tmp_path / "old.csv", index=False)
    assert ingest_predictions(toy, "toy", tmp_path / "old.csv").stored == 1


def test_a_label_time_outside_the_range_is_quarantined(toy: Store, tmp_path: Path) -> None:
    log_rows(2).to_csv(tmp_path / "logs.csv", index=False)
    ingest_predictions(toy, "toy", tmp_path / "logs.csv")
    labels = pd.DataFrame(
        {
            "prediction_id": ["p1", "p2"],
            "label": [1, 0],
            "label_timestamp": ["9999-12-31", "2026-03-02"],
        }
    )
    labels.to_csv(tmp_path / "labels.csv", index=False)
    result = ingest_labels(toy, "toy", tmp_path / "labels.csv")
    assert (result.stored, result.quarantined) == (1, 1)
    assert _quarantine(toy)[0][1].startswith("label_timestamp '9999-12-31' is later than")


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_nested_json_values_are_refused_and_strings_never_keep_their_quotes(
    toy: Store, tmp_path: Path
) -> None:
    rows = log_rows(3).to_dict("records")
    rows[0]["region"] = {"name": "north"}
    rows[1]["income"] = [41, 42]
    rows[2]["tenure"] = 2  # a number where the others hold text: fine
    result = ingest_predictions(toy, "toy", _jsonl(tmp_path / "n.jsonl", rows))
    assert (result.read, result.stored, result.quarantined) == (3, 1, 2)
    assert _quarantine(toy) == [
        (1, "region: an object is not a plain value (text, number or true/false)"),
        (2, "income: a list is not a plain value (text, number or true/false)"),
    ]
    with toy.connect() as con:
        assert con.execute("SELECT prediction_id, region FROM log_toy").fetchall() == [
            ("p3", "east")
        ]


def test_a_resent_prediction_with_other_values_is_a_conflict(toy: Store, tmp_path: Path) -> None:
    rows = log_rows(3)
    rows.to_csv(tmp_path / "a.csv", index=False)
    ingest_predictions(toy, "toy", tmp_path / "a.csv")
    rows.loc[0, "prediction"] = "0.875"
    rows.loc[1, "region"] = "west"
    rows.to_csv(tmp_path / "b.csv", index=False)
    result = ingest_predictions(toy, "toy", tmp_path / "b.csv")
    assert (result.stored, result.quarantined, result.already_present) == (0, 2, 1)
    assert _quarantine(toy) == [
        (2, "prediction_id 'p1' is already stored with other values (prediction); a stored "
            "prediction is never changed"),
        (3, "prediction_id 'p2' is already stored with other values (region); a stored "
            "prediction is never changed"),
    ]  # fmt: skip
    with toy.connect() as con:
        assert con.execute(
            "SELECT prediction FROM log_toy WHERE prediction_id = 'p1'"
        ).fetchone() == (0.0,)


def test_one_ragged_row_near_the_top_quarantines_only_itself(toy: Store, tmp_path: Path) -> None:
    lines = log_rows(50).to_csv(index=False).splitlines()
    lines[2] += ",surplus"  # line 3
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n")
    result = ingest_predictions(toy, "toy", path)
    assert (result.read, result.stored, result.quarantined) == (50, 49, 1)
    assert _quarantine(toy) == [
        (3, "column 10: the line has 10 values; the header names 9 columns")
    ]


def test_one_bad_row_does_not_reject_a_large_file(toy: Store, tmp_path: Path) -> None:
    rows = log_rows(100_000)
    text = rows.to_csv(index=False).splitlines()
    text[70_001] = text[70_001].rsplit(",", 3)[0]  # line 70,002 loses three values
    path = tmp_path / "big.csv"
    path.write_text("\n".join(text) + "\n")
    result = ingest_predictions(toy, "toy", path)
    assert (result.read, result.stored, result.quarantined) == (100_000, 99_999, 1)
    [(line, reason)] = _quarantine(toy)
    assert line == 70_002
    assert reason == (
        "column 7 (region) is missing: the line has 6 values; the header names 9 columns"
    )


def test_a_bad_byte_or_a_cut_last_line_rejects_only_that_line(toy: Store, tmp_path: Path) -> None:
    csv_bytes = log_rows(4).to_csv(index=False).encode().replace(b"south", b"s\xffuth", 1)
    (tmp_path / "bytes.csv").write_bytes(csv_bytes)
    result = ingest_predictions(toy, "toy", tmp_path / "bytes.csv")
    assert (result.stored, result.quarantined) == (3, 1)
    assert _quarantine(toy) == [(3, "column 7 (region): not valid UTF-8 text")]
    rows = log_rows(4)
    rows["prediction_id"] = [f"j{i}" for i in range(4)]
    text = "".join(json.dumps(r) + "\n" for r in rows.to_dict("records"))
    (tmp_path / "cut.jsonl").write_text(text[:-25])
    result = ingest_predictions(toy, "toy", tmp_path / "cut.jsonl")
    assert (result.read, result.stored, result.quarantined) == (4, 3, 1)
    assert _quarantine(toy)[-1] == (4, "not valid JSON (the last line looks cut short)")


def test_quoted_newlines_and_blank_lines_keep_true_line_numbers(toy: Store, tmp_path: Path) -> None:
    rows = log_rows(4)
    rows.loc[0, "region"] = "no\nrth"  # a quoted newline: the record spans lines 2-3
    body = rows.to_csv(index=False).splitlines(keepends=True)
    body.insert(3, "\n")  # a blank line
    path = tmp_path / "multi.csv"
    path.write_text("".join(body).replace("p3,toy,1,", "p3,toy,1,x,", 1))
    result = ingest_predictions(toy, "toy", path)
    assert (result.read, result.stored, result.quarantined) == (4, 3, 1)
    assert _quarantine(toy) == [
        (6, "column 10: the line has 10 values; the header names 9 columns")
    ]
    assert path.read_text().splitlines()[5].startswith("p3,")


def test_compressed_files_directories_and_preambles(toy: Store, tmp_path: Path) -> None:
    rows = log_rows(3)
    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(rows.to_csv(index=False).encode()))
    assert ingest_predictions(toy, "toy", tmp_path / "a.csv.gz").stored == 3
    rows["prediction_id"] = ["g1", "g2", "g3"]
    text = "".join(json.dumps(r) + "\n" for r in rows.to_dict("records"))
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(text.encode()))
    assert ingest_predictions(toy, "toy", tmp_path / "a.jsonl.gz").stored == 3
    (tmp_path / "logs.csv").mkdir()
    with pytest.raises(IngestError, match=r"logs\.csv: is a directory"):
        ingest_predictions(toy, "toy", tmp_path / "logs.csv")
    pre = tmp_path / "pre.csv"
    pre.write_text("# exported by scoring-service 2026-03-01\n" + rows.to_csv(index=False))
    with pytest.raises(IngestError, match=r"pre\.csv: line 1 is not the header .* on line 2"):
        ingest_predictions(toy, "toy", pre)


def test_a_failing_file_does_not_hide_the_ones_stored(toy: Store, tmp_path: Path) -> None:
    log_rows(2).to_csv(tmp_path / "one.csv", index=False)
    (tmp_path / "two.csv").write_text("")
    other = log_rows(2)
    other["prediction_id"] = ["t1", "t2"]
    other.to_csv(tmp_path / "three.csv", index=False)
    run = ingest_files(
        toy, "toy", [tmp_path / "one.csv", tmp_path / "two.csv", tmp_path / "three.csv"],
        Kind.PREDICTION,
    )  # fmt: skip
    assert [f.outcome for f in run.files] == [Outcome.INGESTED, Outcome.FAILED, Outcome.INGESTED]
    assert [r.stored for r in run.results] == [2, 2]
    assert run.failed[0].error and "two.csv: the file is empty" in run.failed[0].error
    assert run.failing_alert_windows is not None
    assert len(_stored(toy)) == 4


def test_counts_add_up_on_a_mixed_file(toy: Store, tmp_path: Path) -> None:
    rows = log_rows(6)
    rows.loc[1, "income"] = "nan"
    rows.to_csv(tmp_path / "a.csv", index=False)
    first = ingest_predictions(toy, "toy", tmp_path / "a.csv")
    again = ingest_predictions(toy, "toy", tmp_path / "a.csv")
    for result in (first, again):
        _adds_up(result)
    assert (again.stored, again.quarantined, again.already_present) == (0, 1, 5)
