"""Benchmark: ingest N prediction-log rows (20 features) and time a full drift report.

    python bench/run.py --rows 1000000            # 1M rows, plus Evidently on the same rows
    nice python bench/run.py --rows 10000000 --skip-evidently

Not a test: it prints timings and peak memory per phase, and the targets they are held to.
Each phase runs in its own subprocess so its peak resident memory (ru_maxrss, which sees
DuckDB's native allocations, unlike tracemalloc) is that phase's alone.

Data: generated inside DuckDB (deterministic hashes, no Python loop), written to Parquet,
over 90 days. 10 numeric features (5 integer-valued, 5 with one decimal) and 10 categorical
(3 to 12 categories); num_0 shifts by +0.5 std and cat_0 moves towards its rarest category
from day 60, so the report has something to find. The model is a logistic regression trained
on a sample of the reference, converted with skl2onnx; the logged scores are its formula,
computed in SQL, rounded to float32 as ONNX would emit them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DAYS = 90
START = dt.datetime(2026, 1, 1)
REFERENCE_ROWS = 20_000
NUMERIC = [f"num_{i}" for i in range(10)]
CATEGORICAL = [f"cat_{i}" for i in range(10)]
CATEGORY_COUNTS = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
EVIDENTLY_VENV = ROOT / "bench" / ".venv-evidently"
EVIDENTLY_MAX_ROWS = 1_000_000  # Evidently (pandas) gets the first 1M log rows at most
TARGETS = {"ingest_s_10M": 60, "cold_s": 5, "warm_s": 0.5, "peak_gb": 2}


# ---------------------------------------------------------------- data, generated in DuckDB


def _uniform(i: str, k: int) -> str:
    return f"((hash({i}, {k}) % 1000000007)::DOUBLE + 0.5) / 1000000007"


def _normal(i: str, k: int) -> str:
    return f"(sqrt(-2 * ln({_uniform(i, k)})) * cos(2 * pi() * {_uniform(i, k + 1000)}))"


def feature_sql(i: str, drift_day: str | None) -> list[str]:
    """Column expressions for row number `i`; drift applies where `drift_day` (SQL) >= 60."""
    cols = []
    for j, name in enumerate(NUMERIC):
        shift = (
            f" + CASE WHEN {drift_day} >= 60 THEN 0.5 ELSE 0 END" if drift_day and j == 0 else ""
        )
        base = f"({_normal(i, j)}{shift})"
        if j < 5:
            cols.append(f"round(50 + 15 * {base})::DOUBLE AS {name}")
        else:
            cols.append(f"round({10 * j} + 8 * {base}, 1)::DOUBLE AS {name}")
    for j, (name, k) in enumerate(zip(CATEGORICAL, CATEGORY_COUNTS, strict=True)):
        u = _uniform(i, 100 + j)
        level = f"least(floor(pow({u}, 1.6) * {k}), {k - 1})::INT"
        if drift_day and j == 0:
            level = f"CASE WHEN {drift_day} >= 60 AND {_uniform(i, 999)} < 0.3 THEN {k - 1} ELSE {level} END"
        cols.append(f"'c' || {level}::VARCHAR AS {name}")
    return cols


def write_reference(con, path: Path) -> None:
    cols = ", ".join(feature_sql("i", None))
    con.execute(
        f"COPY (SELECT {cols}, ({_uniform('i', 555)} < 0.5)::INT::DOUBLE AS label "
        f"FROM range({REFERENCE_ROWS}) t(i)) TO '{path}' (FORMAT parquet)"
    )


def train_model(reference: Path, out: Path) -> dict:
    """Logistic regression on one-hot categories + numeric features; its coefficients let the
    log generator compute the same score in SQL."""
    import duckdb
    import numpy as np
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = duckdb.sql(f"SELECT * FROM '{reference}' LIMIT 5000").df()
    rng = np.random.default_rng(0)
    logit = (
        0.04 * (frame["num_0"] - 50) - 0.03 * (frame["num_1"] - 50) + (frame["cat_0"] == "c0") * 0.8
    )
    frame["label"] = (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int)
    encode = ColumnTransformer(
        [("cats", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)], remainder="passthrough"
    )
    pipe = Pipeline([("encode", encode), ("logit", LogisticRegression(max_iter=2000))])
    pipe.fit(frame[CATEGORICAL + NUMERIC], frame["label"])
    inputs = [(c, StringTensorType([None, 1])) for c in CATEGORICAL]
    inputs += [(c, FloatTensorType([None, 1])) for c in NUMERIC]
    model = convert_sklearn(
        pipe,
        initial_types=inputs,
        options={id(pipe): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    out.write_bytes(model.SerializeToString())
    coef = pipe.named_steps["logit"].coef_[0]
    categories = pipe.named_steps["encode"].named_transformers_["cats"].categories_
    weights, k = {}, 0
    for name, cats in zip(CATEGORICAL, categories, strict=True):
        weights[name] = {str(c): float(coef[k + m]) for m, c in enumerate(cats)}
        k += len(cats)
    for name in NUMERIC:
        weights[name] = float(coef[k])
        k += 1
    return {"intercept": float(pipe.named_steps["logit"].intercept_[0]), "weights": weights}


def write_logs(con, path: Path, rows: int, model: dict) -> None:
    step_us = DAYS * 86_400_000_000 // rows
    day = f"(i * {step_us} // 86400000000)"
    inner = ", ".join(feature_sql("i", day))
    terms = [str(model["intercept"])]
    for name in NUMERIC:
        terms.append(f"{model['weights'][name]!r} * {name}")
    for name in CATEGORICAL:
        cases = " ".join(f"WHEN '{c}' THEN {w!r}" for c, w in model["weights"][name].items())
        terms.append(f"(CASE {name} {cases} ELSE 0 END)")
    score = f"(1 / (1 + exp(-({' + '.join(terms)}))))::FLOAT::DOUBLE"
    con.execute(
        f"""
        COPY (
          SELECT 'p' || i AS prediction_id, 'bench' AS model_name, '1' AS model_version,
                 TIMESTAMP '{START:%Y-%m-%d}' + to_microseconds(i * {step_us}) AS timestamp,
                 * EXCLUDE (i), {score} AS prediction,
                 CASE WHEN {score} >= 0.5 THEN '1' ELSE '0' END AS predicted_label,
                 round(10 + 20 * {_uniform("i", 777)}, 2) AS latency_ms, 'ok' AS status
          FROM (SELECT i, {inner} FROM range({rows}) t(i))
        ) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 122880)
        """
    )


def metadata() -> dict:
    features = [{"name": n, "type": "number", "categorical": False} for n in NUMERIC]
    features += [{"name": n, "type": "string", "categorical": True} for n in CATEGORICAL]
    return {
        "model_name": "bench",
        "model_version": "1",
        "task": "binary_classification",
        "training_date": "2025-12-15",
        "owner": "Bench",
        "training_data_version": "bench@1",
        "code_commit": "bench",
        "hyperparameters": {"C": 1.0},
        "validation_metrics": {"holdout": {"roc_auc": 0.6}},
        "features": features,
        "positive_label": "1",
        "decision_threshold": 0.5,
    }


# ---------------------------------------------------------------- phases (one per subprocess)


def phase_prepare(home: Path, rows: int) -> dict:
    import duckdb

    from vigil.core.contract import parse_metadata
    from vigil.core.registry.versions import register_version
    from vigil.core.store.connection import Store

    inputs = home / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    reference, artifact = inputs / "reference.parquet", inputs / "model.onnx"
    write_reference(con, reference)
    model = train_model(reference, artifact)
    logs = inputs / f"logs-{rows}.parquet"
    started = time.perf_counter()
    write_logs(con, logs, rows, model)
    generated = time.perf_counter() - started
    con.close()
    store = Store(home / "store")
    started = time.perf_counter()
    register_version(
        store,
        parse_metadata(metadata()),
        artifact=artifact,
        reference=reference,
        registered_by="bench",
        registered_by_role="admin",
    )
    return {
        "generate_s": generated,
        "register_s": time.perf_counter() - started,
        "log_file_mb": logs.stat().st_size / 1e6,
    }


def phase_ingest(home: Path, rows: int) -> dict:
    from vigil.core.ingest import predictions as ingest
    from vigil.core.store.connection import Store

    started = time.perf_counter()
    result = ingest.ingest_predictions(
        Store(home / "store"), "bench", home / "inputs" / f"logs-{rows}.parquet"
    )
    return {"ingest_s": time.perf_counter() - started, "stored": result.stored}


def _selection():
    from vigil.core.monitor.selection import Selection

    return Selection("bench", "1", START, START + dt.timedelta(days=DAYS))


def phase_drift(home: Path, rows: int, *, cold: bool) -> dict:
    from vigil.core.monitor import profiles
    from vigil.core.monitor.drift.report import drift_report
    from vigil.core.store.connection import Store, limit_memory

    store = Store(home / "store")
    if cold:
        with store.transaction() as con:
            for table in (
                *profiles.PROFILE_TABLES,
                "profile_days",
                "profile_references",
                "reference_bins",
            ):
                con.execute(f"DELETE FROM {table} WHERE model_name = 'bench'")
    started = time.perf_counter()
    with store.transaction() as con:  # the report does this itself; timed apart here
        limit_memory(con, store.home)
        refreshed = profiles.refresh(con, "bench", "1")
    profiled = time.perf_counter() - started
    report = drift_report(store, _selection(), granularity="day")
    elapsed = time.perf_counter() - started
    drifted = sorted({c.feature for w in report.windows for c in w.features if c.drifted})
    out = {
        "drift_s": elapsed,
        "of_which_profiles_s": profiled,
        "windows": len(report.windows),
        "days_recomputed": len(refreshed.days_recomputed) + report.days_recomputed,
        "drifted_features": drifted,
        "domain_auc": report.multivariate.auc if report.multivariate else None,
    }
    started = time.perf_counter()
    drift_report(store, _selection(), granularity="day", multivariate=False)
    out["drift_without_multivariate_s"] = time.perf_counter() - started
    try:
        from vigil.core.monitor.performance import report as performance
    except ImportError:
        out["performance"] = "core.performance not present"
        return out
    report_fn = getattr(performance, "performance_report", None)
    if report_fn is None:
        out["performance"] = "core.performance has no performance_report()"
        return out
    started = time.perf_counter()
    try:
        report_fn(store, _selection(), granularity="day")
        out["performance_s"] = time.perf_counter() - started
    except Exception as err:  # an optional extra: report, do not fail the benchmark
        out["performance"] = f"failed: {err}"
    return out


EVIDENTLY_SCRIPT = r"""
import json, sys, time
import pandas as pd
t0 = time.perf_counter()
ref = pd.read_parquet(sys.argv[1])
cur = pd.read_parquet(sys.argv[2], columns=[c for c in ref.columns if c != "label"])
cur = cur.iloc[: int(sys.argv[3])]
ref = ref.drop(columns=["label"])
t1 = time.perf_counter()
try:
    from evidently import Report
    from evidently.presets import DataDriftPreset
    report = Report([DataDriftPreset()])
    result = report.run(reference_data=ref, current_data=cur)
    result.dict()
