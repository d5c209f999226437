"""Commands: evidence (build or verify a pack), monitoring-plan, reviews, findings, purge-logs.

The same functions as the Inventory, Calendar and Findings pages (core.evidence); the purge
authenticates the acting user and is audited exactly as on the dashboard.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
from pathlib import Path

from vigil.cli.command import Command
from vigil.cli.commands.common import acting_user, add_actor_argument, print_json, store
from vigil.cli.exits import Exit
from vigil.core.errors import VigilError
from vigil.core.evidence import calendar, findings, retention
from vigil.core.evidence.checkpoint import verify_checkpoint
from vigil.core.evidence.pack import build_pack, bundle_json, read_bundle
from vigil.core.evidence.plan import monitoring_plan, plan_json
from vigil.core.evidence.render import render_pdf
from vigil.core.results import to_jsonable


def _progress(fraction: float, what: str) -> None:
    print(f"[{fraction:4.0%}] {what}", file=sys.stderr)


def cmd_evidence(args: argparse.Namespace) -> int:
    st = store()
    if args.verify:
        payload = read_bundle(args.verify.read_bytes())
        cp = payload["checkpoint"]
        check = verify_checkpoint(st, int(cp["records"]), cp["head_hash"])
        print(("OK: " if check.ok else "FAILED: ") + check.message)
        return Exit.OK if check.ok else Exit.FAILED
    missing = [
        f"--{n}"
        for n, v in (
            ("model", args.model),
            ("from", args.start),
            ("to", args.end),
            ("out", args.out),
        )
        if v is None
    ]
    if missing:
        raise VigilError(f"vigil evidence needs {', '.join(missing)} (or --verify BUNDLE).")
    pack = build_pack(st, args.model, args.start, args.end, progress=_progress)
    pdf = render_pdf(pack)
    json_out = args.json_out or args.out.with_suffix(".json")
    args.out.write_bytes(pdf)
    json_out.write_bytes(bundle_json(pack, hashlib.sha256(pdf).hexdigest()))
    cp = pack.checkpoint
    print(
        f"Wrote {args.out} ({len(pdf):,} bytes) and {json_out}: {args.model} from {args.start} "
        f"to {args.end}; audit chain {cp.records} records, head {cp.head_hash}"
        + ("" if cp.chain_valid and not cp.mismatches else " (CHAIN CHECKS FAILED, see pack)")
    )
    return Exit.OK


def cmd_plan(args: argparse.Namespace) -> int:
    data = plan_json(monitoring_plan(store(), args.model))
    if args.out:
        args.out.write_bytes(data)
        print(f"Wrote {args.out}.")
    else:
        print(data.decode())
    return Exit.OK


def cmd_reviews(args: argparse.Namespace) -> int:
    items = calendar.calendar(store())
    if args.within is not None:
        items = [i for i in items if i.days_left <= args.within]
    if args.json:
        print_json(to_jsonable(items))
    else:
        for i in items:
            tier = i.tier.value if i.tier else "no tier"
            print(f"{i.next_review}  {i.state.label:<9} {i.model_name} ({tier}): {i.basis}")
        if not items:
            print("No review is due.")
    overdue = any(i.state is calendar.ReviewState.OVERDUE for i in items)
    return Exit.FAILED if overdue else Exit.OK


def cmd_findings(args: argparse.Namespace) -> int:
    items = findings.list_findings(store(), args.model)
    if args.open:
        items = [f for f in items if f.is_open]
    if args.json:
        print_json(to_jsonable(items))
        return Exit.OK
    for f in items:
        print(f"{f.model_name} {f.describe()} - owner {f.owner}, due {f.due_date}")
    if not items:
        print("No finding.")
    return Exit.OK


def cmd_purge(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    result = retention.purge_logs(st, user, model_name=args.model)
    for model, rows in result.deleted:
        print(f"{model}: {rows} raw log rows served before {result.cutoff:%Y-%m-%d} deleted.")
    print(f"Retention {result.months} months; profiles kept; audit records {result.audit_seqs}.")
    return Exit.OK


def _evidence_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="registered model name")
    p.add_argument("--from", dest="start", type=dt.date.fromisoformat, help="first day (UTC)")
    p.add_argument("--to", dest="end", type=dt.date.fromisoformat, help="last day (UTC)")
    p.add_argument("--out", type=Path, help="PDF to write, e.g. pack.pdf")
    p.add_argument("--json-out", type=Path, help="JSON bundle to write (default: beside --out)")
    p.add_argument("--verify", type=Path, metavar="BUNDLE", help="verify a bundle's checkpoint")


def _plan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    p.add_argument("--out", type=Path, help="file to write (default: standard output)")


def _reviews_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--within", type=int, help="only reviews due within this many days")
    p.add_argument("--json", action="store_true")


def _findings_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="one model only")
    p.add_argument("--open", action="store_true", help="open findings only")
    p.add_argument("--json", action="store_true")


def _purge_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="one model only (default: all)")
    add_actor_argument(p)


COMMANDS = (
    Command(
        "evidence",
        "write a model's evidence pack (PDF and JSON bundle), or verify a bundle",
        _evidence_arguments,
        cmd_evidence,
        description="Build the evidence pack of a model for a period: a PDF for supervisors "
        "and a JSON bundle of the same, both carrying the audit chain checkpoint. With "
        "--verify BUNDLE, check a bundle's checkpoint against this store instead (exit 0 it "
        "holds, 3 the log was rewritten or the bundle comes from another store).",
    ),
    Command(
        "monitoring-plan",
        "a model's monitoring plan and its history, as JSON",
        _plan_arguments,
        cmd_plan,
    ),
    Command(
        "reviews",
        "the review calendar, overdue first: exit 3 if a review is overdue",
        _reviews_arguments,
        cmd_reviews,
    ),
    Command("findings", "the findings register", _findings_arguments, cmd_findings),
    Command(
        "purge-logs",
        "admin: delete raw logs older than the retention (audited)",
        _purge_arguments,
        cmd_purge,
    ),
)
