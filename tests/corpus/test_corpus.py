"""Every malformed file of the corpus through `vigil ingest`: the exit code, the message (file,
line, column), and read = stored + quarantined + already present against Python's own count
of the file's records (csv and json modules), with the bad lines Python finds quarantined."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.core.factories import INGESTER, INGESTER_PASSWORD, add_ingester, register_toy
from tests.corpus import make_corpus
from vigil.cli.main import main
from vigil.core.store.connection import Store

INGESTER_ENV = {"VIGIL_USER": INGESTER, "VIGIL_PASSWORD": INGESTER_PASSWORD}
FILES = make_corpus.FILES
MANIFEST: dict[str, dict[str, Any]] = json.loads((make_corpus.HERE / "manifest.json").read_text())
WANTED = {"prediction_id", "model_name", "model_version", "timestamp", "income", "tenure",
          "region", "prediction", "latency_ms"}  # fmt: skip
MAX_LINE = 1 << 21


def test_the_corpus_on_disk_is_what_the_script_writes() -> None:
    built = make_corpus.build()
    assert len(built) >= 60
    assert sorted(p.name for p in FILES.iterdir()) == sorted(built)
    assert all((FILES / name).read_bytes() == content for name, content in built.items())
    assert json.loads(json.dumps(make_corpus.manifest())) == MANIFEST


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("corpus-home")
    register_toy(Store(home), tmp_path_factory.mktemp("corpus-inputs"))
    add_ingester(Store(home))
    return home


def _text(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def _csv_records(path: Path) -> tuple[int, set[int]]:
    """Python's count of data records and the lines of those it cannot take as they are."""
    csv.field_size_limit(sys.maxsize)
    raw = _text(path)
    text = raw.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    count, bad, last = 0, set(), reader.line_num
    for record in reader:
        start, last = last + 1, reader.line_num
        if not record:
            continue
        count += 1
        too_long = len(",".join(record).encode()) > MAX_LINE
        if len(record) != len(header) or any("\ufffd" in f for f in record) or too_long:
            bad.add(start)
    return count, bad


def _jsonl_records(path: Path) -> tuple[int, set[int]]:
    count, bad = 0, set()
    for number, line in enumerate(_text(path).split(b"\n"), start=1):
        if not line.strip():
            continue
        count += 1
        try:
            value = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            bad.add(number)
            continue
        nested = isinstance(value, dict) and any(
            isinstance(value.get(k), (dict, list)) for k in WANTED
        )
        if not isinstance(value, dict) or nested or len(line) > MAX_LINE:
            bad.add(number)
    return count, bad


def _parquet_records(path: Path) -> tuple[int, set[int]]:
    frame = pd.read_parquet(path)
    nested = {i + 1 for i, v in enumerate(frame["region"]) if isinstance(v, dict)}
    return len(frame), nested


def _independent(path: Path) -> tuple[int, set[int]]:
    name = path.name.removesuffix(".gz")
    if name.endswith(".csv"):
        return _csv_records(path)
    if name.endswith(".jsonl"):
        return _jsonl_records(path)
    return _parquet_records(path)


def _vigil(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_each_malformed_file(
    name: str,
    template: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = tmp_path / "home"
    shutil.copytree(template, home)
    monkeypatch.setenv("VIGIL_HOME", str(home))
    for variable, value in INGESTER_ENV.items():
        monkeypatch.setenv(variable, value)
    path = FILES / name
    expected = MANIFEST[name]
    code, out, err = _vigil(capsys, "ingest", "--model", "toy", str(path), "--json")
    assert code == expected["exit"], err
    if code:
        assert re.search(expected["message"], err), err
        assert err.startswith(f"error: {path}: "), err  # the file is named first
        assert len(err) < 600
        return
    [result] = json.loads(out)
    read, bad_lines = _independent(path)
    assert result["read"] == read
    assert result["read"] == result["stored"] + result["quarantined"] + result["already_present"]
    code, out, _ = _vigil(capsys, "quarantine", "--model", "toy", "--limit", "1000", "--json")
    records = json.loads(out)
    assert len(records) == result["quarantined"]
    assert {r["file"] for r in records} <= {str(path)}
    assert bad_lines <= {r["row"] for r in records}  # every line Python finds bad, by its line
    for record in records:
        reason = str(record["reason"])
        quotes = re.findall(r"'([^']*)'", reason)
        assert all(len(q) <= 201 for q in quotes), reason  # at most ~200 characters quoted
        if record["row"] in bad_lines and not name.endswith((".jsonl", ".jsonl.gz", ".parquet")):
            assert re.match(r"(column \d+|the line is longer)", reason), reason
    again = json.loads(_vigil(capsys, "ingest", "--model", "toy", str(path), "--json")[1])[0]
    assert (again["read"], again["stored"]) == (read, 0)
    assert again["quarantined"] + again["already_present"] == read