except ImportError:
    from evidently.report import Report
    from evidently.metric_preset import DataDriftPreset
    report = Report(metrics=[DataDriftPreset()])
    report.run(reference_data=ref, current_data=cur)
    report.as_dict()
import evidently
print(json.dumps({"load_s": t1 - t0, "report_s": time.perf_counter() - t1,
                  "version": evidently.__version__}))
"""


def phase_evidently(home: Path, rows: int) -> dict:
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        return {"evidently": f"not installed: create {EVIDENTLY_VENV} (see bench/README.md)"}
    check = subprocess.run([str(python), "-c", "import evidently"], capture_output=True, text=True)
    if check.returncode != 0:
        return {
            "evidently": f"cannot import evidently from {EVIDENTLY_VENV}: {check.stderr[-300:]}"
        }
    proc = subprocess.run(
        [
            str(python),
            "-c",
            EVIDENTLY_SCRIPT,
            str(home / "inputs" / "reference.parquet"),
            str(home / "inputs" / f"logs-{rows}.parquet"),
            str(EVIDENTLY_MAX_ROWS),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return {"evidently": f"failed: {proc.stderr[-500:]}"}
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["evidently_peak_gb"] = usage.ru_maxrss / 1e6
    out["evidently_rows"] = min(rows, EVIDENTLY_MAX_ROWS)
    return out


PHASES = {
    "prepare": phase_prepare,
    "ingest": phase_ingest,
    "drift_cold": lambda h, r: phase_drift(h, r, cold=True),
    "drift_warm": lambda h, r: phase_drift(h, r, cold=False),
    "evidently": phase_evidently,
}


def run_phase(name: str, home: Path, rows: int) -> dict:
    """Run one phase in a fresh interpreter; return its figures and its peak RSS."""
    proc = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--home", str(home), "--rows", str(rows)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--home", type=Path, help="work folder (default bench/out/<rows>)")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    home = args.home or ROOT / "bench" / "out" / str(args.rows)
    if args.phase:
        os.environ["VIGIL_HOME"] = str(home / "store")
        figures = PHASES[args.phase](home, args.rows)
        figures["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        print(json.dumps(figures, default=str))
        return
    if home.exists():
        import shutil

        shutil.rmtree(home)
    print(f"Vigil drift benchmark: {args.rows:,} rows, 20 features, {DAYS} daily windows")
    results = {}
    phases = ["prepare", "ingest", "drift_cold", "drift_warm"]
    if not args.skip_evidently:
        phases.append("evidently")
    for name in phases:
        results[name] = run_phase(name, home, args.rows)
        print(f"  {name:<11} {json.dumps(results[name], default=str)}", flush=True)
    cold, warm = results["drift_cold"]["drift_s"], results["drift_warm"]["drift_s"]
    peak = max(r.get("peak_gb", 0) for k, r in results.items() if k != "evidently")
    print("\nSummary (targets for 10M rows on 2 cores):")
    print(f"  ingest           {results['ingest']['ingest_s']:8.2f} s   (target < 60 s at 10M)")
    print(f"  drift cold       {cold:8.2f} s   (target < 5 s)")
    print(f"  drift warm       {warm:8.2f} s   (target < 0.5 s)")
    print(f"  peak memory      {peak:8.2f} GB  (target < 2 GB; max over Vigil phases)")
    if "performance_s" in results["drift_warm"]:
        print(f"  performance warm {results['drift_warm']['performance_s']:8.2f} s")
    ev = results.get("evidently")
    if ev is None:
        print("  Evidently: skipped (--skip-evidently)")
    elif "report_s" in ev:
        print(
            f"  Evidently {ev['version']} DataDriftPreset, one whole-range report on "
            f"{ev['evidently_rows']:,} rows: {ev['report_s']:.2f} s "
            f"(+{ev['load_s']:.2f} s reading Parquet into pandas), peak {ev['evidently_peak_gb']:.2f} GB"
        )
        print(
            f"  ratio Evidently / Vigil (90 daily windows + whole range) cold: "
            f"{ev['report_s'] / cold:.1f}x; warm: {ev['report_s'] / warm:.1f}x"
        )
    else:
        print(f"  Evidently: SKIPPED — {ev['evidently']}")


if __name__ == "__main__":
    main()
