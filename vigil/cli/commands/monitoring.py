"""Commands: status (the Overview's verdicts), performance (realised performance per window)
and service (service health)."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from vigil.cli.command import Command
from vigil.cli.commands.common import (
    add_json_argument,
    add_segment_argument,
    fmt,
    print_results,
    segment_argument,
    store,
)
from vigil.cli.exits import Exit
from vigil.core.errors import VigilError
from vigil.core.monitor.performance.report import performance_report
from vigil.core.monitor.performance.results import WindowPerformance
from vigil.core.monitor.selection import Selection, data_range
from vigil.core.monitor.service import ServiceWindow, service_report
from vigil.core.monitor.windows import parse_granularity
from vigil.core.registry import versions as registry
from vigil.core.store.connection import Store
from vigil.core.verdicts import Level
from vigil.core.views.status import overview_lines


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    p.add_argument("--version", help="default: the champion, else the latest version")
    p.add_argument("--start", type=dt.date.fromisoformat, help="first day (UTC)")
    p.add_argument("--end", type=dt.date.fromisoformat, help="last day, inclusive (UTC)")
    p.add_argument("--granularity", choices=("day", "week", "month"), default="week")
    add_segment_argument(p)
    add_json_argument(p)


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
    """--model/--version/--start/--end/--segment; the range defaults to all the traffic."""
    version = resolve_version(st, args.model, args.version).model_version
    with st.connect() as con:
        bounds = data_range(con, args.model, version)
    start: dt.date | None = args.start or (bounds[0].date() if bounds else None)
    end: dt.date | None = args.end or (bounds[1].date() if bounds else None)
    if start is None or end is None:
        raise VigilError(f"{args.model} {version} has no logged traffic; ingest logs first.")
    return Selection(
        args.model,
        version,
        dt.datetime.combine(start, dt.time()),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time()),
        segment_argument(st, args.model, version, args.segment),
    )


def _window_json(w: WindowPerformance) -> dict[str, Any]:
    return {
        "window_start": w.start,
        "predictions": w.predictions,
        "labelled": w.labelled,
        "label_coverage": w.coverage,
        "status": w.status,
        "metrics": dict(w.metrics),
        "confusion": w.confusion,
    }


def cmd_performance(args: argparse.Namespace) -> int:
    st = store()
    selection = build_selection(st, args)
    report = performance_report(st, selection, args.granularity)
    if args.json:
        print_results(
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
                "windows": [_window_json(w) for w in report.windows],
                "overall": _window_json(report.overall),
            }
        )
        return Exit.OK
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
            f"{label:<12}{w.predictions:>7}{w.labelled:>8}{fmt(w.coverage.value, 3):>7}  "
            + "".join(f"{fmt(w.value(n)):>10}" for n in names)
            + f"  {w.status}"
        )
    return Exit.OK


def _service_json(w: ServiceWindow) -> dict[str, Any]:
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


def cmd_service(args: argparse.Namespace) -> int:
    st = store()
    selection = build_selection(st, args)
    report = service_report(st, selection, args.granularity)
    if args.json:
        print_results(
            {
                "model_name": selection.model_name,
                "model_version": selection.model_version,
                "windows": [_service_json(w) for w in report.windows],
                "overall": _service_json(report.overall),
            }
        )
        return Exit.OK
    print(f"{'window':<12}{'preds':>7}{'errors':>7}{'err %':>7}{'/hour':>8}"
          f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")  # fmt: skip
    for w in (*report.windows, report.overall):
        label = "all" if w is report.overall else f"{w.start:%Y-%m-%d}"
        rate = w.error_rate.value
        print(
            f"{label:<12}{w.predictions:>7}{w.errors:>7}"
            f"{'–' if rate is None else f'{rate:.2%}':>7}{fmt(w.per_hour, 3):>8}"
            f"{fmt(w.latency_p50):>9}{fmt(w.latency_p95):>9}{fmt(w.latency_p99):>9}"
        )
    return Exit.OK


def _status_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    p.add_argument("--version", help="default: the champion, else the latest version")
    p.add_argument("--start", type=dt.date.fromisoformat, help="first day (UTC)")
    p.add_argument("--end", type=dt.date.fromisoformat, help="last day, inclusive (UTC)")
    p.add_argument(
        "--granularity",
        default="week",
        help="day, week, month, or a number N for windows of N predictions (default: week)",
    )
    add_segment_argument(p)
    add_json_argument(p)


def cmd_status(args: argparse.Namespace) -> int:
    """The Overview's lines for a selection: the same verdicts and numbers as the page. Exits
    3 when any line says Act, so a pipeline can stop on it."""
    st = store()
    selection = build_selection(st, args)
    granularity = parse_granularity(args.granularity)
    lines = overview_lines(st, args.model, selection, granularity)
    if args.json:
        print_results(
            {
                "model_name": selection.model_name,
                "model_version": selection.model_version,
                "start": selection.start,
                "end": selection.end,
                "granularity": granularity,
                "segment": None if selection.segment is None else selection.segment.label(),
                "lines": list(lines),
            }
        )
    else:
        for line in lines:
            print(f"{line.area:<14}{line.level.word:<11}{line.headline}")
    return Exit.FAILED if any(line.level is Level.ACT for line in lines) else Exit.OK


COMMANDS = (
    Command("status", "where each area stands, as on the Overview", _status_arguments, cmd_status),
    Command("performance", "realised performance per window", _arguments, cmd_performance),
    Command("service", "service health per window", _arguments, cmd_service),
)
