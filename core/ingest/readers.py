"""Reading a producer's file into DuckDB: formats, the declared CSV dialect, rejected lines.

Every reader fills two temp tables. `raw` holds one row per record it could parse: `_row`
(the record's line in a CSV or JSON Lines file, its row in a Parquet file), `_nested` (the
wanted columns holding a list or an object, else NULL) and the file's columns, as text for
CSV and JSON Lines. `rejected` holds the records it could not parse, with their line, the
reason and the text as received. Nothing is guessed: CSV is comma-separated, quoted with '"',
UTF-8 with a header on line 1; a file that does not say so is refused, a line that does not
fit is rejected alone, and the rest of the file is read.
"""

from __future__ import annotations

import csv
import enum
import gzip
import io
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from vigil.core.errors import IngestError
from vigil.core.ingest import lines
from vigil.core.store.sql import quote_ident, quote_literal, scalar

SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_LINE_BYTES = 1 << 21  # a longer line is rejected on its own
QUOTE_CHARS = 200  # the most of a field or line a message or a quarantine record repeats
PREAMBLE_SEARCH = 20  # lines searched for a header that a preamble pushed down


class FileFormat(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"


SUFFIXES = {
    ".csv": FileFormat.CSV,
    ".jsonl": FileFormat.JSONL,
    ".ndjson": FileFormat.JSONL,
    ".json": FileFormat.JSONL,
    ".parquet": FileFormat.PARQUET,
}


@dataclass(frozen=True)
class Loaded:
    """What a reader put in `raw` and `rejected`."""

    format: FileFormat
    columns: dict[str, str]  # name -> DuckDB type of each file column in `raw`
    unreadable_names: tuple[str, ...] = ()  # JSON keys no contract column can have


def file_format(path: Path) -> FileFormat:
    """The format a file's name announces; refuses directories, missing and unknown files."""
    name = path.name.lower()
    stem = name[:-3] if name.endswith(".gz") else name
    fmt = SUFFIXES.get(Path(stem).suffix)
    if fmt is None or (fmt is FileFormat.PARQUET and name.endswith(".gz")):
        raise IngestError(
            f"{path}: unsupported file type '{''.join(path.suffixes) or path.name}'; use "
            ".parquet, .csv or .jsonl (.csv.gz and .jsonl.gz are read too)"
        )
    if path.is_dir():
        raise IngestError(f"{path}: is a directory; name the files in it instead")
    if not path.is_file():
        raise IngestError(f"{path}: file not found")
    return fmt


def load(
    con: duckdb.DuckDBPyConnection, path: Path, *, wanted: set[str], key_column: str
) -> Loaded:
    """Fill `raw` and `rejected` from `path`. `wanted` are the columns checks will read;
    `key_column` must appear in a CSV header (to tell a preamble from the header)."""
    fmt = file_format(path)
    con.execute("CREATE OR REPLACE TEMP TABLE rejected (_row BIGINT, reason VARCHAR, raw VARCHAR)")
    if fmt is FileFormat.CSV:
        return _load_csv(con, path, wanted=wanted, key_column=key_column)
    if fmt is FileFormat.JSONL:
        return _load_jsonl(con, path, wanted=wanted)
    return _load_parquet(con, path, wanted=wanted)


def _problems(checks: list[str]) -> str:
    """SQL joining the non-NULL results of `checks` with '; ', NULL when there are none."""
    if not checks:
        return "NULL::VARCHAR"
    return f"NULLIF(concat_ws('; ', {', '.join(checks)}), '')"


def raw_json(loaded: Loaded, alias: str) -> str:
    """SQL giving a row of `raw` as received, for the quarantine (JSON, at most 64 kB)."""
    if loaded.format is FileFormat.JSONL:
        text = f"{alias}._json"
    else:
        fields = ", ".join(f"{quote_literal(n)}: {alias}.{quote_ident(n)}" for n in loaded.columns)
        text = f"CAST(to_json({{{fields}}}) AS VARCHAR)" if fields else "'{}'"
    return (
        f"CASE WHEN length({text}) <= 65536 THEN CAST({text} AS JSON) "
        f"ELSE to_json({{'cut_at_64_kB': left({text}, 65536)}}) END"
    )


def clip(expr: str) -> str:
    """SQL cutting text to QUOTE_CHARS characters, marking the cut."""
    return (
        f"CASE WHEN length({expr}) > {QUOTE_CHARS} THEN left({expr}, {QUOTE_CHARS}) || '…' "
        f"ELSE {expr} END"
    )


# --- CSV -----------------------------------------------------------------------------------


def _first_lines(path: Path, count: int) -> list[str]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(1 << 20)
    except (OSError, EOFError) as err:
        raise IngestError(f"{path}: cannot be read as gzip: {err}") from err
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError(
            f"{path}: line 1: the file is UTF-16 text; save it as UTF-8 (Vigil reads UTF-8 only)"
        )
    text = head.decode("utf-8-sig", errors="replace")
    return text.splitlines()[:count] if text else []


def _header(path: Path, key_column: str) -> list[str]:
    """The header's column names, refusing what is not a header line 1 of a comma file."""
    first = _first_lines(path, PREAMBLE_SEARCH)
    if not first:
        raise IngestError(f"{path}: the file is empty; a CSV file needs a header on line 1")
    names = next(csv.reader(io.StringIO(first[0])), [])
    if "\ufffd" in first[0]:
        raise IngestError(f"{path}: line 1: the header is not valid UTF-8 text")
    if not [n for n in names if n.strip()]:
        raise IngestError(f"{path}: line 1 is empty; a CSV file starts with its header")
    if key_column not in names:
        _refuse_non_header(path, first, names, key_column)
    seen: dict[str, int] = {}
    for index, name in enumerate(names, start=1):
        if name in seen:
            raise IngestError(
                f"{path}: line 1, column {index}: the header names '{name[:QUOTE_CHARS]}' "
                f"twice (columns {seen[name]} and {index})"
            )
        seen[name] = index
    return [name if name else f"column{i}" for i, name in enumerate(names, start=1)]


def _refuse_non_header(path: Path, first: list[str], names: list[str], key_column: str) -> None:
    for number, line in enumerate(first[1:], start=2):
        if key_column in next(csv.reader(io.StringIO(line)), []):
            raise IngestError(
                f"{path}: line 1 is not the header ('{first[0][:QUOTE_CHARS]}'); the header is "
                f"on line {number}. Remove the {number - 1} line(s) above it and send the file "
                "again: Vigil does not skip lines."
            )
    for delimiter, word in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
        if len(names) == 1 and key_column in names[0].split(delimiter):
            raise IngestError(
                f"{path}: line 1: the header is separated by {word}; Vigil reads "
                "comma-separated files (save it as CSV with commas)"
            )


def _read_csv_sql(path: Path, names: list[str]) -> str:
    columns = ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names)
    return (
        f"read_csv({quote_literal(str(path))}, auto_detect = false, header = true, "
        f"columns = {{{columns}}}, delim = ',', quote = '\"', escape = '\"', "
        f"strict_mode = true, encoding = 'utf-8', max_line_size = {MAX_LINE_BYTES}, "
        "store_rejects = true, rejects_table = 'csv_rejects', rejects_scan = 'csv_scans')"
    )


