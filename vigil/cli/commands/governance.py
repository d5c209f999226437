"""Commands: request-promotion, approve, reject, rollback, override-gates, gates,
gate-threshold, timeline and audit (verify, export, report).

The same rules as the dashboard, from core.governance: the acting user is authenticated, and
four-eyes, roles and gates apply exactly as they do on the Review page.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from vigil.cli.commands.common import acting_user, add_actor_argument, print_json, store
from vigil.core.govern import audit, gates, signoff
from vigil.core.govern import workflow as governance
from vigil.core.govern.timeline import timeline


def _decision_parser(
    subparsers: argparse._SubParsersAction, name: str, help_text: str, *, version: bool = True
) -> argparse.ArgumentParser:
    p = subparsers.add_parser(name, help=help_text)
    p.add_argument("--model", required=True, help="registered model name")
    if version:
        p.add_argument("--version", required=True, help="model version")
    p.add_argument("--rationale", required=True, help="why (recorded in the audit log)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_actor_argument(p)
    return p


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = _decision_parser(subparsers, "request-promotion", "put a version up for approval")
    p.set_defaults(handler=cmd_request)
    for name, help_text, decide in (
        ("approve", "approve a pending request and make the version champion", governance.approve),
        ("reject", "reject a pending promotion request", governance.reject),
        (
            "override-gates",
            "admin: accept the failed gates of a pending request",
            governance.override,
        ),
    ):
        p = _decision_parser(subparsers, name, help_text)
        p.add_argument(
            "--expect-row-version",
            type=int,
            help="refuse if the request changed since this row version was read",
        )
        p.set_defaults(handler=cmd_decide, decide=decide)
    p = _decision_parser(subparsers, "rollback", "put the previous champion back", version=False)
    p.set_defaults(handler=cmd_rollback)

    p = subparsers.add_parser("gates", help="run the gate checks for a version (read-only)")
    p.add_argument("--model", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_gates)

    p = subparsers.add_parser(
        "gate-threshold", help="admin: set a model's gate threshold (audited)"
    )
    p.add_argument("--model", required=True)
    p.add_argument("--gate", required=True, choices=sorted(gates.DEFAULT_THRESHOLDS))
    p.add_argument("--value", type=float, required=True)
    add_actor_argument(p)
    p.set_defaults(handler=cmd_gate_threshold)

    p = subparsers.add_parser("timeline", help="which version was champion when")
    p.add_argument("--model", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_timeline)

    audit_cmds = subparsers.add_parser("audit", help="verify, export and report on the audit log")
    actions = audit_cmds.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    p = actions.add_parser("verify", help="recompute the hash chain; exit 1 if it is broken")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_audit_verify)
    p = actions.add_parser("export", help="write the (filtered) log as CSV or JSON")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--out", type=Path, required=True, help="file to write ('-' for stdout)")
    p.add_argument("--model")
    p.add_argument("--action")
    p.add_argument("--actor")
    p.add_argument("--since", type=dt.date.fromisoformat, help="first day, UTC (YYYY-MM-DD)")
    p.add_argument("--until", type=dt.date.fromisoformat, help="last day, UTC, inclusive")
    p.set_defaults(handler=cmd_audit_export)
    p = actions.add_parser("report", help="write the HTML sign-off report of one record")
    p.add_argument("--seq", type=int, required=True, help="audit record number")
    p.add_argument("--out", type=Path, required=True, help="HTML file to write")
    p.set_defaults(handler=cmd_audit_report)


def _print_outcome(args: argparse.Namespace, outcome: governance.Outcome) -> None:
    if args.json:
        print_json(
            {
                "action": outcome.action,
                "model_name": outcome.model_name,
                "model_version": outcome.model_version,
                "status": outcome.status,
                "audit_seqs": list(outcome.audit_seqs),
                "decision_hash": outcome.decision_hash,
                "message": outcome.message,
            }
        )
    else:
        print(outcome.message)
        print(f"Audit record(s) {', '.join(map(str, outcome.audit_seqs))}.")


def _print_gates(report: gates.GateReport) -> None:
    for r in report.results:
        print(f"  {r.outcome.upper():<5} {r.label}: {r.detail}")


def cmd_request(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    outcome, report = governance.request_promotion(
        st, user, args.model, args.version, args.rationale
    )
    _print_outcome(args, outcome)
    if not args.json:
        _print_gates(report)
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    """approve, reject or override-gates: `args.decide` is the governance function."""
    st = store()
    user = acting_user(args, st)
    outcome = args.decide(
        st, user, args.model, args.version, args.rationale,
        expected_row_version=args.expect_row_version,
    )  # fmt: skip
    _print_outcome(args, outcome)
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    _print_outcome(args, governance.rollback(st, user, args.model, args.rationale))
    return 0


def cmd_gates(args: argparse.Namespace) -> int:
    report = gates.check_gates(store(), args.model, args.version)
    if args.json:
        print_json(report.to_dict())
    else:
        verdict = "all gates pass" if report.passed else f"failed: {', '.join(report.failed)}"
        print(f"{args.model} {args.version}: {verdict}")
        _print_gates(report)
    return 0 if report.passed else 1


def cmd_gate_threshold(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    gates.set_threshold(st, user, args.model, args.gate, args.value)
    print(f"Gate {args.gate} of {args.model} now uses threshold {args.value:g}.")
    return 0


def cmd_timeline(args: argparse.Namespace) -> int:
    spells = timeline(store(), args.model).intervals
    rows = [
        {
            "model_version": i.model_version,
            "live_from": i.start,
            "live_until": i.end,
            "started_by": f"{i.started_by} #{i.started_seq} ({i.started_actor})",
            "ended_by": None
            if i.ended_by is None
            else f"{i.ended_by} #{i.ended_seq} ({i.ended_actor})",
        }
        for i in spells
    ]
    if args.json:
        print_json(rows)
    elif not rows:
        print(f"{args.model} has never had a champion.")
    else:
        for r in rows:
            until = f"{r['live_until']:%Y-%m-%d %H:%M:%S}" if r["live_until"] else "now"
            print(
                f"{r['model_version']:<10}{r['live_from']:%Y-%m-%d %H:%M:%S} → {until:<20}"
                f"{r['started_by']}" + (f" … {r['ended_by']}" if r["ended_by"] else "")
            )
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    report = audit.chain_report(store())
    chain = report.chain
    if args.json:
        print_json(
            {
                "valid": chain.valid,
                "records": chain.records,
                "first_broken_seq": chain.first_broken_seq,
                "message": chain.message,
                "state_mismatches": list(report.mismatches),
                "head_hash": report.head_hash,
            }
        )
    else:
        if chain.valid:
            print(f"Chain intact: {chain.records} records verified.")
            if report.head_hash:
                print(f"Head hash (keep it elsewhere to detect truncation): {report.head_hash}")
        else:
            print(
                f"Chain BROKEN at record {chain.first_broken_seq}: {chain.message}",
                file=sys.stderr,
            )
        for problem in report.mismatches:
            print(f"Registry disagrees with the log: {problem}", file=sys.stderr)
    return 0 if report.ok else 1


def cmd_audit_export(args: argparse.Namespace) -> int:
    flt = audit.AuditFilter(args.model, args.action, args.actor, args.since, args.until)
    with store().connect() as con:
        records = audit.query(con, flt)
    data = audit.export_csv(records) if args.format == "csv" else audit.export_json(records)
    if str(args.out) == "-":
        sys.stdout.buffer.write(data)
    else:
        args.out.write_bytes(data)
        print(f"Wrote {len(records)} records to {args.out}", file=sys.stderr)
    return 0


def cmd_audit_report(args: argparse.Namespace) -> int:
    data = signoff.build_report(store(), args.seq)
    args.out.write_bytes(data)
    print(f"Wrote the sign-off report of audit record {args.seq} to {args.out}")
    return 0
