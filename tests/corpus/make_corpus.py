"""Write the corpus of malformed input files into tests/corpus/files/, with manifest.json.

Run `python tests/corpus/make_corpus.py` after changing a case; tests/corpus/test_corpus.py
checks that the files on disk are exactly what this script writes. Every file is for the toy
model of tests/core/factories.py (features income, tenure, region). The manifest says, per
file, the exit code `vigil ingest` must give and, for a refused file, a pattern its message
must match; the counts are checked against Python's csv and json modules in the test.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
HEADER = (
    "prediction_id,model_name,model_version,timestamp,income,tenure,region,prediction,latency_ms"
)


def row(i: int, **over: object) -> dict[str, object]:
    values: dict[str, object] = {
        "prediction_id": f"c{i}",
        "model_name": "toy",
        "model_version": "1",
        "timestamp": f"2026-03-01T10:{i % 60:02d}:00Z",
        "income": 40.0 + i,
        "tenure": i % 9,
        "region": ["north", "south", "east"][i % 3],
        "prediction": (i % 8) / 8,
        "latency_ms": 12.5,
    }
    values.update(over)
    return values


def csv_text(rows: list[dict[str, object]], *, newline: str = "\n") -> str:
    out = io.StringIO()
    pd.DataFrame(rows).to_csv(out, index=False, lineterminator=newline)
    return out.getvalue()


def good(n: int = 6, **over: object) -> list[dict[str, object]]:
    return [row(i, **over) for i in range(1, n + 1)]


def csv_lines(n: int = 6) -> list[str]:
    return csv_text(good(n)).splitlines()


def with_line(lines: list[str], index: int, text: str) -> bytes:
    out = list(lines)
    out[index] = text
    return ("\n".join(out) + "\n").encode()


def gz(data: bytes) -> bytes:
    """gzip without a time stamp, so the corpus is the same byte for byte on every run."""
    return gzip.compress(data, mtime=0)


def jsonl(rows: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _changed(index: int, **over: object) -> bytes:
    rows = good()
    rows[index].update(over)
    return csv_text(rows).encode()


REFUSED = 1
Case = tuple[str, Callable[[], bytes], int, str]  # name, content, exit code, message pattern

CASES: list[Case] = [
    ("empty.csv", lambda: b"", REFUSED, r"empty\.csv: the file is empty"),
    ("header_only.csv", lambda: (HEADER + "\n").encode(), 0, ""),
    ("header_only_no_newline.csv", lambda: HEADER.encode(), 0, ""),
    ("bom.csv", lambda: b"\xef\xbb\xbf" + csv_text(good()).encode(), 0, ""),
    (
        "utf16.csv",
        lambda: csv_text(good()).encode("utf-16"),
        REFUSED,
        r"utf16\.csv: line 1: .*UTF-16",
    ),
    (
        "semicolons.csv",
        lambda: csv_text(good()).replace(",", ";").encode(),
        REFUSED,
        r"line 1: .*semicolons",
    ),
    ("tabs.csv", lambda: csv_text(good()).replace(",", "\t").encode(), REFUSED, r"line 1: .*tabs"),
    ("bars.csv", lambda: csv_text(good()).replace(",", "|").encode(), REFUSED, r"line 1: .*bars"),
    (
        "preamble.csv",
        lambda: b"exported 2026-03-01 by scoring\n" + csv_text(good()).encode(),
        REFUSED,
        r"preamble\.csv: line 1 is not the header .*on line 2",
    ),
    (
        "preamble_comment.csv",
        lambda: b"# vigil export\n# v2\n\n" + csv_text(good()).encode(),
        REFUSED,
        r"on line 4",
    ),
    ("quoted_newline.csv", lambda: csv_text(good(6, region="no\nrth")).encode(), 0, ""),
    (
        "quoted_newline_then_ragged.csv",
        lambda: (
            csv_text(good(3, region="a\nb")).encode()
            + b"c9,toy,1,2026-03-01T10:00:00Z,1,1,x,0.5,1,extra\n"
        ),
        0,
        "",
    ),
    ("quoted_comma.csv", lambda: csv_text(good(4, region="north, upper")).encode(), 0, ""),
    ("quoted_quotes.csv", lambda: csv_text(good(4, region='say "hi"')).encode(), 0, ""),
    ("blank_lines.csv", lambda: csv_text(good()).replace("\nc3", "\n\n\nc3").encode(), 0, ""),
    (
        "blank_lines_then_ragged.csv",
        lambda: csv_text(good()).replace("\nc3", "\n\nc3,extra").encode(),
        0,
        "",
    ),
    ("crlf.csv", lambda: csv_text(good(), newline="\r\n").encode(), 0, ""),
    (
        "crlf_ragged.csv",
        lambda: csv_text(good(), newline="\r\n").replace("\r\nc4,", "\r\nc4,x,").encode(),
        0,
        "",
    ),
    ("ragged_long_top.csv", lambda: with_line(csv_lines(), 2, csv_lines()[2] + ",surplus"), 0, ""),
    ("ragged_short.csv", lambda: with_line(csv_lines(), 4, "c4,toy,1"), 0, ""),
    (
        "ragged_every_other.csv",
        lambda: (
            "\n".join(
                line + (",x" if i % 2 else "") for i, line in enumerate(csv_lines(10))
            ).encode()
            + b"\n"
        ),
        0,
        "",
    ),
    ("single_value_lines.csv", lambda: with_line(csv_lines(), 3, "lonely"), 0, ""),
    ("whitespace_line.csv", lambda: with_line(csv_lines(), 3, "   "), 0, ""),
    (
        "trailing_comma_header.csv",
        lambda: "\n".join(line + "," for line in csv_lines()).encode() + b"\n",
        0,
        "",
    ),
    ("no_final_newline.csv", lambda: csv_text(good()).rstrip("\n").encode(), 0, ""),
    (
        "invalid_utf8.csv",
        lambda: csv_text(good()).encode().replace(b"south", b"s\xffuth", 1),
        0,
        "",
    ),
    (
        "invalid_utf8_many.csv",
        lambda: csv_text(good(9)).encode().replace(b"east", b"e\xc3\x28st"),
        0,
        "",
    ),
    ("latin1.csv", lambda: csv_text(good(4, region="Zürich")).encode("latin-1"), 0, ""),
    (
        "nan_inf.csv",
        lambda: csv_text(
            [
                row(1, income="nan"),
                row(2, income="inf"),
                row(3, prediction="NaN"),
                row(4, income="-inf"),
                row(5),
            ]
        ).encode(),
        0,
        "",
    ),
    (
        "huge_field.csv.gz",
        lambda: gz(
            with_line(
                csv_lines(), 2, "c1,toy,1,2026-03-01T10:00:00Z,1,1," + "x" * 3_000_000 + ",0.5,1"
            )
        ),
        0,
        "",
    ),
    (
        "long_values.csv",
        lambda: csv_text([row(1, income="9" * 5000), row(2, region="r" * 20000), row(3)]).encode(),
        0,
        "",
    ),
    (
        "sql_values.csv",
        lambda: csv_text(
            [
                row(1, region="'; DROP TABLE log_toy; --"),
                row(2, prediction_id="x'); DELETE FROM models; --"),
                row(3, income="1; DROP TABLE users"),
            ]
        ).encode(),
        0,
        "",
    ),
    (
        "html_values.csv",
        lambda: csv_text(
            [
                row(1, region="<img src=x onerror=alert(1)>"),
                row(2, income="<b>1</b>"),
                row(3, prediction_id="<script>alert(2)</script>"),
            ]
        ).encode(),
        0,
        "",
    ),
    (
        "sql_header.csv",
        lambda: csv_text(
            [dict(row(i), **{'x"; DROP TABLE models; --': "1"}) for i in range(1, 4)]
        ).encode(),
        0,
        "",
    ),
    (
        "html_header.csv",
        lambda: csv_text([dict(row(i), **{"<h1>big</h1>": "1"}) for i in range(1, 4)]).encode(),
        0,
        "",
    ),
    (
        "unicode_values.csv",
        lambda: csv_text(
            [
                row(1, region="北部 🚀"),
                row(2, region="שמאל"),
                row(3, region="e\u0301ast"),
                row(4, income="４２"),
            ]
        ).encode(),
        0,
        "",
    ),
    (
        "unicode_header.csv",
        lambda: csv_text([dict(row(i), **{"prédiction_ü": "1"}) for i in range(1, 4)]).encode(),
        0,
        "",
    ),
    (
        "duplicate_header.csv",
        lambda: (
            HEADER + ",income\n" + "\n".join(line + ",1" for line in csv_lines()[1:]) + "\n"
        ).encode(),
        REFUSED,
        r"line 1, column 10: the header names 'income' twice",
    ),
    (
        "missing_feature_column.csv",
        lambda: csv_text(
            [{k: v for k, v in row(i).items() if k != "tenure"} for i in range(1, 5)]
        ).encode(),
        0,
        "",
    ),
    (
        "missing_id_column.csv",
        lambda: csv_text(
            [{k: v for k, v in row(i).items() if k != "prediction_id"} for i in range(1, 5)]
        ).encode(),
        0,
        "",
    ),
    ("duplicate_ids.csv", lambda: csv_text([*good(4), row(2), row(3, income=1)]).encode(), 0, ""),
    ("year_9999.csv", lambda: _changed(1, timestamp="9999-12-31T23:59:59"), 0, ""),
    ("year_0001.csv", lambda: _changed(2, timestamp="0001-01-01T00:00:00"), 0, ""),
    ("epoch_zero.csv", lambda: _changed(3, timestamp="1970-01-01T00:00:00Z"), 0, ""),
    (
        "bad_dates.csv",
        lambda: csv_text(
            [
                row(1, timestamp="31/02/2026"),
                row(2, timestamp="yesterday"),
                row(3, timestamp="2026-13-01"),
                row(4),
            ]
        ).encode(),
        0,
        "",
    ),
    (
        "offsets.csv",
        lambda: csv_text(
            [
                row(1, timestamp="2026-03-01T12:00:00+02:00"),
                row(2, timestamp="2026-03-01 10:00:00"),
                row(3),
            ]
        ).encode(),
        0,
        "",
    ),
    (
        "unterminated_quote_last.csv",
        lambda: csv_text(good()).encode() + b'c99,toy,1,2026-03-01T10:00:00Z,1,1,"open,0.5,1\n',
        0,
        "",
    ),
    (
        "unterminated_quote_middle.csv",
        lambda: with_line(csv_lines(), 3, 'c3,toy,1,2026-03-01T10:00:00Z,1,1,"open,0.5,1'),
        0,
        "",
    ),
    ("stray_quote.csv", lambda: _changed(0, region='no"rth'), 0, ""),
    ("nul_byte.csv", lambda: _changed(0, region="no\x00rth"), 0, ""),
    ("negative_latency.csv", lambda: _changed(2, latency_ms=-5), 0, ""),
    ("prediction_out_of_range.csv", lambda: _changed(2, prediction=1.5), 0, ""),
    ("wrong_model.csv", lambda: _changed(2, model_name="other"), 0, ""),
    ("unregistered_version.csv", lambda: _changed(2, model_version="7"), 0, ""),
    ("all_empty_values.csv", lambda: (HEADER + "\n" + ",,,,,,,,\n" * 3).encode(), 0, ""),
    (
        "whole_numbers.csv",
        lambda: csv_text(
            [row(1, tenure="2.5"), row(2, tenure="1e3"), row(3, tenure="-0")]
        ).encode(),
        0,
        "",
    ),
    ("good.csv.gz", lambda: gz(csv_text(good()).encode()), 0, ""),
    (
        "ragged.csv.gz",
        lambda: gz(with_line(csv_lines(), 2, csv_lines()[2] + ",x")),
        0,
        "",
    ),
    (
        "corrupt.csv.gz",
        lambda: gz(csv_text(good()).encode())[:40],
        REFUSED,
        r"corrupt\.csv\.gz: ",
    ),
    ("empty.jsonl", lambda: b"", 0, ""),
    ("good.jsonl", lambda: jsonl(good()), 0, ""),
    (
        "nested_object.jsonl",
        lambda: jsonl([row(1, region={"name": "north"}), row(2), row(3, income={"v": 1})]),
        0,
        "",
    ),
    (
        "nested_array.jsonl",
        lambda: jsonl([row(1, region=["north"]), row(2, tenure=[1, 2]), row(3)]),
        0,
        "",
    ),
    (
        "mixed_types.jsonl",
        lambda: jsonl(
            [
                row(1, region="male"),
                row(2, region=7),
                row(3, region=True),
                row(4, income="41"),
                row(5, tenure=None),
            ]
        ),
        0,
        "",
    ),
    (
        "json_strings.jsonl",
        lambda: jsonl([row(1, region='"male"'), row(2, prediction_id='"t-p20-0"')]),
        0,
        "",
    ),
    ("truncated_last.jsonl", lambda: jsonl(good())[:-30], 0, ""),
    ("invalid_utf8.jsonl", lambda: jsonl(good()).replace(b"south", b"so\xffth", 1), 0, ""),
    ("not_objects.jsonl", lambda: jsonl(good(2)) + b'[1, 2]\n"text"\n42\nnull\n', 0, ""),
    ("blank_lines.jsonl", lambda: jsonl(good()).replace(b"}\n", b"}\n\n", 3), 0, ""),
    (
        "weird_keys.jsonl",
        lambda: jsonl([dict(row(i), **{'odd key "q"': 1, "<b>": 2}) for i in range(1, 4)]),
        0,
        "",
    ),
    (
        "nan_literal.jsonl",
        lambda: jsonl(good(3)) + b'{"prediction_id": "c9", "income": NaN}\n',
        0,
        "",
    ),
    (
        "huge_line.jsonl.gz",
        lambda: gz(jsonl(good(3)) + json.dumps(row(9, region="x" * 3_000_000)).encode() + b"\n"),
        0,
        "",
    ),
    ("crlf.jsonl", lambda: jsonl(good()).replace(b"\n", b"\r\n"), 0, ""),
    ("garbage.jsonl", lambda: b"this is not json\n{{{{\n" + jsonl(good(2)), 0, ""),
    ("good.jsonl.gz", lambda: gz(jsonl(good())), 0, ""),
    (
        "sql_html.jsonl",
        lambda: jsonl(
            [row(1, region="<script>x</script>"), row(2, prediction_id="'; DROP TABLE labels; --")]
        ),
        0,
        "",
    ),
    (
        "nested.parquet",
        lambda: _parquet(
            pd.DataFrame([{**row(1), "region": {"a": 1}}, {**row(2), "region": {"a": 2}}])
        ),
        0,
        "",
    ),
    (
        "corrupt.parquet",
        lambda: b"PAR1 this is not a parquet file",
        REFUSED,
        r"corrupt\.parquet: cannot be read as parquet",
    ),
    ("notes.txt", lambda: b"prediction_id\n1\n", REFUSED, r"notes\.txt: unsupported file type"),
]


def _parquet(frame: pd.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.to_parquet(out, index=False)
    return out.getvalue()


def build() -> dict[str, bytes]:
    return {name: make() for name, make, _, _ in CASES}


def manifest() -> dict[str, dict[str, object]]:
    return {name: {"exit": code, "message": pattern} for name, _, code, pattern in CASES}


def main() -> int:
    FILES.mkdir(exist_ok=True)
    for old in FILES.iterdir():
        old.unlink()
    for name, content in build().items():
        (FILES / name).write_bytes(content)
    (HERE / "manifest.json").write_text(json.dumps(manifest(), indent=1, sort_keys=True) + "\n")
    print(f"{len(CASES)} files in {FILES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