def _load_csv(
    con: duckdb.DuckDBPyConnection, path: Path, *, wanted: set[str], key_column: str
) -> Loaded:
    names = _header(path, key_column)
    con.execute("DROP TABLE IF EXISTS csv_rejects; DROP TABLE IF EXISTS csv_scans")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE raw AS SELECT row_number() OVER () + 1 AS _row, "
            f"NULL::VARCHAR AS _nested, * FROM {_read_csv_sql(path, names)}"
        )
    except duckdb.Error as err:
        raise IngestError(f"{path}: cannot be read as CSV: {str(err)[:QUOTE_CHARS]}") from err
    con.execute(
        f"""
        INSERT INTO rejected
        SELECT DISTINCT ON (line_byte_position)
               line_byte_position - 1, {_reject_reason(names)}, {clip("csv_line")}
        FROM csv_rejects ORDER BY line_byte_position, column_idx
        """
    )
    con.execute("DROP TABLE csv_rejects; DROP TABLE csv_scans")
    _fix_csv_lines(con, path, single_column=len(names) == 1)
    return Loaded(FileFormat.CSV, {n: "VARCHAR" for n in names})


def _reject_reason(names: list[str]) -> str:
    """A CSV reject's reason, naming the column; `_row` holds its byte offset until fixed."""
    width = len(names)
    listed = "[" + ", ".join(quote_literal(n) for n in names) + "]"
    found = "TRY_CAST(regexp_extract(error_message, 'Found: ([0-9]+)', 1) AS INTEGER)"
    column = "'column ' || column_idx || coalesce(' (' || column_name || ')', '')"
    return f"""CASE error_type
        WHEN 'TOO MANY COLUMNS' THEN 'column ' || ({width} + 1) || ': the line has '
            || coalesce({found}::VARCHAR, 'more') || ' values; the header names {width} columns'
        WHEN 'MISSING COLUMNS' THEN 'column ' || ({found} + 1) || ' ('
            || {listed}[{found} + 1] || ') is missing: the line has ' || {found}
            || ' values; the header names {width} columns'
        WHEN 'INVALID ENCODING' THEN {column} || ': not valid UTF-8 text'
        WHEN 'LINE SIZE OVER MAXIMUM' THEN 'the line is longer than {MAX_LINE_BYTES} bytes'
        WHEN 'UNQUOTED VALUE' THEN {column} || ': a quote is opened and never closed'
        ELSE {column} || ': ' || {clip("error_message")}
    END"""


