"""Commands: ingest, ingest-labels (validate and store files) and quarantine (rejected rows)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from vigil.cli.command import Command
from vigil.cli.commands.common import (
    acting_user,
    add_actor_argument,
    add_json_argument,
    print_results,
    store,
)
from vigil.cli.exits import Exit
from vigil.core.govern import tokens
from vigil.core.ingest import history
from vigil.core.ingest.batches import IngestResult, Kind
from vigil.core.ingest.run import RunProgress, ingest_files
from vigil.core.registry import versions as registry
from vigil.core.store.connection import Store


def _ingest_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="registered model name")
    p.add_argument("files", type=Path, nargs="+", help=".parquet, .csv or .jsonl files")
    p.add_argument("--json", action="store_true", help="print counts per file as JSON")
    add_actor_argument(p)


API_KEY_ENV = "VIGIL_API_KEY"


def ingest_principal(args: argparse.Namespace, st: Store) -> tokens.Principal:
    """Who is writing: a service account's API key (from $VIGIL_API_KEY, scoped to ingest
    for this model) or a signed-in analyst or admin. Nobody writes to the store anonymously."""
    scope = tokens.scope_for("ingest", args.model)
    key = os.environ.get(API_KEY_ENV, "").strip()
    if key:
        return tokens.authenticate_token(st, key, scope)
    principal = tokens.user_principal(acting_user(args, st))
    tokens.require_scope(principal, scope)
    return principal


def _print_result(r: IngestResult) -> None:
    print(
        f"{r.file}: read {r.read}, stored {r.stored}, quarantined {r.quarantined}, "
        f"already present {r.already_present}"
    )
    for reason in r.top_reasons:
        print(f"    {reason.rows:>6} × {reason.reason}")
    if r.ignored_columns:
        print(f"    columns not in the contract, ignored: {', '.join(r.ignored_columns)}")


def _show_progress(p: RunProgress) -> None:
    """Rows, rows/s and time left on stderr: a bar on a terminal, plain lines otherwise."""
    rate = f"{p.step.rows_per_s:,.0f} rows/s" if p.step.rows_per_s else "–"
    left = f"{p.seconds_left:.0f} s left" if p.seconds_left is not None else "done"
    held = f", store held {p.step.store_held_s:.2f} s" if p.step.store_held_s is not None else ""
    text = f"{p.file}: {p.step.name} {p.step.rows:,} rows, {rate}, {left}{held}"
    if sys.stderr.isatty():
        share = p.bytes_done / p.bytes_total if p.bytes_total else 1.0
        bar = "█" * int(share * 24) + "·" * (24 - int(share * 24))
        end = "\n" if p.step.name == "stored" else ""
        print(f"\r{bar} {share:4.0%} {text}\x1b[K", end=end, file=sys.stderr, flush=True)
    else:
        print(text, file=sys.stderr, flush=True)


def _ingest(args: argparse.Namespace, *, labels: bool) -> int:
    """Every file's outcome; exit 1 naming the files that failed (the others are stored)."""
    kind = Kind.LABEL if labels else Kind.PREDICTION
    st = store()
    ingest_principal(args, st)
    run = ingest_files(st, args.model, args.files, kind, progress=_show_progress)
    if args.json:
        print_results([f.result or f for f in run.files])
    for f in run.files:
        if f.result is None:
            print(f"error: {f.error}", file=sys.stderr)
        elif not args.json:
            _print_result(f.result)
    if run.failing_alert_windows is not None and not args.json:
        failing = run.failing_alert_windows
        print(
            f"Alert rules re-evaluated: {failing} failing window(s)"
            + (" — see `vigil check` or the Alerts page." if failing else ".")
        )
    if run.failed and len(run.files) > 1:
        print(
            f"error: {len(run.failed)} of {len(run.files)} files failed and stored nothing: "
            + ", ".join(f.file for f in run.failed),
            file=sys.stderr,
        )
    return Exit.ERROR if run.failed else Exit.OK


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
