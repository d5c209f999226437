"""Commands: check (alert rules, exit 3 on failure), performance, service, rules."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from vigil.cli.commands.common import acting_user, add_actor_argument, print_json, store
from vigil.core.alerts import engine as alerts
from vigil.core.errors import VigilError
from vigil.core.monitor import service
from vigil.core.monitor.performance.report import performance_report
from vigil.core.monitor.performance.results import WindowPerformance
from vigil.core.monitor.selection import Segment, Selection, data_range
from vigil.core.registry import versions as registry
from vigil.core.stats.intervals import Estimate
from vigil.core.store.connection import Store


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check",
        help="evaluate the model's alert rules; exit 3 when any rule fails",
        description="Evaluate every enabled alert rule on every window since --since, record "
        "fired alerts, print each rule's verdict. Exit codes: 0 all pass, 3 a rule failed, "
        "1 an error.",
    )
    p.add_argument("--model", required=True)
    p.add_argument("--version", help="one version (default: every version with traffic)")
    p.add_argument("--since", type=dt.date.fromisoformat, help="first day to evaluate (UTC)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_check)

    for name, what in (("performance", "realised performance"), ("service", "service health")):
        p = subparsers.add_parser(name, help=f"{what} per window")
        p.add_argument("--model", required=True)
        p.add_argument("--version", help="default: the champion, else the latest version")
        p.add_argument("--start", type=dt.date.fromisoformat, help="first day (UTC)")
        p.add_argument("--end", type=dt.date.fromisoformat, help="last day, inclusive (UTC)")
        p.add_argument("--granularity", choices=("day", "week", "month"), default="week")
        p.add_argument("--segment", help="COLUMN=VALUE: only rows of one segment")
        p.add_argument("--json", action="store_true")
        p.set_defaults(handler=cmd_performance if name == "performance" else cmd_service)

    rules = subparsers.add_parser("rules", help="list and edit alert rules").add_subparsers(
        dest="rules_command", metavar="ACTION", required=True
    )
    p = rules.add_parser("list", help="the model's alert rules")
    p.add_argument("--model", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_rules_list)

    p = rules.add_parser("metrics", help="metrics a rule can watch")
    p.add_argument("--task", choices=("binary_classification", "regression"))
    p.set_defaults(handler=cmd_rules_metrics)

    p = rules.add_parser("add", help="add a rule (analysts and admins)")
    p.add_argument("--model", required=True)
    _rule_arguments(p, required=True)
    add_actor_argument(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_rules_add)

    p = rules.add_parser("edit", help="change a rule (analysts and admins)")
    p.add_argument("rule_id", type=int)
    _rule_arguments(p, required=False)
    add_actor_argument(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_rules_edit)

    for action in ("enable", "disable"):
        p = rules.add_parser(action, help=f"{action} a rule (analysts and admins)")
        p.add_argument("rule_id", type=int)
        add_actor_argument(p)
        p.set_defaults(handler=cmd_rules_toggle, enabled=action == "enable")

    p = rules.add_parser("defaults", help="install the default rules for a model without rules")
    p.add_argument("--model", required=True)
    p.add_argument("--version", help="whose validation metrics set the thresholds")
    add_actor_argument(p)
    p.set_defaults(handler=cmd_rules_defaults)


def _rule_arguments(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--metric", required=required, help="see `vigil rules metrics`")
    p.add_argument("--comparison", required=required, choices=tuple(alerts.COMPARISONS))
    p.add_argument("--threshold", required=required, type=float)
    p.add_argument("--granularity", choices=("day", "week", "month"), default=None)
    p.add_argument("--severity", choices=alerts.SEVERITIES, default=None)
    p.add_argument(
        "--relative-to",
        choices=("validation", "none"),
        default=None,
        help="'validation': the threshold is added to the version's validation metric",
    )
    p.add_argument("--min-age-days", type=int, default=None)
    p.add_argument("--description")


# ---------------------------------------------------------------- helpers


def resolve_version(st: Store, model_name: str, version: str | None) -> registry.ModelVersion:
    """The named version, else the champion, else the latest registered version."""
    with st.connect() as con:
        if version:
            return registry.get_version(con, model_name, version)
        champion = registry.aliases(con, model_name).get("champion")
        if champion:
            return registry.get_version(con, model_name, champion)
        versions = registry.list_versions(con, model_name)
        if not versions:
            registry.model_tables(con, model_name)  # raises the unknown-model message
            raise VigilError(f"Model '{model_name}' has no versions.")
        return versions[-1]


def build_selection(st: Store, args: argparse.Namespace) -> Selection:
    version = resolve_version(st, args.model, args.version)
    with st.connect() as con:
        bounds = data_range(con, args.model, version.model_version)
    if bounds is None and (args.start is None or args.end is None):
        raise VigilError(
            f"{args.model} {version.model_version} has no logged traffic; ingest logs first."
        )
    start = args.start or bounds[0].date()
    end = args.end or bounds[1].date()
    segment = None
    if args.segment:
        column, sep, value = args.segment.partition("=")
        if not sep or not column:
            raise VigilError(f"--segment '{args.segment}' must look like COLUMN=VALUE.")
        segment = Segment(column.strip(), value.strip())
    return Selection(
        args.model,
        version.model_version,
        dt.datetime.combine(start, dt.time()),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time()),
        segment,
    )


def _fmt(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


# ---------------------------------------------------------------- check


def cmd_check(args: argparse.Namespace) -> int:
    st = store()
    report = alerts.evaluate(st, args.model, args.version, args.since)
    rows = [s.to_dict() for s in report.summaries]
    if args.json:
        print_json(
            {
                "model_name": report.model_name,
                "versions": list(report.versions),
                "since": report.since,
                "as_of": report.as_of,
                "failed": report.failed,
                "alerts_fired": report.fired,
                "alerts_resolved": report.resolved,
                "rules": rows,
            }
        )
    elif not rows:
        print(
            f"No enabled rules for {args.model}. Add some with `vigil rules add` or "
            "`vigil rules defaults`."
        )
    else:
        for r in rows:
            window = (
                f"{r['window_start']:%Y-%m-%d}..{r['window_end']:%Y-%m-%d}"
                if r["window_start"]
                else "–"
            )
            print(
                f"{r['status'].upper():<8}{r['severity']:<9}v{r['model_version']:<6}"
                f"{r['rule']:<52} value {_fmt(r['value']):<9} threshold "
                f"{_fmt(r['threshold']):<9} window {window}  "
                f"({r['windows_failed']} of {r['windows_evaluated']} windows failing)"
                + (f"  [{r['detail']}]" if r["detail"] else "")
            )
        print(
            f"{'FAILED' if report.failed else 'PASSED'}: {sum(s.status == 'fail' for s in report.summaries)} "
            f"of {len(rows)} rule checks failing; {report.fired} new alert(s), "
            f"{report.resolved} resolved."
        )
    return alerts.EXIT_RULES_FAILED if report.failed else 0


# ---------------------------------------------------------------- performance and service


def _estimate_dict(estimate: Estimate) -> dict[str, Any]:
    return {
        "value": estimate.value,
        "low": estimate.low,
        "high": estimate.high,
        "interval": estimate.method,
    }


def _window_dict(w: WindowPerformance) -> dict[str, Any]:
    return {
        "window_start": w.start,
        "predictions": w.predictions,
        "labelled": w.labelled,
        "label_coverage": _estimate_dict(w.coverage),
        "status": w.status,
        "metrics": {name: _estimate_dict(e) for name, e in w.metrics},
        "confusion": None if w.confusion is None else vars(w.confusion),
    }


def cmd_performance(args: argparse.Namespace) -> int:
    st = store()
    selection = build_selection(st, args)
    report = performance_report(st, selection, args.granularity)
    if args.json:
        print_json(
            {
                "model_name": selection.model_name,
                "model_version": selection.model_version,
                "start": selection.start,
                "end": selection.end,
                "segment": None if selection.segment is None else selection.segment.label(),
                "task": report.task,
                "threshold": report.threshold,
                "min_labels": report.min_labels,
                "validation": dict(report.validation),
                "windows": [_window_dict(w) for w in report.windows],
                "overall": _window_dict(report.overall),
            }
        )
        return 0
    names = report.metric_names[:5]
    print(
        f"{selection.model_name} {selection.model_version}, {selection.start:%Y-%m-%d} to "
        f"{selection.end - dt.timedelta(days=1):%Y-%m-%d}"
        + (f", segment {selection.segment.label()}" if selection.segment else "")
    )
    print(
        f"{'window':<12}{'preds':>7}{'labels':>8}{'cover':>7}  "
        + "".join(f"{n:>10}" for n in names)
        + "  status"
    )
    for w in (*report.windows, report.overall):
        label = "all" if w.start is None else f"{w.start:%Y-%m-%d}"
        print(
            f"{label:<12}{w.predictions:>7}{w.labelled:>8}{_fmt(w.coverage.value, 3):>7}  "
            + "".join(f"{_fmt(w.value(n)):>10}" for n in names)
            + f"  {w.status}"
        )
    return 0


def cmd_service(args: argparse.Namespace) -> int:
    st = store()
    selection = build_selection(st, args)
    report = service.service_report(st, selection, args.granularity)

    def row(w: service.ServiceWindow) -> dict[str, Any]:
        return {
            "window_start": w.start,
            "window_end": w.end,
            "predictions": w.predictions,
            "errors": w.errors,
            "error_rate": w.error_rate.value,
            "per_hour": w.per_hour,
            "peak_per_hour": w.peak_per_hour,
            "latency_p50_ms": w.latency_p50,
            "latency_p95_ms": w.latency_p95,
            "latency_p99_ms": w.latency_p99,
        }

    if args.json:
        print_json(
            {
                "model_name": selection.model_name,
                "model_version": selection.model_version,
                "windows": [row(w) for w in report.windows],
                "overall": row(report.overall),
            }
        )
        return 0
    print(f"{'window':<12}{'preds':>7}{'errors':>7}{'err %':>7}{'/hour':>8}"
          f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")  # fmt: skip
    for w in (*report.windows, report.overall):
        label = "all" if w is report.overall else f"{w.start:%Y-%m-%d}"
        rate = w.error_rate.value
        print(
            f"{label:<12}{w.predictions:>7}{w.errors:>7}"
            f"{'–' if rate is None else f'{rate:.2%}':>7}{_fmt(w.per_hour, 3):>8}"
            f"{_fmt(w.latency_p50):>9}{_fmt(w.latency_p95):>9}{_fmt(w.latency_p99):>9}"
        )
    return 0


# ---------------------------------------------------------------- rules


def _rule_line(rule: alerts.AlertRule) -> str:
    state = "" if rule.enabled else "  (disabled)"
    return f"#{rule.rule_id:<4}{rule.severity:<9}{rule.describe()}{state}"


def cmd_rules_list(args: argparse.Namespace) -> int:
    rules = alerts.list_rules(store(), args.model)
    if args.json:
        print_json([r.to_dict() for r in rules])
    elif not rules:
        print(f"No alert rules for {args.model}.")
    else:
        for rule in rules:
            print(_rule_line(rule))
    return 0


def cmd_rules_metrics(args: argparse.Namespace) -> int:
    for spec in alerts.available_metrics(args.task):
        unit = f" [{spec.unit}]" if spec.unit else ""
        better = "higher is better" if spec.higher_is_better else "lower is better"
        print(f"{spec.name:<22}{spec.label}{unit} — {spec.source}, {better}")
    return 0


def _relative(value: str | None) -> str | None:
    return None if value in (None, "none") else value


def cmd_rules_add(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    spec = alerts.RuleSpec(
        metric=args.metric,
        comparison=args.comparison,
        threshold=args.threshold,
        granularity=args.granularity or "week",
        severity=args.severity or "warning",
        relative_to=_relative(args.relative_to),
        min_age_days=args.min_age_days or 0,
        description=args.description,
    )
    rule = alerts.add_rule(st, user, args.model, spec)
    if args.json:
        print_json(rule.to_dict())
    else:
        print(f"Added {_rule_line(rule)}")
    return 0


def cmd_rules_edit(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    changes: dict[str, Any] = {
        key: value
        for key, value in (
            ("metric", args.metric),
            ("comparison", args.comparison),
            ("threshold", args.threshold),
            ("granularity", args.granularity),
            ("severity", args.severity),
            ("min_age_days", args.min_age_days),
            ("description", args.description),
        )
        if value is not None
    }
    if args.relative_to is not None:
        changes["relative_to"] = _relative(args.relative_to)
    if not changes:
        raise VigilError("Nothing to change: give at least one of --metric, --threshold, ….")
    rule = alerts.update_rule(st, user, args.rule_id, **changes)
    if args.json:
        print_json(rule.to_dict())
    else:
        print(f"Updated {_rule_line(rule)}")
    return 0


def cmd_rules_toggle(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    rule = alerts.set_rule_enabled(st, user, args.rule_id, args.enabled)
    print(f"{'Enabled' if rule.enabled else 'Disabled'} {_rule_line(rule)}")
    return 0


def cmd_rules_defaults(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    version = resolve_version(st, args.model, args.version)
    added = alerts.install_default_rules(st, user, args.model, version.model_version)
    if not added:
        print(f"{args.model} already has rules; nothing added.")
    for rule in added:
        print(f"Added {_rule_line(rule)}")
    return 0
