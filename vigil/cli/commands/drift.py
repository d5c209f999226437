"""Commands: drift (data and prediction drift per feature and window, as JSON or text) and
drift-threshold (a model's drift thresholds, audited)."""

from __future__ import annotations

import argparse
import datetime as dt

from vigil.cli.command import Command
from vigil.cli.commands.common import (
    acting_user,
    add_actor_argument,
    add_json_argument,
    add_range_arguments,
    day_range,
    print_json,
    selection_from_args,
    store,
)
from vigil.cli.exits import Exit
from vigil.core.errors import VigilError
from vigil.core.monitor.drift.report import drift_report
from vigil.core.monitor.drift.results import ColumnDrift, DriftReport, WindowDrift
from vigil.core.monitor.drift.settings import set_threshold
from vigil.core.monitor.selection import Selection
from vigil.core.monitor.windows import parse_granularity
from vigil.core.results import to_jsonable


def _drift_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    p.add_argument("--version", required=True)
    add_range_arguments(p, required=True)
    p.add_argument(
        "--granularity",
        default="day",
        help="day, week, month, or N: windows of N predictions (default day)",
    )
    p.add_argument(
        "--reference-from",
        type=dt.date.fromisoformat,
        help="compare with this window of the version's logs instead of its "
        "reference data (first day, inclusive)",
    )
    p.add_argument(
        "--reference-to",
        type=dt.date.fromisoformat,
        help="last day of the reference window (inclusive)",
    )
    p.add_argument(
        "--no-multivariate", action="store_true", help="skip the domain-classifier signal"
    )
    p.add_argument("--histograms", action="store_true", help="include bin/category counts")
    add_json_argument(p)


def _print_report(args: argparse.Namespace, report: DriftReport) -> None:
    print(
        f"{args.model} {args.version}: {args.start:%Y-%m-%d} – {args.end:%Y-%m-%d} vs "
        f"{report.reference_label}"
    )
    print(report.overall.dataset.sentence())
    for column in report.overall.features + report.overall.prediction:
        p = "" if column.p_value is None else f"  p={column.p_value:.3g}"
        stat = "-" if column.statistic is None else f"{column.statistic:.4g}"
        print(f"  {column.feature:<24} {column.status:<13} {column.test:<14} {stat}{p}")
    mv = report.multivariate
    if mv is not None and mv.auc is not None:
        print(f"Domain classifier ROC AUC {mv.auc:.3f} (threshold {mv.threshold}): {mv.status}")
    drifting = [
        f"{w.window.label}: {', '.join(c.feature for c in w.features if c.drifted)}"
        for w in report.windows
        if any(c.drifted for c in w.features)
    ]
    print(f"Windows with drifted features: {len(drifting)} of {len(report.windows)}")
    for line in drifting:
        print(f"  {line}")


def _column_json(c: ColumnDrift, histograms: bool) -> dict[str, object]:
    keys = ["status", "test", "statistic", "p_value", "threshold", "drifted", "psi"]
    keys += ["reference_n", "current_n", "current_nulls"]
    if histograms:
        keys += ["bins", "reference_counts", "current_counts"]
    return {"name": c.feature, "kind": c.kind.word, **{k: getattr(c, k) for k in keys}}


def _window_json(w: WindowDrift, histograms: bool) -> dict[str, object]:
    d = w.dataset
    return {
        "start": w.window.start,
        "end": w.window.end,
        "rows": w.rows,
        "dataset": {
            "status": d.status,
            "features_tested": d.tested,
            "features_drifted": d.drifted_count,
            "share_drifted": d.share,
            "threshold": d.threshold,
            "drifted": d.drifted,
        },
        "features": [_column_json(c, histograms) for c in w.features],
        "prediction": [_column_json(c, histograms) for c in w.prediction],
    }


def _report_json(report: DriftReport, histograms: bool) -> object:
    """The drift report as `vigil drift --json` prints it (values through to_jsonable)."""
    sel, mv = report.selection, report.multivariate
    multivariate = None
    if mv is not None:
        multivariate = {
            "method": mv.method,
            "status": mv.status,
            "auc": mv.auc,
            "auc_std": mv.auc_std,
            "threshold": mv.threshold,
            "drifted": mv.drifted,
            "reference_rows": mv.reference_n,
            "current_rows": mv.current_n,
            "folds": mv.folds,
            "top_features": mv.top_features,
        }
    return to_jsonable(
        {
            "model": sel.model_name,
            "version": sel.model_version,
            "from": sel.start,
            "to": sel.end,
            "segment": None if sel.segment is None else sel.segment.label(),
            "granularity": report.granularity,
            "reference": report.reference_label,
            "computed_from": report.source,
            "overall": _window_json(report.overall, histograms),
            "multivariate": multivariate,
            "windows": [_window_json(w, histograms) for w in report.windows],
        }
    )


def cmd_drift(args: argparse.Namespace) -> int:
    st = store()
    selection = selection_from_args(args, st)
    reference = None
    if args.reference_from or args.reference_to:
        if not (args.reference_from and args.reference_to):
            raise VigilError("Give both --reference-from and --reference-to, or neither.")
        ref_start, ref_end = day_range(args.reference_from, args.reference_to)
        reference = Selection(args.model, args.version, ref_start, ref_end, selection.segment)
    report = drift_report(
        st,
        selection,
        granularity=parse_granularity(args.granularity),
        reference=reference,
        multivariate=not args.no_multivariate,
    )
    if args.json:
        print_json(_report_json(report, args.histograms))
    else:
        _print_report(args, report)
    return Exit.OK


def _threshold_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--column", default="*", help="a column name, or * (default: all)")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--threshold", type=float)
    group.add_argument("--reset", action="store_true", help="back to the default")
    p.add_argument("--rationale", required=True, help="why (kept in the audit log)")
    add_actor_argument(p)


def cmd_drift_threshold(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    threshold = None if args.reset else args.threshold
    set_threshold(
        st,
        user,
        args.model,
        test=args.test,
        threshold=threshold,
        feature=args.column,
        rationale=args.rationale,
    )
    what = "default" if threshold is None else threshold
    print(f"{args.model}: {args.test} threshold for {args.column} is now {what}")
    return Exit.OK


COMMANDS = (
    Command(
        "drift",
        "data and prediction drift against the reference data, per feature and window",
        _drift_arguments,
        cmd_drift,
        description="Compare the logs of one model version with its reference data (or with "
        "a reference window of its own logs). Exit code 0 whatever the verdict; use "
        "`vigil check` to fail a pipeline on drift.",
    ),
    Command(
        "drift-threshold",
        "set or reset a model's drift threshold (per test, optionally per column)",
        _threshold_arguments,
        cmd_drift_threshold,
        description="Tests: ks, wasserstein, psi, chi2, jensenshannon (p-value tests take the "
        "family-wise alpha per window), dataset_share, domain_auc. With --column, the column "
        "uses that test with that threshold. Needs an analyst or admin; audited.",
    ),
)
