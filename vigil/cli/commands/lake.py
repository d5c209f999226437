"""Command: profile (day profiles of a version whose logs stay in a data lake)."""

from __future__ import annotations

import argparse

from vigil.cli.command import Command
from vigil.cli.commands.common import add_json_argument, print_results, store
from vigil.cli.exits import Exit
from vigil.core.lake.build import BuildResult, build_profiles
from vigil.core.lake.engine import EngineName
from vigil.core.lake.spark import DEFAULT_MASTER


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="registered model name")
    p.add_argument("--version", required=True, help="the model version the logs belong to")
    p.add_argument(
        "--logs",
        required=True,
        metavar="PATH",
        help="Parquet logs: a folder, a file or a glob ('lake/m/*.parquet'); with the Spark "
        "engine also a URI its connectors read (s3a://...)",
    )
    p.add_argument("--labels", metavar="PATH", help="Parquet labels (prediction_id, label)")
    p.add_argument(
        "--engine",
        choices=[e.value for e in EngineName],
        default=EngineName.DUCKDB.value,
        help="where the profiles are computed (default duckdb, on this machine)",
    )
    p.add_argument(
        "--spark-master",
        default=DEFAULT_MASTER,
        metavar="URL",
        help=f"Spark master URL (default {DEFAULT_MASTER}; spark://host:7077, yarn, k8s://...)",
    )
    add_json_argument(p)


def _print(result: BuildResult) -> None:
    where = result.engine.value + (f" ({result.master})" if result.master else "")
    first, last = (result.days[0], result.days[-1]) if result.days else ("–", "–")
    print(
        f"{result.model_name} {result.model_version}: read {result.rows_read:,} rows from "
        f"{result.files} file(s) on {where} in {result.seconds:.1f} s"
    )
    print(
        f"  profiled {result.rows_profiled:,}, rejected {result.rows_rejected:,}, "
        f"other versions {result.rows_other_versions:,}; {len(result.days)} day(s) "
        f"{first} – {last} loaded (earlier profiles of those days replaced)"
    )
    for reason in result.reasons[:10]:
        print(f"    {reason.rows:>8,} × {reason.reason}")
    if result.rejected_path:
        print(f"  rejected rows with their reasons: {result.rejected_path}")
    if result.labels_read is not None:
        print(
            f"  labels: read {result.labels_read:,}, matched {result.labels_matched or 0:,} "
            "profiled predictions"
        )


def cmd_profile(args: argparse.Namespace) -> int:
    result = build_profiles(
        store(),
        args.model,
        args.version,
        args.logs,
        labels=args.labels,
        engine=EngineName(args.engine),
        master=args.spark_master,
    )
    if args.json:
        print_results(result)
    else:
        _print(result)
    return Exit.OK


COMMANDS = (
    Command(
        "profile",
        "profile a version's Parquet logs where they are (DuckDB or Spark)",
        _arguments,
        cmd_profile,
        description="Build the day profiles of a model version whose logs stay in a data lake "
        "(Parquet), on DuckDB or Spark, and load only those aggregates into the store. Rows "
        "are checked against the version's contract; rejected rows are written with their "
        "reasons beside the data (_vigil_rejected/). Running it again replaces the profiles "
        "of the days it reads.",
    ),
)