def _fix_csv_lines(con: duckdb.DuckDBPyConnection, path: Path, *, single_column: bool) -> None:
    """Give `raw` and `rejected` their true lines when records and lines do not match 1:1."""
    accepted = int(scalar(con, "SELECT count(*) FROM raw"))
    refused = int(scalar(con, "SELECT count(*) FROM rejected"))
    newlines, ends_with_newline = lines.count_newlines(path)
    line_count = newlines + (0 if ends_with_newline else 1)
    if not refused and line_count == accepted + 1:
        return  # one line per record, no blank lines: `raw` already holds the lines
    starts, newline_at, size = lines.record_starts(path)
    starts = starts[starts < size] if single_column else lines.non_empty(path, starts, size)
    data = starts[1:]  # the header is the first record
    offsets = [int(r[0]) for r in con.execute("SELECT _row FROM rejected").fetchall()]
    refused_at = set(int(data[i]) for i in data.searchsorted(offsets).clip(0, len(data) - 1))
    kept = [int(s) for s in data if int(s) not in refused_at] if len(data) else []
    con.execute(
        "CREATE OR REPLACE TEMP TABLE reject_lines AS SELECT unnest(?) AS offset_, "
        "unnest(?) AS line",
        [
            sorted(refused_at),
            [int(x) for x in lines.line_of(sorted_array(refused_at), newline_at)],
        ],
    )
    con.execute(
        "UPDATE rejected SET _row = (SELECT min(line) FROM reject_lines WHERE offset_ >= _row)"
    )
    if len(kept) == accepted:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE raw_lines AS SELECT unnest(range(2, ? + 2)) AS old, "
            "unnest(?) AS line",
            [accepted, [int(x) for x in lines.line_of(sorted_array(kept), newline_at)]],
        )
        con.execute("UPDATE raw SET _row = l.line FROM raw_lines l WHERE raw._row = l.old")
        con.execute("DROP TABLE raw_lines")
    con.execute("DROP TABLE reject_lines")


def sorted_array(values: set[int] | list[int]) -> lines.Offsets:
    return np.array(sorted(values), dtype=np.int64)


# --- JSON Lines ----------------------------------------------------------------------------


