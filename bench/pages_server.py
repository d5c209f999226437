"""Server-side page times with many sessions at once, without browsers.

bench/pages.py times pages in real browsers; on a 2-core machine twenty headless Chromium
instances take most of the CPU themselves. This script measures what the dashboard's own
process does: N sessions run as Streamlit AppTests in threads of one process (the dashboard
runs each session's script in a thread of its own, with shared caches), each signed in as a
demo user and opening every page in turn, and it prints each page's median and p95 script
time over all sessions, plus the p95 over all pages. Optionally an ingest of --ingest-rows
prediction rows runs in a child process meanwhile.

    python bench/pages_server.py --sessions 20
    python bench/pages_server.py --sessions 20 --ingest-rows 1000000

It is a benchmark, not a test: nothing asserts on the times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGES = (
    "overview",
    "drift",
    "performance",
    "service",
    "alerts",
    "fairness",
    "explain",
    "registry",
    "review",
    "audit",
    "data",
    "users",
)
USERS = {
    "rita": "approver",
    "omar": "approver",
    "dana": "analyst",
    "vic": "viewer",
    "adam": "admin",
}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def walk(user: str, rounds: int, out: dict[str, list[float]], errors: list[str]) -> None:
    """One session: sign in (skipping the form), then every page `rounds` times."""
    from streamlit.testing.v1 import AppTest

    from vigil.app.context import START_PAGE_KEY, USER_KEY
    from vigil.core.govern.auth import User

    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=600)
    at.session_state[USER_KEY] = User(user, USERS[user])
    for _ in range(rounds):
        for page in PAGES:
            at.session_state[START_PAGE_KEY] = page
            started = time.perf_counter()
            at.run()
            out.setdefault(page, []).append(time.perf_counter() - started)
            if at.exception:
                errors.append(f"{user} {page}: {at.exception[0].message[:200]}")


def _ingest_child(home: Path, rows: int) -> subprocess.Popen[str]:
    """An ingest of `rows` new prediction rows (the demo's October traffic, repeated under new
    ids) in another process."""
    import duckdb

    source = home / "demo_inputs" / "predictions-1.0-2026-10.parquet"
    data = home / "bench-ingest.parquet"
    duckdb.sql(
        f"""
        COPY (SELECT * REPLACE ('bench-' || k || '-' || prediction_id AS prediction_id)
              FROM read_parquet('{source}'), range({rows} // 10000 + 1) r(k)
              LIMIT {rows}) TO '{data}' (FORMAT parquet)
        """
    )
    return subprocess.Popen(
        [sys.executable, "-m", "vigil", "ingest", "--model", "credit-risk", str(data)],
        cwd=ROOT,
        env={**os.environ, "VIGIL_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="visits of every page per session")
    parser.add_argument("--home", type=Path, help="a demo store (default: seed a fresh one)")
    parser.add_argument("--ingest-rows", type=int, default=0, help="ingest this many meanwhile")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="vigil-bench-server-"))
    os.environ["VIGIL_HOME"] = str(home)
    from vigil.core.demo.seed import seed
    from vigil.core.store.connection import Store

    if not (home / "vigil.duckdb").exists():
        seed(Store(home), password="bench-password-1")
    warm: dict[str, list[float]] = {}
    walk("rita", 1, warm, [])  # the first visit of each page fills the shared caches
    child = _ingest_child(home, args.ingest_rows) if args.ingest_rows else None
    timings: dict[str, list[float]] = {}
    errors: list[str] = []
    names = list(USERS)
    threads = [
        threading.Thread(target=walk, args=(names[i % len(names)], args.rounds, timings, errors))
        for i in range(args.sessions)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    every = [v for values in timings.values() for v in values]
    result: dict[str, Any] = {
        "sessions": args.sessions,
        "visits": len(every),
        "wall_s": round(wall, 1),
        "p95_all_pages_s": round(_p95(every), 2),
        "median_all_pages_s": round(statistics.median(every), 2),
        "errors": errors[:10],
        "first_visit_s": {page: round(v[0], 2) for page, v in warm.items()},
        "pages": {
            page: {"median_s": round(statistics.median(v), 2), "p95_s": round(_p95(v), 2)}
            for page, v in timings.items()
        },
    }
    if child is not None:
        result["ingest_running_at_end"] = child.poll() is None
        child.wait()
        result["ingest_exit"] = child.returncode
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
