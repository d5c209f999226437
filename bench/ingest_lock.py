"""Benchmark: how long an ingest holds the store, and how long a reader waits meanwhile.

    .venv/bin/python bench/ingest_lock.py --rows 10000000

Registers the toy model in a fresh VIGIL_HOME, writes N prediction rows as Parquet, runs
`vigil ingest` in a child process and, from this process, every 0.2 s until the child ends,
opens the store, lists the model versions (what `vigil models` does) and counts the rows a
page would see. Prints the ingest's total time, the longest it held the store at once (its
own progress line), the readers' median, p95 and slowest wait, and how many reads saw part of
the file (must be 0: a file appears all at once).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_rows(path: Path, rows: int) -> None:
    duckdb.sql(
        f"""
        COPY (SELECT 'id' || i AS prediction_id, 'toy' AS model_name, '1' AS model_version,
                     TIMESTAMP '2026-03-01' + to_seconds(i % 86400) AS timestamp,
                     (i % 100)::DOUBLE AS income, (i % 7) AS tenure,
                     ['north','south','east'][i % 3 + 1] AS region,
                     (i % 10) / 10 AS prediction, 5.0 AS latency_ms
              FROM range({rows}) t(i)) TO '{path}' (FORMAT parquet)
        """
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    from tests.core.factories import register_toy
    from vigil.core.monitor.selection import log_table
    from vigil.core.registry.versions import list_versions
    from vigil.core.store.connection import Store

    home = Path(tempfile.mkdtemp(prefix="vigil-bench-lock-"))
    store = Store(home)
    register_toy(store, home)
    data = home / "logs.parquet"
    write_rows(data, args.rows)
    env = {**os.environ, "VIGIL_HOME": str(home)}
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "vigil", "ingest", "--model", "toy", str(data)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    waits: list[float] = []
    partial = 0
    while child.poll() is None:
        asked = time.monotonic()
        with store.connect(timeout_s=600) as con:
            list_versions(con, "toy")
            seen = con.execute(f"SELECT count(*) FROM {log_table(con, 'toy')}").fetchone()
        waits.append(time.monotonic() - asked)
        partial += seen not in ((0,), (args.rows,))
        time.sleep(0.2)
    total = time.monotonic() - started
    _out, err = child.communicate()
    held = re.findall(r"store held ([0-9.]+) s", err)
    print(f"rows                  {args.rows:,}")
    print(f"ingest total          {total:8.1f} s   (exit {child.returncode})")
    print(f"store held by ingest  {held[-1] if held else '?':>8} s")
    ordered = sorted(waits)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"reader waits          {len(waits)} reads, median {statistics.median(waits):.3f} s, "
          f"p95 {p95:.3f} s, max {max(waits):.3f} s")  # fmt: skip
    print(f"reads seeing part     {partial}")
    print(err.strip().splitlines()[-2] if err.strip() else "", file=sys.stderr)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
