"""Commands: ingest, ingest-labels (validate and store files) and quarantine (rejected rows)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vigil.cli.command import Command
from vigil.cli.commands.common import add_json_argument, print_results, store
from vigil.cli.exits import Exit
from vigil.core.alerts.evaluate import refresh_after_ingest
from vigil.core.ingest import history
from vigil.core.ingest.batches import IngestResult
from vigil.core.ingest.labels import ingest_labels
from vigil.core.ingest.predictions import ingest_predictions
from vigil.core.registry import versions as registry


def _ingest_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="registered model name")
    p.add_argument("files", type=Path, nargs="+", help=".parquet, .csv or .jsonl files")
    p.add_argument("--json", action="store_true", help="print counts per file as JSON")


def _print_result(r: IngestResult) -> None:
    print(
        f"{r.file}: read {r.read}, stored {r.stored}, quarantined {r.quarantined}, "
        f"already present {r.already_present}"
    )
    for reason in r.top_reasons:
        print(f"    {reason.rows:>6} × {reason.reason}")
    if r.ignored_columns:
        print(f"    columns not in the contract, ignored: {', '.join(r.ignored_columns)}")


def _ingest(args: argparse.Namespace, *, labels: bool) -> int:
    st = store()
    run = ingest_labels if labels else ingest_predictions
    results = [run(st, args.model, path) for path in args.files]
    report = refresh_after_ingest(st, args.model)
    if args.json:
        print_results(results)
        return Exit.OK
    for r in results:
        _print_result(r)
    failing = report.failures
    print(
        f"Alert rules re-evaluated: {len(failing)} failing window(s)"
        + (" — see `vigil check` or the Alerts page." if failing else ".")
    )
    return Exit.OK


def cmd_ingest(args: argparse.Namespace) -> int:
    return _ingest(args, labels=False)


def cmd_ingest_labels(args: argparse.Namespace) -> int:
    return _ingest(args, labels=True)


def _quarantine_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    p.add_argument("--limit", type=int, default=50)
    add_json_argument(p)


def cmd_quarantine(args: argparse.Namespace) -> int:
    st = store()
    with st.connect() as con:
        registry.model_tables(con, args.model)  # an unknown model gets the registry's message
    rows = history.quarantine(st, args.model, limit=args.limit).to_dict("records")
    if args.json:
        print_results(rows)
        return Exit.OK
    for r in rows:
        print(f"{r['file']}:{r['row']}  {r['reason']}")
    if not rows:
        print("Nothing in quarantine.")
    return Exit.OK


COMMANDS = (
    Command("ingest", "validate and store prediction-log files", _ingest_arguments, cmd_ingest),
    Command(
        "ingest-labels",
        "validate and store label (feedback) files",
        _ingest_arguments,
        cmd_ingest_labels,
    ),
    Command(
        "quarantine",
        "list rejected rows with file, row and reason",
        _quarantine_arguments,
        cmd_quarantine,
    ),
)
