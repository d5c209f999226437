"""Command: vigil drift — data and prediction drift per feature and window, as JSON or text."""

from __future__ import annotations

import argparse
import datetime as dt

from vigil.cli.commands.common import (
    acting_user,
    add_actor_argument,
    add_range_arguments,
    day_range,
    print_json,
    selection_from_args,
    store,
)
from vigil.core.errors import VigilError
from vigil.core.monitor.drift import drift_report, set_threshold
from vigil.core.monitor.selection import Selection
from vigil.core.monitor.windows import parse_granularity


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "drift",
        help="data and prediction drift against the reference data, per feature and window",
        description=(
            "Compare the logs of one model version with its reference data (or with a "
            "reference window of its own logs). Exit code 0 whatever the verdict; use "
            "`vigil check` to fail a pipeline on drift."
        ),
    )
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
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_drift)

    p = subparsers.add_parser(
        "drift-threshold",
        help="set or reset a model's drift threshold (per test, optionally per column)",
        description=(
            "Tests: ks, wasserstein, psi, chi2, jensenshannon (p-value tests take the "
            "family-wise alpha per window), dataset_share, domain_auc. With --column, the "
            "column uses that test with that threshold. Needs an analyst or admin; audited."
        ),
    )
    p.add_argument("--model", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--column", default="*", help="a column name, or * (default: all)")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--threshold", type=float)
    group.add_argument("--reset", action="store_true", help="back to the default")
    p.add_argument("--rationale", help="why (kept in the audit log)")
    add_actor_argument(p)
    p.set_defaults(handler=cmd_drift_threshold)


def cmd_drift(args: argparse.Namespace) -> int:
    selection = selection_from_args(args)
    reference = None
    if args.reference_from or args.reference_to:
        if not (args.reference_from and args.reference_to):
            raise VigilError("Give both --reference-from and --reference-to, or neither.")
        ref_start, ref_end = day_range(args.reference_from, args.reference_to)
        reference = Selection(args.model, args.version, ref_start, ref_end, selection.segment)
    report = drift_report(
        store(),
        selection,
        granularity=parse_granularity(args.granularity),
        reference=reference,
        multivariate=not args.no_multivariate,
    )
    if args.json:
        print_json(report.to_dict(histograms=args.histograms))
        return 0
    print(
        f"{args.model} {args.version}: {args.start:%Y-%m-%d} – {args.end:%Y-%m-%d} vs "
        f"{report.reference_label}"
    )
    print(report.overall.dataset.sentence())
    for column in report.overall.features + report.overall.prediction:
        p = "" if column.p_value is None else f"  p={column.p_value:.3g}"
        stat = "-" if column.statistic is None else f"{column.statistic:.4g}"
        print(f"  {column.feature:<24} {column.status:<13} {column.test:<14} {stat}{p}")
    if report.multivariate is not None and report.multivariate.auc is not None:
        mv = report.multivariate
        print(f"Domain classifier ROC AUC {mv.auc:.3f} (threshold {mv.threshold}): {mv.status}")
    drifting = [
        f"{w.window.label}: {', '.join(c.feature for c in w.features if c.drifted)}"
        for w in report.windows
        if any(c.drifted for c in w.features)
    ]
    print(f"Windows with drifted features: {len(drifting)} of {len(report.windows)}")
    for line in drifting:
        print(f"  {line}")
    return 0


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
    return 0
