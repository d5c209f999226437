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

from vigil.cli.command import Command
from vigil.cli.commands.common import acting_user, add_actor_argument, print_json, store
from vigil.cli.exits import Exit
from vigil.core.govern import audit, audit_report, gates, signoff
from vigil.core.govern import workflow as governance
from vigil.core.govern.timeline import timeline


def _decision_arguments(p: argparse.ArgumentParser, *, version: bool = True) -> None:
    p.add_argument("--model", required=True, help="registered model name")
    if version:
        p.add_argument("--version", required=True, help="model version")
    p.add_argument("--rationale", required=True, help="why (recorded in the audit log)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_actor_argument(p)


def _decide_arguments(p: argparse.ArgumentParser) -> None:
    _decision_arguments(p)
    p.add_argument(
        "--expect-row-version",
        type=int,
        help="refuse if the request changed since this row version was read",
    )


def _rollback_arguments(p: argparse.ArgumentParser) -> None:
    _decision_arguments(p, version=False)


def _gates_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--json", action="store_true")


def _gate_threshold_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    p.add_argument("--gate", required=True, choices=sorted(gates.DEFAULT_THRESHOLDS))
    p.add_argument("--value", type=float, required=True)
    add_actor_argument(p)


def _timeline_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    p.add_argument("--json", action="store_true")


def _json_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true")


def _audit_export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--out", type=Path, required=True, help="file to write ('-' for stdout)")
    p.add_argument("--model")
    p.add_argument("--action")
    p.add_argument("--actor")
    p.add_argument("--since", type=dt.date.fromisoformat, help="first day, UTC (YYYY-MM-DD)")
    p.add_argument("--until", type=dt.date.fromisoformat, help="last day, UTC, inclusive")


def _audit_report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seq", type=int, required=True, help="audit record number")
    p.add_argument("--out", type=Path, required=True, help="HTML file to write")


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
    return Exit.OK if report.passed else Exit.FAILED


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


def _audit_verify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--witness", type=Path, help="a file of checkpoint lines kept elsewhere, checked too"
    )


def cmd_audit_verify(args: argparse.Namespace) -> int:
    report = audit_report.chain_report(store(), witness=args.witness)
    if args.json:
        print_json(report.to_dict())
    else:
        out, err = report.describe()
        print("\n".join(out))
        if err:
            print("\n".join(err), file=sys.stderr)
    return 0 if report.ok else 1


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    checkpoint = audit_report.latest_checkpoint(store())
    if checkpoint is None:
        print("error: no checkpoint of this store yet (is an audit key set?)", file=sys.stderr)
        return 1
    print(checkpoint.to_line())
    print(
        f"{checkpoint.records} records, head {checkpoint.head}, signed {checkpoint.at} "
        f"with key id {checkpoint.key_id}: keep this line where the key holder cannot edit it.",
        file=sys.stderr,
    )
    return 0


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


COMMANDS = (
    Command("request-promotion", "put a version up for approval", _decision_arguments, cmd_request),
    *(
        Command(name, help_text, _decide_arguments, cmd_decide, defaults=(("decide", decide),))
        for name, help_text, decide in (
            ("approve", "approve a pending request and make the version champion", governance.approve),
            ("reject", "reject a pending promotion request", governance.reject),
            ("override-gates", "admin: accept the failed gates of a pending request", governance.override),
        )
    ),
    Command("rollback", "put the previous champion back", _rollback_arguments, cmd_rollback),
    Command("gates", "run the gate checks for a version (read-only)", _gates_arguments, cmd_gates),
    Command(
        "gate-threshold", "admin: set a model's gate threshold (audited)",
        _gate_threshold_arguments, cmd_gate_threshold,
    ),
    Command("timeline", "which version was champion when", _timeline_arguments, cmd_timeline),
    Command(
        "audit", "verify, export and report on the audit log",
        subcommands=(
            Command(
                "verify", "recompute the hash chain; exit 1 if it is broken",
                _audit_verify_arguments, cmd_audit_verify,
            ),
            Command(
                "checkpoint", "print the newest signed checkpoint, for an external witness",
                handler=cmd_audit_checkpoint,
            ),
            Command(
                "export", "write the (filtered) log as CSV or JSON", _audit_export_arguments,
                cmd_audit_export,
            ),
            Command(
                "report", "write the HTML sign-off report of one record",
                _audit_report_arguments, cmd_audit_report,
            ),
        ),
    ),
)  # fmt: skip
