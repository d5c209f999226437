"""`vigil profile` as a pipeline runs it: counts as JSON, an error naming the path, exit 1."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.helpers import vigil
from tests.core.lake.conftest import BAD_ROWS, DAYS, ROWS_PER_DAY, write_lake
from vigil.core.store.connection import Store


def test_profile_prints_its_counts(lake_store: Store, tmp_path: Path) -> None:
    lake = write_lake(tmp_path / "lake")
    done = vigil(lake_store.home, "profile", "--model", "toy", "--version", "1", "--logs",
                 f"{lake}/**/*.parquet", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["engine"] == "duckdb" and result["master"] is None
    assert result["rows_profiled"] == DAYS * ROWS_PER_DAY
    assert result["rows_rejected"] == len(BAD_ROWS)
    assert sum(r["rows"] for r in result["reasons"]) == len(BAD_ROWS)
    text = vigil(lake_store.home, "profile", "--model", "toy", "--version", "1", "--logs",
                 str(lake))  # fmt: skip
    assert text.returncode == 0, text.stderr
    assert f"profiled {DAYS * ROWS_PER_DAY:,}, rejected {len(BAD_ROWS)}" in text.stdout
    assert "_vigil_rejected" in text.stdout


def test_profile_errors_exit_1(lake_store: Store, tmp_path: Path) -> None:
    done = vigil(lake_store.home, "profile", "--model", "toy", "--version", "1", "--logs",
                 str(tmp_path / "none"))  # fmt: skip
    assert done.returncode == 1
    assert "No Parquet file matches" in done.stderr
    done = vigil(lake_store.home, "profile", "--model", "toy", "--version", "9", "--logs",
                 str(write_lake(tmp_path / "lake")))  # fmt: skip
    assert done.returncode == 1 and "9" in done.stderr
    assert vigil(lake_store.home, "profile", "--model", "toy").returncode == 2
