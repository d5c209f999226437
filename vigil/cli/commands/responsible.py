"""Commands: vigil fairness (groups, disparities, the 80 % rule) and vigil explain (SHAP)."""

from __future__ import annotations

import argparse

from vigil.cli.commands.common import add_range_arguments, print_json, selection_from_args, store
from vigil.core.errors import VigilError
from vigil.core.explain import attribution
from vigil.core.monitor.fairness import fairness_report, register_alert_metrics
from vigil.core.monitor.windows import CALENDAR_GRANULARITIES

# Importing this module (the CLI imports every command module) offers the fairness metrics
# to alert rules, so `vigil check` can watch them.
register_alert_metrics()


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fairness",
        help="fairness across groups of the sensitive attributes (fairlearn)",
        description=(
            "Selection rate, TPR, FPR, precision and accuracy per group of every sensitive "
            "attribute (and their crossings), demographic parity and equalized odds with "
            "bootstrap intervals, and the four-fifths (80 %%) rule. Selection rates use every "
            "served prediction; label-based metrics use the labelled ones. Exit code 0 "
            "whatever the verdict; alert rules on fairness metrics fail pipelines."
        ),
    )
    p.add_argument("--model", required=True)
    p.add_argument("--version", required=True)
    add_range_arguments(p, required=True)
    p.add_argument("--attribute", help="one attribute, e.g. sex, age or 'sex × age' (sex_x_age)")
    p.add_argument("--granularity", default="week", choices=CALENDAR_GRANULARITIES)
    p.add_argument("--resamples", type=int, default=200, help="bootstrap resamples (0: none)")
    p.add_argument("--no-windows", action="store_true", help="omit the per-window trend")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_fairness)

    p = subparsers.add_parser(
        "explain",
        help="SHAP explanation of one logged prediction, or global feature importance",
        description=(
            "With --prediction-id: why that prediction came out as it did (base value + one "
            "contribution per feature = the model output). With --from/--to instead: mean "
            "|SHAP| per feature over a seeded sample of the version's predictions."
        ),
    )
    p.add_argument("--model", required=True)
    p.add_argument("--version", help="the version (default: the one that served the id)")
    p.add_argument("--prediction-id", help="a logged prediction_id")
    add_range_arguments(p, required=False)
    p.add_argument("--sample", type=int, default=attribution.GLOBAL_SAMPLE_ROWS)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_explain)


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def cmd_fairness(args: argparse.Namespace) -> int:
    report = fairness_report(
        store(),
        selection_from_args(args),
        granularity=args.granularity,
        attribute=args.attribute,
        resamples=args.resamples,
    )
    if args.json:
        print_json(report.to_dict(windows=not args.no_windows))
        return 0
    print(
        f"{report.model_name} {report.model_version}: {args.start} – {args.end}, "
        f"{report.rows} predictions ({report.labelled} labelled); favourable: {report.favourable}"
    )
    for item in report.attributes:
        d = item.disparities
        print(f"\n{item.name}: {item.verdict.upper()}")
        print(
            f"  demographic parity ratio {_fmt(d.demographic_parity_ratio)}, difference "
            f"{_fmt(d.demographic_parity_difference)}; equalized odds ratio "
            f"{_fmt(d.equalized_odds_ratio)}, difference {_fmt(d.equalized_odds_difference)}"
        )
        print(f"  {'group':<18}{'rows':>7}{'sel.rate':>9}{'ratio':>7}{'TPR':>7}{'FPR':>7}  status")
        for g in item.groups:
            print(
                f"  {g.group:<18}{g.rows:>7}{_fmt(g.selection_rate):>9}"
                f"{_fmt(g.ratio_to_most_favoured, '.2f'):>7}{_fmt(g.tpr):>7}{_fmt(g.fpr):>7}"
                f"  {g.status}"
            )
        for line in item.statements:
            print(f"  - {line}")
        if item.validation is not None:
            print(f"  {item.validation.text}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    st = store()
    if args.prediction_id:
        result = attribution.explain_prediction(
            st, args.model, args.prediction_id, model_version=args.version
        )
        if args.json:
            print_json(result.to_dict())
            return 0
        print(
            f"{result.model_name} {result.model_version} prediction {result.prediction_id} "
            f"({result.served_at:%Y-%m-%d %H:%M} UTC), {result.method}, in {result.output_space}"
        )
        print(f"  base value {result.base_value:+.4f}")
        for c in result.contributions:
            print(f"  {c.feature:<20} = {c.value:<22} {c.contribution:+.4f}")
        line = f"  output     {result.output_value:+.4f}"
        if result.probability is not None:
            line += f"  (probability {result.probability:.4f})"
        print(line)
        if result.note:
            print(f"  note: {result.note}")
        return 0
    if not (args.version and args.start and args.end):
        raise VigilError(
            "Give --prediction-id ID to explain one prediction, or --version, --from and --to "
            "for global feature importance."
        )
    result = attribution.global_importance(st, selection_from_args(args), sample_rows=args.sample)
    if args.json:
        print_json(
            {
                "model_name": result.model_name,
                "model_version": result.model_version,
                "method": result.method,
                "output_space": result.output_space,
                "rows": result.rows,
                "complete": result.complete,
                "importance": [
                    {"feature": f, "mean_abs_shap": v, "share": s}
                    for f, v, s in zip(result.features, result.mean_abs, result.shares, strict=True)
                ],
            }
        )
        return 0
    print(f"Mean |SHAP| ({result.output_space}) over {result.rows} sampled predictions:")
    for f, v, s in zip(result.features, result.mean_abs, result.shares, strict=True):
        print(f"  {f:<20} {v:.4f}  ({s:.0%})")
    return 0