def _load_jsonl(con: duckdb.DuckDBPyConnection, path: Path, *, wanted: set[str]) -> Loaded:
    """One line per record: read lines with DuckDB (bad bytes rejected per line), then parse."""
    con.execute("DROP TABLE IF EXISTS csv_rejects; DROP TABLE IF EXISTS csv_scans")
    source = (
        f"read_csv({quote_literal(str(path))}, auto_detect = false, header = false, "
        "columns = {'text': 'VARCHAR'}, delim = '\\x1f', quote = '', escape = '', "
        f"encoding = 'utf-8', max_line_size = {MAX_LINE_BYTES}, store_rejects = true, "
        "rejects_table = 'csv_rejects', rejects_scan = 'csv_scans')"
    )
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE jsonl AS "
            f"SELECT row_number() OVER () AS _row, text FROM {source}"
        )
    except duckdb.Error as err:
        raise IngestError(f"{path}: cannot be read: {str(err)[:QUOTE_CHARS]}") from err
    con.execute(
        f"""
        INSERT INTO rejected
        SELECT DISTINCT ON (line) line, CASE error_type
            WHEN 'INVALID ENCODING' THEN 'the line is not valid UTF-8 text'
            WHEN 'LINE SIZE OVER MAXIMUM' THEN 'the line is longer than {MAX_LINE_BYTES} bytes'
            ELSE 'the line is not one JSON object' END, {clip("csv_line")}
        FROM csv_rejects ORDER BY line, column_idx
        """
    )
    con.execute("DROP TABLE csv_rejects; DROP TABLE csv_scans")
    if scalar(con, "SELECT count(*) FROM rejected"):  # later lines moved up: renumber them
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE jsonl AS
            WITH free AS (
                SELECT line, row_number() OVER (ORDER BY line) AS n
                FROM range(1, (SELECT count(*) FROM jsonl) + (SELECT count(*) FROM rejected) + 1)
                     t(line)
                WHERE line NOT IN (SELECT _row FROM rejected)
            )
            SELECT f.line AS _row, j.text FROM jsonl j JOIN free f ON f.n = j._row
            """
        )
    return _parse_jsonl(con, path, wanted)


def _parse_jsonl(con: duckdb.DuckDBPyConnection, path: Path, wanted: set[str]) -> Loaded:
    last = scalar(con, "SELECT max(_row) FROM jsonl")
    con.execute(
        f"""
        INSERT INTO rejected
        SELECT _row, CASE
            WHEN NOT json_valid(text) AND _row = {last or 0} THEN
                'not valid JSON (the last line looks cut short)'
            WHEN NOT json_valid(text) THEN 'not valid JSON'
            ELSE 'a line must hold one JSON object, not ' || CASE json_type(text)
                WHEN 'ARRAY' THEN 'a list' WHEN 'VARCHAR' THEN 'a string'
                ELSE lower(json_type(text)) END END,
            {clip("text")}
        FROM jsonl
        WHERE trim(coalesce(text, '')) <> ''
          AND (NOT json_valid(text) OR json_type(text) <> 'OBJECT')
        """
    )
    con.execute(
        "DELETE FROM jsonl WHERE trim(coalesce(text, '')) = '' OR NOT json_valid(text) "
        "OR json_type(text) <> 'OBJECT'"
    )
    keys = [
        str(r[0])
        for r in con.execute(
            "SELECT DISTINCT unnest(json_keys(text)) AS k FROM jsonl ORDER BY k"
        ).fetchall()
    ]
    usable = [k for k in keys if SAFE_NAME.match(k)]
    values = [_json_value(k) for k in usable]
    nested = [
        f"CASE WHEN json_type(text, {_path(k)}) IN ('OBJECT', 'ARRAY') THEN "
        f"'{k}: ' || CASE json_type(text, {_path(k)}) WHEN 'OBJECT' THEN 'an object' "
        "ELSE 'a list' END || ' is not a plain value (text, number or true/false)' END"
        for k in usable
        if k in wanted
    ]
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE raw AS
        SELECT _row, {_problems(nested)} AS _nested,
               {", ".join(values) + "," if values else ""} text AS _json
        FROM jsonl ORDER BY _row
        """
    )
    con.execute("DROP TABLE jsonl")
    return Loaded(
        FileFormat.JSONL,
        {k: "VARCHAR" for k in usable},
        unreadable_names=tuple(k for k in keys if not SAFE_NAME.match(k)),
    )


def _path(key: str) -> str:
    return quote_literal(f'$."{key}"')


def _json_value(key: str) -> str:
    """A JSON value as plain text: strings without their quotes; lists and objects NULL."""
    path = _path(key)
    return (
        f"CASE WHEN json_type(text, {path}) IN ('OBJECT', 'ARRAY', 'NULL') THEN NULL "
        f"ELSE json_extract_string(text, {path}) END AS {quote_ident(key)}"
    )


# --- Parquet -------------------------------------------------------------------------------

NESTED_TYPE = re.compile(r"STRUCT|MAP|UNION|\[|LIST")


def _load_parquet(con: duckdb.DuckDBPyConnection, path: Path, *, wanted: set[str]) -> Loaded:
    try:
        described = con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({quote_literal(str(path))})"
        ).fetchall()
    except duckdb.Error as err:
        raise IngestError(f"{path}: cannot be read as parquet: {str(err)[:QUOTE_CHARS]}") from err
    types = {str(r[0]): str(r[1]) for r in described}
    nested = [n for n, t in types.items() if n in wanted and NESTED_TYPE.search(t)]
    flags = [
        f"CASE WHEN {quote_ident(n)} IS NOT NULL THEN '{n}: a nested value is not a plain "
        "value' END"
        for n in nested
    ]
    columns = ", ".join(
        f"NULL::VARCHAR AS {quote_ident(n)}" if n in nested else quote_ident(n) for n in types
    )
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE raw AS SELECT row_number() OVER () AS _row, "
            f"{_problems(flags)} AS _nested, {columns} "
            f"FROM read_parquet({quote_literal(str(path))})"
        )
    except duckdb.Error as err:
        raise IngestError(f"{path}: cannot be read as parquet: {str(err)[:QUOTE_CHARS]}") from err
    return Loaded(
        FileFormat.PARQUET,
        {n: ("VARCHAR" if n in nested else t) for n, t in types.items()},
    )
