"""Commands: request-promotion, approve, reject, withdraw, rollback, override-gates, gates,
gate-threshold, policy (list, confirm, reject), timeline and audit (verify, export, report).

The same rules as the dashboard, from core.govern: the acting user is authenticated, and
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
from vigil.core.govern import actions, audit, audit_report, signoff
from vigil.core.govern.gates import checks, thresholds
from vigil.core.govern.gates.results import GateReport
from vigil.core.govern.gates.specs import WITH_THRESHOLD
from vigil.core.govern.policy import changes as policy
from vigil.core.govern.policy.changes import ChangeState
from vigil.core.govern.timeline import timeline
from vigil.core.results import to_jsonable


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
    p.add_argument("--gate", required=True, choices=[s.gate.value for s in WITH_THRESHOLD])
    p.add_argument("--value", type=float, required=True)
    p.add_argument("--rationale", required=True, help="why (recorded in the audit log)")
    add_actor_argument(p)


def _policy_list_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="only this model's changes")
    p.add_argument("--all", action="store_true", help="decided changes too, not only pending")
    p.add_argument("--json", action="store_true")


def _policy_decide_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("change_id", type=int, help="the policy change number (vigil policy list)")
    p.add_argument("--rationale", required=True, help="why (recorded in the audit log)")
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


def _print_outcome(args: argparse.Namespace, outcome: actions.Outcome) -> None:
    if args.json:
        print_json(to_jsonable(outcome))
    else:
        print(outcome.message)
        print(f"Audit record(s) {', '.join(map(str, outcome.audit_seqs))}.")


def _print_gates(report: GateReport) -> None:
    for r in report.results:
        print(f"  {r.outcome.upper():<5} {r.label}: {r.detail}")


def cmd_request(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    outcome, report = actions.request_promotion(st, user, args.model, args.version, args.rationale)
    _print_outcome(args, outcome)
    if not args.json:
        _print_gates(report)
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    """approve, reject, override-gates or withdraw: `args.decide` is the action."""
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
    _print_outcome(args, actions.rollback(st, user, args.model, args.rationale))
    return 0


def cmd_gates(args: argparse.Namespace) -> int:
    report = checks.check_gates(store(), args.model, args.version)
    if args.json:
        print_json(to_jsonable(report) | {"passed": report.passed})
    else:
        verdict = (
            "all gates pass" if report.passed else f"failed: {', '.join(report.failed_labels)}"
        )
        print(f"{args.model} {args.version}: {verdict}")
        _print_gates(report)
    return Exit.OK if report.passed else Exit.FAILED


def cmd_gate_threshold(args: argparse.Namespace) -> int:
    """A stricter threshold applies now; a looser one waits for a second admin."""
    st = store()
    user = acting_user(args, st)
    outcome = thresholds.set_threshold(st, user, args.model, args.gate, args.value, args.rationale)
    print(outcome.message)
    return Exit.OK


def cmd_policy_list(args: argparse.Namespace) -> int:
    with store().connect() as con:
        state = None if args.all else ChangeState.PENDING
        found = policy.changes(con, model_name=args.model, state=state)
    if args.json:
        print_json(to_jsonable(found))
        return Exit.OK
    if not found:
        print("No policy change is waiting for a second admin." if not args.all else "None.")
    for c in found:
        new = "default" if c.new is None else f"{c.new:g}"
        old = "default" if c.old is None else f"{c.old:g}"
        print(
            f"#{c.change_id} {c.state:<8} {c.key.describe()}: {old} → {new}"
            f"{' (loosens)' if c.loosens else ''}, proposed by {c.proposed_by} on "
            f"{c.proposed_at:%Y-%m-%d %H:%M} UTC: {c.rationale}"
        )
    return Exit.OK


def cmd_policy_confirm(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    print(policy.confirm(st, user, args.change_id, args.rationale).message)
    return Exit.OK


def cmd_policy_reject(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    print(policy.reject(st, user, args.change_id, args.rationale).message)
    return Exit.OK


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
            ("approve", "approve a pending request and make the version champion", actions.approve),
            ("reject", "reject a pending promotion request", actions.reject),
            ("override-gates", "admin: accept the failed gates of a pending request", actions.override),
            ("withdraw", "the requester takes a pending promotion request back", actions.withdraw),
        )
    ),
    Command("rollback", "put the previous champion back", _rollback_arguments, cmd_rollback),
    Command("gates", "run the gate checks for a version (read-only)", _gates_arguments, cmd_gates),
    Command(
        "gate-threshold",
        "admin: change a model's gate threshold (a looser one waits for a second admin)",
        _gate_threshold_arguments, cmd_gate_threshold,
    ),
    Command(
        "policy", "threshold changes waiting for a second admin",
        subcommands=(
            Command("list", "list policy changes", _policy_list_arguments, cmd_policy_list),
            Command(
                "confirm", "admin: confirm another admin's change that loosens a threshold",
                _policy_decide_arguments, cmd_policy_confirm,
            ),
            Command(
                "reject", "turn down a pending policy change", _policy_decide_arguments,
                cmd_policy_reject,
            ),
        ),
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
