"""Commands: check (evaluate the alert rules: exit 0 pass, 3 fail, 4 no data), rules (list and
edit, audited with a rationale) and alerts (list, acknowledge, snooze, resolve)."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from vigil.cli.command import Command
from vigil.cli.commands.common import (
    acting_user,
    add_actor_argument,
    add_json_argument,
    fmt,
    print_results,
    store,
)
from vigil.cli.commands.monitoring import resolve_version
from vigil.cli.exits import Exit
from vigil.core.alerts import defaults, metrics, records, rules
from vigil.core.alerts.evaluate import AlertReport, Outcome, RuleSummary, evaluate
from vigil.core.errors import VigilError
from vigil.core.monitor.windows import CALENDAR_GRANULARITIES

NO_DATA_EXITS = {"no-data": Exit.NO_DATA, "fail": Exit.FAILED, "pass": Exit.OK}

# ---------------------------------------------------------------- check


def _check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    p.add_argument("--version", help="one version (default: every live version with traffic)")
    p.add_argument(
        "--all-versions", action="store_true",
        help="also versions no longer live (archived, rolled back, rejected)",
    )  # fmt: skip
    p.add_argument("--since", type=dt.date.fromisoformat, help="first day to evaluate (UTC)")
    p.add_argument(
        "--until", type=dt.date.fromisoformat, help="last day to evaluate, inclusive (UTC)"
    )
    p.add_argument(
        "--on-no-data", choices=tuple(NO_DATA_EXITS), default="no-data",
        help="exit code when no rule failed but some could not be judged: no-data (4, the "
        "default), fail (3) or pass (0)",
    )  # fmt: skip
    add_json_argument(p)


def _check_line(s: RuleSummary) -> str:
    window = f"{s.window_start:%Y-%m-%d}..{s.window_end:%Y-%m-%d}" if s.window_start else "–"
    return (
        f"{s.outcome.value.upper():<8}{s.severity:<9}v{s.model_version:<6}{s.rule:<52} value "
        f"{fmt(s.value):<9} threshold {fmt(s.threshold):<9} window {window}  "
        f"({s.windows_failed} of {s.windows_evaluated} windows failing)"
        + (f"  [{s.detail}]" if s.detail else "")
    )


def _check_verdict(report: AlertReport) -> str:
    counts = {o: sum(s.outcome is o for s in report.summaries) for o in Outcome}
    total = len(report.summaries)
    alerts = f"{report.fired} new alert(s), {report.resolved} resolved."
    if report.outcome is Outcome.FAIL:
        return f"FAILED: {counts[Outcome.FAIL]} of {total} rule checks failing; {alerts}"
    if report.outcome is Outcome.NO_DATA:
        if not total:
            return "NO DATA: no rule could be checked (no enabled rule, or no live version with traffic)."
        return f"NO DATA: {counts[Outcome.NO_DATA]} of {total} rule checks had nothing to judge; {alerts}"
    return f"PASSED: 0 of {total} rule checks failing; {alerts}"


def cmd_check(args: argparse.Namespace) -> int:
    report = evaluate(
        store(), args.model, args.version, args.since,
        None if args.until is None else args.until + dt.timedelta(days=1),
        all_versions=args.all_versions,
    )  # fmt: skip
    if args.json:
        print_results(
            {
                "model_name": report.model_name,
                "versions": report.versions,
                "since": report.since,
                "until": report.until,
                "as_of": report.as_of,
                "outcome": report.outcome,
                "failed": report.failed,
                "alerts_fired": report.fired,
                "alerts_resolved": report.resolved,
                "rules": report.summaries,
                "not_checked": report.skipped,
            }
        )
    else:
        for summary in report.summaries:
            print(_check_line(summary))
        for why in report.skipped:
            print(f"not checked: {why}")
        print(_check_verdict(report))
    if report.outcome is Outcome.FAIL:
        return Exit.FAILED
    if report.outcome is Outcome.NO_DATA:
        return NO_DATA_EXITS[args.on_no_data]
    return Exit.OK


# ---------------------------------------------------------------- rules


def _rule_line(rule: rules.AlertRule) -> str:
    state = "" if rule.enabled else "  (disabled)"
    return f"#{rule.rule_id:<4}{rule.severity:<9}{rule.describe()}{state}"


def _model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    add_json_argument(p)


def cmd_rules_list(args: argparse.Namespace) -> int:
    found = rules.list_rules(store(), args.model)
    if args.json:
        print_results(found)
        return Exit.OK
    for rule in found:
        print(_rule_line(rule))
    if not found:
        print(f"No alert rules for {args.model}.")
    in_force = {str(r.rule_id): r.threshold for r in found}
    for change in rules.pending_thresholds(store(), args.model):
        print(
            f"pending: rule #{change.key.name} threshold {in_force.get(change.key.name)} → "
            f"{change.new}, proposed by {change.proposed_by}; waits for a second admin "
            f"(vigil policy confirm {change.change_id})"
        )
    return Exit.OK


def _metrics_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", choices=("binary_classification", "regression"))


def cmd_rules_metrics(args: argparse.Namespace) -> int:
    for m in metrics.available(args.task):
        unit = f" [{m.unit}]" if m.unit else ""
        scope = "; per sensitive attribute" if m.by_attribute else ""
        print(f"{m.name:<30}{m.label}{unit} — {m.source}, {m.direction}{scope}")
    return Exit.OK


def _rule_arguments(p: argparse.ArgumentParser, *, adding: bool) -> None:
    p.add_argument("--metric", required=adding, help="see `vigil rules metrics`")
    p.add_argument("--comparison", required=adding, choices=[c.value for c in rules.Comparison])
    p.add_argument("--threshold", required=adding, type=float)
    p.add_argument("--granularity", choices=CALENDAR_GRANULARITIES)
    p.add_argument("--severity", choices=[s.value for s in rules.Severity])
    p.add_argument(
        "--relative-to", choices=("validation", "none"),
        help="'validation': the threshold is added to the version's validation metric",
    )  # fmt: skip
    p.add_argument("--min-age-days", type=int)
    p.add_argument(
        "--attribute", help="fairness metrics: one sensitive attribute, e.g. age or 'sex × age' "
        "(default: every one, the worst counts); '' for every one",
    )  # fmt: skip
    p.add_argument("--description")
    p.add_argument("--rationale", required=True, help="why (kept in the audit trail)")
    add_actor_argument(p)
    add_json_argument(p)


def _relative(value: str | None) -> str | None:
    return None if value in (None, "none") else value


def cmd_rules_add(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    spec = rules.RuleSpec(
        metric=args.metric,
        comparison=rules.Comparison(args.comparison),
        threshold=args.threshold,
        granularity=args.granularity or "week",
        severity=rules.Severity(args.severity or "warning"),
        relative_to=_relative(args.relative_to),
        min_age_days=args.min_age_days or 0,
        attribute=args.attribute or None,
        description=args.description,
    )
    rule = rules.add_rule(st, user, args.model, spec, rationale=args.rationale)
    if args.json:
        print_results(rule)
    else:
        print(f"Added {_rule_line(rule)}")
    return Exit.OK


def cmd_rules_edit(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    given = {
        "metric": args.metric,
        "comparison": args.comparison,
        "threshold": args.threshold,
        "granularity": args.granularity,
        "severity": args.severity,
        "min_age_days": args.min_age_days,
        "description": args.description,
    }
    changes: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if args.relative_to is not None:
        changes["relative_to"] = _relative(args.relative_to)
    if args.attribute is not None:
        changes["attribute"] = args.attribute or None
    threshold = changes.pop("threshold", None)
    if not changes and threshold is None:
        raise VigilError("Nothing to change: give at least one of --metric, --threshold, ….")
    if changes:
        rule = rules.update_rule(st, user, args.rule_id, changes, rationale=args.rationale)
        if not args.json:
            print(f"Updated {_rule_line(rule)}")
    if threshold is not None:  # policy: a loosening waits for a second admin
        outcome = rules.set_threshold(st, user, args.rule_id, threshold, rationale=args.rationale)
        if not args.json:
            print(outcome.message)
    if args.json:
        with st.connect() as con:
            print_results(rules.get_rule(con, args.rule_id))
    return Exit.OK


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    _rule_arguments(p, adding=True)


def _edit_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("rule_id", type=int)
    _rule_arguments(p, adding=False)


def _toggle_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("rule_id", type=int)
    p.add_argument("--rationale", required=True, help="why (kept in the audit trail)")
    add_actor_argument(p)


def cmd_rules_toggle(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    rule = rules.set_rule_enabled(st, user, args.rule_id, args.enabled, rationale=args.rationale)
    print(f"{'Enabled' if rule.enabled else 'Disabled'} {_rule_line(rule)}")
    return Exit.OK


def _defaults_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    p.add_argument("--version", help="whose validation metrics set the thresholds")
    p.add_argument("--rationale", default="Default alert rules for a newly monitored model.")
    add_actor_argument(p)


def cmd_rules_defaults(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    version = resolve_version(st, args.model, args.version)
    added = defaults.install_default_rules(
        st, user, args.model, version.model_version, rationale=args.rationale
    )
    if not added:
        print(f"{args.model} already has rules; nothing added.")
    for rule in added:
        print(f"Added {_rule_line(rule)}")
    return Exit.OK


# ---------------------------------------------------------------- alerts

STATE_CHOICES = {
    "active": (records.AlertState.OPEN, records.AlertState.ACKNOWLEDGED),
    **{s.value: (s,) for s in records.AlertState},
}


def _alerts_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    p.add_argument("--version")
    p.add_argument("--state", choices=tuple(STATE_CHOICES), help="default: every state")
    add_json_argument(p)


def cmd_alerts_list(args: argparse.Namespace) -> int:
    found = records.list_alerts(
        store(), args.model, version=args.version,
        states=None if args.state is None else STATE_CHOICES[args.state],
    )  # fmt: skip
    if args.json:
        print_results([{**_fields(a), "state": a.state()} for a in found])
        return Exit.OK
    for a in found:
        print(f"#{a.alert_id:<5}{a.state().value:<14}{a.severity:<9}{a.describe()}")
    if not found:
        print("No alerts.")
    return Exit.OK


def _fields(alert: records.Alert) -> dict[str, Any]:
    return {name: getattr(alert, name) for name in records.COLUMNS}


def _action_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("alert_id", type=int)
    p.add_argument("--note", required=True, help="what was seen or done (kept in the audit trail)")
    add_actor_argument(p)


def _snooze_arguments(p: argparse.ArgumentParser) -> None:
    _action_arguments(p)
    p.add_argument(
        "--until", required=True, type=dt.datetime.fromisoformat,
        help="UTC date and time, e.g. 2026-12-01T09:00 (a date alone: its midnight)",
    )  # fmt: skip


def cmd_alerts_act(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    if args.act == "acknowledge":
        alert = records.acknowledge(st, user, args.alert_id, note=args.note)
    elif args.act == "snooze":
        alert = records.snooze(st, user, args.alert_id, until=args.until, note=args.note)
    else:
        alert = records.resolve(st, user, args.alert_id, note=args.note)
    print(f"Alert {alert.alert_id} is now {alert.state().value}: {alert.describe()}")
    return Exit.OK


COMMANDS = (
    Command(
        "check",
        "evaluate the model's alert rules: exit 0 pass, 3 a rule failed, 4 no data",
        _check_arguments,
        cmd_check,
        description="Evaluate every enabled alert rule on every window of every live version, "
        "record fired alerts, and print each rule's verdict. Exit codes: 0 every rule passed, "
        "3 a rule failed, 4 no rule failed but some had no data to judge (see --on-no-data), "
        "1 an error, 2 a malformed command line.",
    ),
    Command(
        "rules",
        "list and edit alert rules (edits are audited with a rationale)",
        subcommands=(
            Command("list", "the model's alert rules", _model_arguments, cmd_rules_list),
            Command("metrics", "metrics a rule can watch", _metrics_arguments, cmd_rules_metrics),
            Command("add", "add a rule (analysts and admins)", _add_arguments, cmd_rules_add),
            Command("edit", "change a rule (analysts and admins)", _edit_arguments, cmd_rules_edit),
            Command(
                "enable", "enable a rule", _toggle_arguments, cmd_rules_toggle,
                defaults=(("enabled", True),),
            ),
            Command(
                "disable", "disable a rule (its open alerts close)", _toggle_arguments,
                cmd_rules_toggle, defaults=(("enabled", False),),
            ),
            Command(
                "defaults", "install the default rules for a model without rules",
                _defaults_arguments, cmd_rules_defaults,
            ),
        ),
    ),
    Command(
        "alerts",
        "list alerts; acknowledge, snooze or resolve one (audited with a note)",
        subcommands=(
            Command("list", "the model's alerts and their state", _alerts_arguments, cmd_alerts_list),
            Command(
                "acknowledge", "someone owns the alert", _action_arguments, cmd_alerts_act,
                defaults=(("act", "acknowledge"),),
            ),
            Command(
                "snooze", "hide the alert until a time", _snooze_arguments, cmd_alerts_act,
                defaults=(("act", "snooze"),),
            ),
            Command(
                "resolve", "close the alert with a note", _action_arguments, cmd_alerts_act,
                defaults=(("act", "resolve"),),
            ),
        ),
    ),
)  # fmt: skip
