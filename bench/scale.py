"""Benchmark at scale: 10M rows x 20 features over 90 days, profiles built at ingest, a cold
and a warm full drift report, peak memory; Evidently on 1M rows; the profile step on Spark.

    .venv/bin/python bench/scale.py                  # 10M; Evidently on 1M; Spark 10M and 100M
    .venv/bin/python bench/scale.py --skip spark     # without Spark (its 100M run takes hours)
    .venv/bin/python bench/scale.py --skip main compare --spark-rows 10000000
    .venv/bin/python bench/scale.py --rows 200000 --compare-rows 100000 --spark-rows 200000

Not a test: it prints figures (and writes them to HOME/results-TIME.json). Each phase runs in its
own subprocess, so its peak resident memory (ru_maxrss, which sees DuckDB's native memory) is
that phase's alone; Spark's JVM is sampled apart (its resident memory, read from /proc). The
load average (`uptime`) is recorded before every phase: the machine may be shared. Data and
model come from bench/run.py: num_0 and cat_0 drift from day 60, the score is a float32
logistic score (about one distinct value per row: the bounded KS / Wasserstein path), the
integer and one-decimal features stay exact.

Phases (HOME/inputs holds the generated files, reused by later runs; stores are rebuilt):
- prepare: generate the logs (Parquet) and register the model in HOME/store-ROWS;
- ingest: core.ingest's predictions ingest, then in the same process the profile refresh
  (core.monitor.profiles.refresh) that builds every day's profile: "ingest with profiles";
- cold: every cached drift result deleted (pairs, the domain classifier's AUC), profiles
  kept: the first page view after that ingest. Full report: 90 daily windows, the whole
  range, every feature and the prediction, the domain classifier; warm: the same again;
- cold-range / warm-range: Evidently's work, one whole-range comparison of every feature
  (no windows, no domain classifier), against Evidently's DataDriftPreset on the same rows
  (bench/run.py's phase, from bench/.venv-evidently);
- lake-duckdb / lake-spark: `vigil profile`'s function over the same Parquet file for a
  store without logs (read, validate, plan, load). Spark on local[2]; its session is started
  first and timed apart, so rows/s/core is the profile step's own rate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import run  # noqa: E402  (bench/run.py: data, model and the Evidently phase)

SPARK_MASTER = "local[2]"
SPARK_CORES = 2
Figures = dict[str, Any]


def _inputs(home: Path) -> Path:
    return home / "inputs"


def _logs(home: Path, rows: int) -> Path:
    return _inputs(home) / f"logs-{rows}.parquet"


def _store(home: Path, rows: int) -> Path:
    return home / f"store-{rows}"


def _register(store_home: Path, home: Path) -> None:
    from vigil.core.contract import parse_metadata
    from vigil.core.registry.versions import register_version
    from vigil.core.store.connection import Store

    register_version(
        Store(store_home),
        parse_metadata(run.metadata()),
        artifact=_inputs(home) / "model.onnx",
        reference=_inputs(home) / "reference.parquet",
        registered_by="bench",
        registered_by_role="admin",
    )


def phase_generate(home: Path, rows: int) -> Figures:
    """Reference, model and the logs of `rows` rows (kept if already generated)."""
    import duckdb

    _inputs(home).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    run.write_reference(con, _inputs(home) / "reference.parquet")
    model = run.train_model(_inputs(home) / "reference.parquet", _inputs(home) / "model.onnx")
    started, reused = time.perf_counter(), _logs(home, rows).exists()
    if not reused:
        partial = _logs(home, rows).with_suffix(".partial")
        run.write_logs(con, partial, rows, model)
        partial.rename(_logs(home, rows))
    con.close()
    return {
        "generate_s": None if reused else time.perf_counter() - started,
        "log_file_mb": _logs(home, rows).stat().st_size / 1e6,
    }


def phase_prepare(home: Path, rows: int) -> Figures:
    figures = phase_generate(home, rows)
    shutil.rmtree(_store(home, rows), ignore_errors=True)
    _register(_store(home, rows), home)
    return figures


def phase_ingest(home: Path, rows: int) -> Figures:
    from vigil.core.ingest.predictions import ingest_predictions
    from vigil.core.monitor import profiles
    from vigil.core.store.connection import Store, limit_memory

    store = Store(_store(home, rows))
    steps: dict[str, Any] = {"slices": 0}

    def progress(step: Any) -> None:  # core.ingest's Step: where the ingest's time goes
        steps[f"{step.name}_at_s"] = step.elapsed_s
        steps["slices"] += step.name == "storing"
        steps["longest_store_hold_s"] = step.store_held_s

    started, cpu = time.perf_counter(), time.process_time()
    result = ingest_predictions(store, "bench", _logs(home, rows), progress=progress)
    ingested = time.perf_counter() - started
    with store.transaction() as con:
        limit_memory(con, store.home)
        refreshed = profiles.refresh(con, "bench", "1")
    total = time.perf_counter() - started
    return {
        "stored": result.stored,
        "ingest_s": ingested,
        "profiles_s": total - ingested,
        "ingest_with_profiles_s": total,
        "ingest_with_profiles_cpu_s": time.process_time() - cpu,
        "days_profiled": len(refreshed.days_recomputed),
        **steps,
    }


def _report(store_home: Path, *, whole_range: bool) -> tuple[float, Figures]:
    """Time one drift report: 90 daily windows + the whole range + the domain classifier, or
    (whole_range) the whole range alone, every column, no domain classifier."""
    from vigil.core.monitor.drift.report import drift_report
    from vigil.core.monitor.selection import Selection
    from vigil.core.store.connection import Store

    selection = Selection("bench", "1", run.START, run.START + dt.timedelta(days=run.DAYS))
    whole: Any = None  # Windowing.of(None): the whole range as the one window
    started, cpu = time.perf_counter(), time.process_time()
    report = drift_report(
        Store(store_home),
        selection,
        granularity=whole if whole_range else "day",
        multivariate=not whole_range,
    )
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    columns = (*report.overall.features, *report.overall.prediction)
    score = report.overall.column("prediction")
    return elapsed, {
        "report_cpu_s": cpu,
        "windows": len(report.windows),
        "columns_compared": len(columns),
        "days_recomputed": report.days_recomputed,
        "drifted_overall": sorted(c.feature for c in columns if c.drifted),
        "bounded_columns": sorted(c.feature for c in columns if c.statistic_error),
        "prediction_statistic": score.statistic,
        "prediction_statistic_error": score.statistic_error,
        "domain_auc": report.multivariate.auc if report.multivariate else None,
    }


def _forget_results(store_home: Path) -> None:
    """Delete every cached drift result of the model; profiles stay (built at ingest)."""
    from vigil.core.store.connection import Store

    with Store(store_home).transaction() as con:
        con.execute("DELETE FROM drift_pair_cache WHERE model_name = 'bench'")
        con.execute("DELETE FROM drift_domain_cache WHERE model_name = 'bench'")


def phase_report(home: Path, rows: int, *, cold: bool, whole_range: bool) -> Figures:
    if cold:
        _forget_results(_store(home, rows))
    elapsed, figures = _report(_store(home, rows), whole_range=whole_range)
    name = ("cold" if cold else "warm") + ("_range" if whole_range else "")
    return {f"{name}_s": elapsed, **figures}


class _JvmMemory:
    """Peak resident memory of this process's child processes (Spark's JVM), from /proc."""

    def __init__(self) -> None:
        self.peak_gb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _JvmMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self.peak_gb = max(self.peak_gb, sum(_rss_kb(p) for p in _children()) / 1e6)


def _children() -> list[int]:
    try:
        found = []
        for task in Path(f"/proc/{os.getpid()}/task").iterdir():
            found += [int(p) for p in (task / "children").read_text().split()]
        return found
    except OSError:
        return []


def _children_cpu_s() -> float:
    """CPU seconds used so far by this process's children (Spark's JVM), from /proc."""
    total = 0
    for pid in _children():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def phase_lake(home: Path, rows: int, *, engine: str) -> Figures:
    """`vigil profile` over the generated Parquet file, into a store holding no logs."""
    from contextlib import ExitStack

    from vigil.core.lake.build import build_profiles
    from vigil.core.lake.engine import EngineName
    from vigil.core.lake.spark import session
    from vigil.core.store.connection import Store

    store_home = home / f"lake-{engine}-{rows}"
    shutil.rmtree(store_home, ignore_errors=True)
    _register(store_home, home)
    with ExitStack() as stack:
        jvm = stack.enter_context(_JvmMemory())
        started, spark = time.perf_counter(), None
        if engine == "spark":
            spark = stack.enter_context(session(SPARK_MASTER))
        session_s = time.perf_counter() - started
        cpu = time.process_time(), _children_cpu_s()
        result = build_profiles(
            Store(store_home),
            "bench",
            "1",
            str(_logs(home, rows)),
            engine=EngineName(engine),
            spark=spark,
        )
        elapsed = time.perf_counter() - started - session_s
        cpu_s = time.process_time() - cpu[0] + _children_cpu_s() - cpu[1]
    return {
        "session_start_s": session_s,
        "profile_s": elapsed,
        "rows_read": result.rows_read,
        "rows_rejected": result.rows_rejected,
        "rows_profiled": result.rows_profiled,
        "days": len(result.days),
        "rows_per_s_per_core": result.rows_read / elapsed / SPARK_CORES,
        "cpu_s": cpu_s,  # this process and the JVM: rows per CPU second, whatever the load
        "rows_per_cpu_s": result.rows_read / cpu_s,
        "jvm_peak_gb": jvm.peak_gb if engine == "spark" else None,
    }


PHASES: dict[str, Callable[[Path, int], Figures]] = {
    "generate": phase_generate,
    "prepare": phase_prepare,
    "ingest": phase_ingest,
    "cold": lambda h, r: phase_report(h, r, cold=True, whole_range=False),
    "warm": lambda h, r: phase_report(h, r, cold=False, whole_range=False),
    "cold-range": lambda h, r: phase_report(h, r, cold=True, whole_range=True),
    "warm-range": lambda h, r: phase_report(h, r, cold=False, whole_range=True),
    "evidently": run.phase_evidently,
    "lake-duckdb": lambda h, r: phase_lake(h, r, engine="duckdb"),
    "lake-spark": lambda h, r: phase_lake(h, r, engine="spark"),
}


def run_phase(name: str, home: Path, rows: int) -> Figures:
    """One phase in a fresh interpreter; its figures, its peak RSS and the load before it."""
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    command = [sys.executable, __file__, "--phase", name, "--home", str(home)]
    proc = subprocess.run([*command, "--rows", str(rows)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"phase {name} ({rows:,} rows) failed:\n{proc.stderr[-3000:]}")
    figures: Figures = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["uptime_before"] = uptime
    print(f"  {name:<12} {rows:>11,}  {json.dumps(figures, default=str)}", flush=True)
    return figures


def _sizes(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="main size (10M)")
    parser.add_argument(
        "--compare-rows", type=int, default=1_000_000, help="rows for Vigil vs Evidently (1M)"
    )
    parser.add_argument(
        "--spark-rows", type=_sizes, default=[10_000_000, 100_000_000], help="e.g. 1e7,1e8"
    )
    parser.add_argument("--duckdb-lake-rows", type=_sizes, help="lake sizes on DuckDB too")
    parser.add_argument("--home", type=Path, default=Path("/tmp/scale-bench/run"))
    parser.add_argument("--skip", nargs="*", default=[], choices=["main", "compare", "spark"])
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    home: Path = args.home
    if args.phase:
        os.environ["VIGIL_HOME"] = str(home / "vigil-home")
        figures = PHASES[args.phase](home, args.rows)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        figures["peak_gb"] = usage.ru_maxrss / 1e6
        figures["process_cpu_s"] = usage.ru_utime + usage.ru_stime  # whole phase, all threads
        print(json.dumps(figures, default=str))
        return
    print(f"Vigil at scale ({run.DAYS} daily windows, 20 features), work folder {home}")
    results: dict[str, Figures] = {}
    if "main" not in args.skip:
        for name in ("prepare", "ingest", "cold", "warm"):
            results[name] = run_phase(name, home, args.rows)
    if "compare" not in args.skip:
        for name in ("prepare", "ingest", "cold-range", "warm-range", "evidently"):
            results[f"compare-{name}"] = run_phase(name, home, args.compare_rows)
    lakes = [] if "spark" in args.skip else [("spark", n) for n in args.spark_rows]
    lakes += [("duckdb", n) for n in args.duckdb_lake_rows or []]
    for engine, rows in lakes:
        run_phase("generate", home, rows)
        results[f"lake-{engine}-{rows}"] = run_phase(f"lake-{engine}", home, rows)
    saved = home / f"results-{dt.datetime.now():%Y%m%dT%H%M%S}.json"
    saved.write_text(json.dumps(results, indent=1, default=str))
    print(f"Figures saved in {saved}")
    _summary(results, args)


def _line(label: str, value: float, unit: str, target: float | None, note: str = "") -> None:
    verdict = "" if target is None else ("  met" if value < target else "  MISSED")
    bound = "" if target is None else f" (target < {target:g} {unit}){verdict}"
    print(f"  {label:<34} {value:9.2f} {unit}{bound}{note}")


def _summary(results: dict[str, Figures], args: argparse.Namespace) -> None:
    if "ingest" in results:
        ingest, cold, warm = results["ingest"], results["cold"], results["warm"]
        peak = max(results[k]["peak_gb"] for k in ("ingest", "cold", "warm"))
        print(f"\nSummary, {args.rows:,} rows on 2 shared cores:")
        note = f"  = ingest {ingest['ingest_s']:.2f} + profiles {ingest['profiles_s']:.2f}"
        _line("ingest with profiles", ingest["ingest_with_profiles_s"], "s", 30, note)
        _line("drift report, cold", cold["cold_s"], "s", 5)
        _line("drift report, warm", warm["warm_s"], "s", 0.3)
        _line("peak memory (ingest, cold, warm)", peak, "GB", 2)
    evidently = results.get("compare-evidently", {})
    if "report_s" in evidently:
        print(f"\nOne whole-range comparison of every feature, {args.compare_rows:,} rows:")
        _line(f"Evidently {evidently['version']} DataDriftPreset", evidently["report_s"], "s", None)
        for side in ("cold", "warm"):
            vigil = results[f"compare-{side}-range"][f"{side}_range_s"]
            ratio = f"  Evidently / Vigil {evidently['report_s'] / vigil:.0f}x"
            _line(f"Vigil {side}", vigil, "s", None, ratio)
    elif evidently:
        print(f"\nEvidently: {evidently.get('evidently')}")
    _lake_summary({k: v for k, v in results.items() if k.startswith("lake-")})


def _lake_summary(lakes: dict[str, Figures]) -> None:
    if lakes:
        print(f"\nProfile step (vigil profile; Spark on {SPARK_MASTER}), session start excluded:")
    for key, lake in lakes.items():
        print(
            f"  {key:<24} {lake['profile_s']:8.1f} s, {lake['rows_per_s_per_core']:>9,.0f} "
            f"rows/s/core, {lake.get('rows_per_cpu_s', float('nan')):,.0f} rows per CPU second"
        )
        if "spark" in key:  # executors x cores = rows per day / (rows/s/core x seconds allowed)
            cores = 50e6 / (lake["rows_per_s_per_core"] * 600)
            print(f"    50M rows a day profiled in 10 minutes: {cores:.1f} cores")


if __name__ == "__main__":
    main()
