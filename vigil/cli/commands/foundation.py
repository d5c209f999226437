"""Commands: init, demo, serve, register, ingest, ingest-labels, models, users, quarantine."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import vigil.app
from vigil.cli.commands.common import (
    acting_user,
    add_actor_argument,
    print_json,
    read_password,
    store,
)
from vigil.core.alerts import engine as alerts
from vigil.core.contract import load_metadata
from vigil.core.demo import seed as demo_seed
from vigil.core.govern import auth
from vigil.core.ingest.labels import ingest_labels
from vigil.core.ingest.predictions import ingest_predictions
from vigil.core.registry import versions as registry
from vigil.core.results import to_jsonable


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("init", help="create or migrate the store")
    p.set_defaults(handler=cmd_init)

    p = subparsers.add_parser("demo", help="seed the demo model, users and 90 days of traffic")
    p.add_argument("--end", type=dt.date.fromisoformat, help="day after the last simulated day")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_demo)

    p = subparsers.add_parser(
        "serve", help="start the dashboard (seeding the demo first if the store is empty)"
    )
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--no-demo", action="store_true", help="do not seed the demo")
    p.set_defaults(handler=cmd_serve)

    p = subparsers.add_parser("register", help="register a model version (immutable)")
    p.add_argument("--metadata", type=Path, required=True, help="metadata JSON (see README)")
    p.add_argument("--artifact", type=Path, required=True, help="the model as ONNX")
    p.add_argument("--reference", type=Path, required=True, help="reference data (.parquet/.csv)")
    p.add_argument("--json", action="store_true")
    add_actor_argument(p)
    p.set_defaults(handler=cmd_register)

    for name, kind in (("ingest", "prediction-log"), ("ingest-labels", "label (feedback)")):
        p = subparsers.add_parser(name, help=f"validate and store {kind} files")
        p.add_argument("--model", required=True, help="registered model name")
        p.add_argument("files", type=Path, nargs="+", help=".parquet, .csv or .jsonl files")
        p.add_argument("--json", action="store_true", help="print counts per file as JSON")
        p.set_defaults(handler=cmd_ingest, labels=name == "ingest-labels")

    p = subparsers.add_parser("models", help="list model versions with their status")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_models)

    p = subparsers.add_parser("quarantine", help="list rejected rows with file, row and reason")
    p.add_argument("--model", required=True)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_quarantine)

    users = subparsers.add_parser("users", help="manage dashboard users").add_subparsers(
        dest="users_command", metavar="ACTION", required=True
    )
    p = users.add_parser("add", help="add a user; the password is read from a prompt or stdin")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=auth.ROLES)
    add_actor_argument(p)
    p.set_defaults(handler=cmd_users_add)
    p = users.add_parser("list", help="list users and roles")
    p.set_defaults(handler=cmd_users_list)


def cmd_init(args: argparse.Namespace) -> int:
    st = store()
    with st.connect():
        pass
    print(f"Store ready at {st.db_path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    st = store()
    if demo_seed.is_seeded(st):
        print("The demo is already in this store; nothing to do.")
        return 0
    report = demo_seed.seed(st, end=args.end, password=os.environ.get("VIGIL_DEMO_PASSWORD"))
    if args.json:
        print_json({"passwords": report.passwords, "ingests": to_jsonable(report.ingests)})
    else:
        print(report.summary())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    st = store()
    auth.ensure_admin_from_env(st)
    if not args.no_demo and not demo_seed.is_seeded(st):
        with st.connect() as con:
            empty = not registry.list_model_names(con)
        if empty:
            print("Empty store: seeding the demo (about 10 seconds)…", flush=True)
            report = demo_seed.seed(st, password=os.environ.get("VIGIL_DEMO_PASSWORD"))
            print(report.summary(), flush=True)
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(Path(vigil.app.__file__).resolve().parent / "main.py"),
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    print(f"Dashboard: http://localhost:{args.port}", flush=True)
    return subprocess.call(command, env={**os.environ, "VIGIL_HOME": str(st.home)})


def cmd_register(args: argparse.Namespace) -> int:
    st = store()
    meta = load_metadata(args.metadata)
    user = acting_user(args, st)
    auth.require(user, "register", "register model versions")
    version = registry.register_version(
        st,
        meta,
        artifact=args.artifact,
        reference=args.reference,
        registered_by=user.username,
        registered_by_role=user.role,
    )
    if args.json:
        print_json(
            {
                "model_name": version.model_name,
                "model_version": version.model_version,
                "status": version.status,
                "artifact_sha256": version.artifact_sha256,
                "reference_rows": version.reference_rows,
            }
        )
    else:
        print(
            f"Registered {version.model_name} {version.model_version} "
            f"(artifact sha256 {version.artifact_sha256[:12]}…, "
            f"{version.reference_rows} reference rows). Status: {version.status_label}."
        )
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    st = store()
    run = ingest_labels if args.labels else ingest_predictions
    results = [run(st, args.model, path) for path in args.files]
    report = alerts.refresh_after_ingest(st, args.model)
    if args.json:
        print_json(to_jsonable(results))
    else:
        for r in results:
            print(
                f"{r.file}: read {r.read}, stored {r.stored}, quarantined {r.quarantined}, "
                f"already present {r.already_present}"
            )
            for top in r.top_reasons:
                print(f"    {top.rows:>6} × {top.reason}")
            if r.ignored_columns:
                print(f"    columns not in the contract, ignored: {', '.join(r.ignored_columns)}")
        failing = report.failures
        print(
            f"Alert rules re-evaluated: {len(failing)} failing window(s)"
            + (" — see `vigil check` or the Alerts page." if failing else ".")
        )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    with store().connect() as con:
        versions = registry.list_versions(con)
        alias_map = {
            (m, v): a
            for m in registry.list_model_names(con)
            for a, v in registry.aliases(con, m).items()
        }
    rows = [
        {
            "model_name": v.model_name,
            "model_version": v.model_version,
            "status": v.status,
            "alias": alias_map.get((v.model_name, v.model_version)),
            "task": v.task,
            "owner": v.owner,
            "registered_at": v.registered_at,
            "registered_by": v.registered_by,
        }
        for v in versions
    ]
    if args.json:
        print_json(rows)
    elif not rows:
        print("No models registered. Register one with `vigil register`, or run `vigil demo`.")
    else:
        print(f"{'model':<16}{'version':<10}{'status':<18}{'alias':<11}owner")
        for r in rows:
            print(
                f"{r['model_name']:<16}{r['model_version']:<10}{r['status']:<18}"
                f"{r['alias'] or '':<11}{r['owner']}"
            )
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    with store().connect() as con:
        registry.model_tables(con, args.model)
        rows = con.execute(
            "SELECT kind, source_file, row_number, prediction_id, reason, quarantined_at "
            "FROM quarantine WHERE model_name = ? ORDER BY quarantined_at DESC, row_number "
            "LIMIT ?",
            [args.model, args.limit],
        ).fetchall()
    keys = ("kind", "file", "row", "prediction_id", "reason", "quarantined_at")
    records = [dict(zip(keys, r, strict=True)) for r in rows]
    if args.json:
        print_json(records)
    else:
        for r in records:
            print(f"{r['file']}:{r['row']}  {r['reason']}")
        if not records:
            print("Nothing in quarantine.")
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    st = store()
    with st.connect() as con:
        has_admin = con.execute("SELECT count(*) FROM users WHERE role = 'admin'").fetchone()[0]
    if has_admin:
        actor = acting_user(args, st)
        auth.require(actor, "manage_users", "add users")
    elif args.role != "admin":
        print("error: the store has no admin yet; add one first (--role admin).", file=sys.stderr)
        return 1
    password = read_password(f"Password for {args.name}: ", confirm=True)
    with st.transaction() as con:
        user = auth.add_user(con, args.name, args.role, password)
    print(f"Added {user.username} ({user.role}).")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    with store().connect() as con:
        for name, role, created, disabled in auth.list_users(con):
            print(f"{name:<16}{role:<10}{created:%Y-%m-%d}{'  disabled' if disabled else ''}")
    return 0
