"""Commands: fairness (groups, disparities, the 80 % rule) and explain (SHAP)."""

from __future__ import annotations

import argparse

from vigil.cli.command import Command
from vigil.cli.commands.common import (
    add_json_argument,
    add_range_arguments,
    print_json,
    selection_from_args,
    store,
)
from vigil.cli.exits import Exit
from vigil.core.errors import VigilError
from vigil.core.explain import importance
from vigil.core.explain.importance import GlobalImportance
from vigil.core.explain.local import LocalExplanation
from vigil.core.monitor.fairness.report import fairness_report
from vigil.core.monitor.fairness.results import FairnessReport
from vigil.core.monitor.windows import CALENDAR_GRANULARITIES
from vigil.core.responsible import reasons
from vigil.core.responsible.reasons import Reasons
from vigil.core.results import to_jsonable


def _fairness_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    p.add_argument("--version", required=True)
    add_range_arguments(p, required=True)
    p.add_argument("--attribute", help="one attribute, e.g. sex, age or 'sex × age' (sex_x_age)")
    p.add_argument("--granularity", default="week", choices=CALENDAR_GRANULARITIES)
    p.add_argument("--resamples", type=int, default=200, help="bootstrap resamples (0: none)")
    p.add_argument("--no-windows", action="store_true", help="omit the per-window trend")
    add_json_argument(p)


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def _print_fairness(args: argparse.Namespace, report: FairnessReport) -> None:
    print(
        f"{report.model_name} {report.model_version}: {args.start} – {args.end}, "
        f"{report.rows} predictions ({report.labelled} labelled); favourable: {report.favourable}"
    )
    for item in report.attributes:
        d = item.disparities
        print(f"\n{item.name}: {str(item.verdict).upper()}")
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


def _report_json(report: FairnessReport, windows: bool) -> object:
    """The fairness report as `vigil fairness --json` prints it: every field, the flat metric
    values, and without --no-windows each attribute's windows."""
    payload = to_jsonable(report)
    payload["metrics"] = report.metric_values()
    if not windows:
        for item in payload["attributes"]:
            item.pop("windows")
    return payload


def cmd_fairness(args: argparse.Namespace) -> int:
    st = store()
    report = fairness_report(
        st,
        selection_from_args(args, st),
        granularity=args.granularity,
        attribute=args.attribute,
        resamples=args.resamples,
    )
    if args.json:
        print_json(_report_json(report, windows=not args.no_windows))
    else:
        _print_fairness(args, report)
    return Exit.OK


def _explain_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    p.add_argument("--version", help="the version (default: the one that served the id)")
    p.add_argument("--prediction-id", help="a logged prediction_id")
    add_range_arguments(p, required=False)
    p.add_argument("--sample", type=int, default=importance.GLOBAL_SAMPLE_ROWS)
    add_json_argument(p)


def _print_local(result: LocalExplanation) -> None:
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


def _print_reasons(why: Reasons) -> None:
    print(f"  {why.decision}")
    for title, items in (("Lowered the score:", why.lowered), ("Raised the score:", why.raised)):
        print(f"  {title}")
        for r in items or ():
            print(f"    - {r.sentence}")
        if not items:
            print("    (none)")


def _print_global(result: GlobalImportance, as_json: bool) -> None:
    rows = zip(result.features, result.mean_abs, result.shares, strict=True)
    if as_json:
        print_json(
            {
                "model_name": result.model_name,
                "model_version": result.model_version,
                "method": str(result.method),
                "output_space": str(result.output_space),
                "rows": result.rows,
                "complete": result.complete,
                "importance": [{"feature": f, "mean_abs_shap": v, "share": s} for f, v, s in rows],
            }
        )
        return
    print(f"Mean |SHAP| ({result.output_space}) over {result.rows} sampled predictions:")
    for f, v, s in rows:
        print(f"  {f:<20} {v:.4f}  ({s:.0%})")


def cmd_explain(args: argparse.Namespace) -> int:
    st = store()
    if args.prediction_id:
        explained, why = reasons.prediction_reasons(
            st, args.model, args.prediction_id, model_version=args.version
        )
        if args.json:
            print_json({**to_jsonable(explained), "reasons": to_jsonable(why)})
        else:
            _print_local(explained)
            _print_reasons(why)
        return Exit.OK
    if not (args.version and args.start and args.end):
        raise VigilError(
            "Give --prediction-id ID to explain one prediction, or --version, --from and --to "
            "for global feature importance."
        )
    ranked = importance.global_importance(
        st, selection_from_args(args, st), sample_rows=args.sample
    )
    _print_global(ranked, args.json)
    return Exit.OK


COMMANDS = (
    Command(
        "fairness",
        "fairness across groups of the sensitive attributes (fairlearn)",
        _fairness_arguments,
        cmd_fairness,
        description="Selection rate, TPR, FPR, precision and accuracy per group of every "
        "sensitive attribute (and their crossings), demographic parity and equalized odds "
        "with bootstrap intervals, and the four-fifths (80 %) rule. Selection rates use every "
        "served prediction; label-based metrics use the labelled ones. Exit code 0 whatever "
        "the verdict; alert rules on fairness metrics fail pipelines (`vigil check`).",
    ),
    Command(
        "explain",
        "SHAP explanation of one logged prediction, or global feature importance",
        _explain_arguments,
        cmd_explain,
        description="With --prediction-id: why that prediction came out as it did (base value "
        "+ one contribution per feature = the model output), and its principal reasons in words "
        "(the factors that lowered and raised the score, with the metadata's reason texts). With --from/--to instead: mean "
        "|SHAP| per feature over a seeded sample of the version's predictions.",
    ),
)
