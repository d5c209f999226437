"""Commands: register (a model version, immutable) and models (every version and its status)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vigil.cli.command import Command
from vigil.cli.commands.common import (
    acting_user,
    add_actor_argument,
    add_json_argument,
    print_json,
    store,
)
from vigil.cli.exits import Exit
from vigil.core.contract import load_metadata
from vigil.core.govern import auth
from vigil.core.registry import versions as registry


def _register_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metadata", type=Path, required=True, help="metadata JSON (see README)")
    p.add_argument("--artifact", type=Path, required=True, help="the model as ONNX")
    p.add_argument("--reference", type=Path, required=True, help="reference data (.parquet/.csv)")
    add_json_argument(p)
    add_actor_argument(p)


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
    return Exit.OK


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
    return Exit.OK


COMMANDS = (
    Command("register", "register a model version (immutable)", _register_arguments, cmd_register),
    Command("models", "list model versions with their status", add_json_argument, cmd_models),
)
