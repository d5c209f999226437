"""Fairness across groups of sensitive attributes: group metrics, disparities, the 80 % rule.

Populations (every number says which one it uses):
- selection rate, group size, demographic parity: every served prediction in the selection
  (status 'ok', prediction present). No label is needed to know who was approved.
- TPR, FPR, precision, accuracy, equalized odds: the labelled subset of those rows.

The favourable outcome is prediction >= the version's decision_threshold (for the demo:
predicted good risk, i.e. approved for pre-screening).

Groups: each sensitive attribute on its own, and every pair of them crossed (e.g. sex x age
band). Numeric attributes are banded: age with AGE_EDGES (<25, 25-34, 35-49, 50+), any
other numeric attribute at the reference data's quartiles. A missing value is its own
group, "(missing)", so rows never silently disappear from a fairness review.

Small groups: a group with fewer than MIN_GROUP_ROWS rows gets a warning instead of a
verdict and is left out of demographic parity; a group with fewer than MIN_GROUP_OUTCOMES
labelled positives or negatives is left out of equalized odds (its TPR or FPR is too
noisy, or undefined). With fewer than two groups left, the disparity is not computed.

The heavy lifting is one SQL aggregate: counts per (window, attribute values, predicted,
label). Group metrics come from fairlearn's MetricFrame over those count cells (counts as
sample weights), which equals MetricFrame on the raw rows; bootstrap intervals resample the
cells multinomially, which equals resampling rows with replacement.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
import warnings
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from sklearn.metrics import accuracy_score, precision_score

from vigil.core.contract import FeatureSpec
from vigil.core.errors import VigilError
from vigil.core.monitor.selection import Selection, log_table, reference_table
from vigil.core.monitor.windows import calendar_start, calendar_windows, window_start_sql
from vigil.core.registry import versions as registry
from vigil.core.registry.versions import ModelVersion
from vigil.core.store.connection import Store
from vigil.core.store.sql import quote_ident

MIN_GROUP_ROWS = 30
MIN_GROUP_OUTCOMES = 10  # labelled positives and negatives, each, for TPR / FPR
FOUR_FIFTHS = 0.8
BOOTSTRAP_RESAMPLES = 200
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
AGE_EDGES = (25, 35, 50)
MISSING = "(missing)"
FAIRNESS_DRIFT_TOLERANCE = 0.1  # |demographic parity ratio now - at validation|


class FairnessError(VigilError):
    """Fairness cannot be computed for this version or selection."""


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class GroupMetrics:
    """One group's numbers; None where a metric is undefined (e.g. TPR with no positives)."""

    group: str
    rows: int  # served predictions (population: all rows)
    selected: int  # of which favourable
    selection_rate: float | None
    labelled: int  # population for the metrics below
    positives: int
    negatives: int
    tpr: float | None
    fpr: float | None
    precision: float | None
    accuracy: float | None
    ratio_to_most_favoured: float | None  # selection rate / the top eligible group's
    status: str  # "pass" | "fail" | "most_favoured" | "too_small"
    selection_rate_ci: Interval | None = None
    tpr_ci: Interval | None = None
    fpr_ci: Interval | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Disparities:
    """fairlearn's between-groups disparities, over the groups large enough to judge."""

    demographic_parity_difference: float | None
    demographic_parity_ratio: float | None
    equalized_odds_difference: float | None
    equalized_odds_ratio: float | None
    dp_groups: tuple[str, ...]  # groups included in demographic parity
    eo_groups: tuple[str, ...]  # groups included in equalized odds


@dataclass(frozen=True)
class WindowFairness:
    start: dt.datetime
    end: dt.datetime
    rows: int
    labelled: int
    groups: tuple[GroupMetrics, ...]
    disparities: Disparities
    verdict: str  # "pass" | "fail" | "insufficient"


@dataclass(frozen=True)
class GroupDrift:
    group: str
    at_validation: float
    now: float | None
    change: float | None


@dataclass(frozen=True)
class ValidationComparison:
    """Fairness now against the values recorded in the registry at validation time."""

    dataset: str
    demographic_parity_ratio_at_validation: float | None
    demographic_parity_ratio_now: float | None
    change: float | None
    selection_rates: tuple[GroupDrift, ...]
    status: str  # "ok" | "drift" | "unavailable"
    text: str


@dataclass(frozen=True)
class AttributeFairness:
    name: str  # "sex", "age", "sex × age"
    key: str  # for metric names: "sex", "age", "sex_x_age"
    columns: tuple[str, ...]
    groups: tuple[GroupMetrics, ...]
    disparities: Disparities
    intervals: dict[str, Interval] = field(default_factory=dict)  # bootstrap CIs by metric
    most_favoured: str | None = None
    verdict: str = "insufficient"  # "pass" | "fail" | "insufficient"
    statements: tuple[str, ...] = ()
    windows: tuple[WindowFairness, ...] = ()
    validation: ValidationComparison | None = None


@dataclass(frozen=True)
class FairnessReport:
    model_name: str
    model_version: str
    start: dt.datetime
    end: dt.datetime
    segment: str | None
    granularity: str
    decision_threshold: float
    favourable: str  # what the favourable outcome is, in words
    rows: int
    labelled: int
    attributes: tuple[AttributeFairness, ...]
    bands: dict[str, tuple[str, ...]]  # numeric attribute -> band labels, in order
    populations: dict[str, str]
    min_group_rows: int = MIN_GROUP_ROWS
    min_group_outcomes: int = MIN_GROUP_OUTCOMES
    resamples: int = BOOTSTRAP_RESAMPLES

    def attribute(self, name: str) -> AttributeFairness:
        for item in self.attributes:
            if name in (item.name, item.key):
                return item
        raise FairnessError(
            f"No fairness attribute '{name}' for {self.model_name} {self.model_version} "
            f"(available: {', '.join(a.name for a in self.attributes)})."
        )

    def to_dict(self, *, windows: bool = True) -> dict[str, Any]:
        """JSON-ready: every group's numbers, disparities, intervals, verdicts and windows."""
        payload = asdict(self)
        payload["metrics"] = self.metric_values()
        if not windows:
            for item in payload["attributes"]:
                item.pop("windows")
        return payload

    def metric_values(self) -> dict[str, float]:
        """Flat metric name -> value, as alert rules and the CLI name them."""
        values: dict[str, float] = {}
        for item in self.attributes:
            d = item.disparities
            for name, value in (
                ("demographic_parity_ratio", d.demographic_parity_ratio),
                ("demographic_parity_difference", d.demographic_parity_difference),
                ("equalized_odds_ratio", d.equalized_odds_ratio),
                ("equalized_odds_difference", d.equalized_odds_difference),
            ):
                if value is not None:
                    values[f"{name}_{item.key}"] = value
        return values


POPULATIONS = {
    "selection_rate": "all served predictions (status ok) in the selection",
    "demographic_parity": "all served predictions (status ok) in the selection",
    "tpr": "labelled predictions",
    "fpr": "labelled predictions",
    "precision": "labelled predictions",
    "accuracy": "labelled predictions",
    "equalized_odds": "labelled predictions",
}


# ---------------------------------------------------------------- grouping in SQL


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def band_labels(edges: tuple[float, ...], integer: bool) -> tuple[str, ...]:
    """'<25', '25–34', '35–49', '50+' for integer edges (25, 35, 50)."""

    def fmt(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else f"{x:g}"

    labels = [f"<{fmt(edges[0])}"]
    for low, high in itertools.pairwise(edges):
        upper = fmt(high - 1) if integer and float(high).is_integer() else f"<{fmt(high)}"
        labels.append(f"{fmt(low)}–{upper}")
    labels.append(f"{fmt(edges[-1])}+")
    return tuple(labels)


def band_sql(column: str, edges: tuple[float, ...], labels: tuple[str, ...]) -> str:
    parts = [f"WHEN {column} IS NULL THEN '{MISSING}'"]
    for edge, label in zip(edges, labels, strict=False):
        parts.append(f"WHEN {column} < {edge!r} THEN '{label}'")
    return f"CASE {' '.join(parts)} ELSE '{labels[-1]}' END"


def _edges(con: duckdb.DuckDBPyConnection, version: ModelVersion, spec: FeatureSpec) -> tuple:
    if spec.name == "age":
        return AGE_EDGES
    row = con.execute(
        f"SELECT quantile_cont({quote_ident(spec.name)}, [0.25, 0.5, 0.75]) "
        f"FROM {reference_table(con, version.model_name)} WHERE model_version = ?",
        [version.model_version],
    ).fetchone()
    quartiles = row[0] if row and row[0] else []
    if spec.type == "integer":
        quartiles = [round(q) for q in quartiles]
    edges = tuple(sorted(set(quartiles)))
    if not edges:
        raise FairnessError(
            f"Cannot band sensitive attribute '{spec.name}': its reference data is empty."
        )
    return edges


def _group_exprs(
    con: duckdb.DuckDBPyConnection, version: ModelVersion
) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """SQL per sensitive column giving its group label, and band orders for numeric ones."""
    exprs: dict[str, str] = {}
    bands: dict[str, tuple[str, ...]] = {}
    for spec in version.sensitive:
        column = f"l.{quote_ident(spec.name)}"
        if spec.type in ("integer", "number") and not spec.categorical:
            edges = _edges(con, version, spec)
            labels = band_labels(edges, spec.type == "integer")
            exprs[spec.name] = band_sql(column, edges, labels)
            bands[spec.name] = (*labels, MISSING)
        else:
            exprs[spec.name] = f"coalesce(CAST({column} AS VARCHAR), '{MISSING}')"
    return exprs, bands


def _cells(
    con: duckdb.DuckDBPyConnection,
    selection: Selection,
    version: ModelVersion,
    granularity: str,
    exprs: dict[str, str],
) -> pd.DataFrame:
    """Counts per (window, sensitive groups, predicted, label): the only rows leaving DuckDB."""
    where, params = selection.where("l")
    groups = ", ".join(f"{expr} AS {quote_ident(name)}" for name, expr in exprs.items())
    return con.execute(
        f"""
        SELECT {window_start_sql(granularity, "l.served_at")} AS window_start, {groups},
               CAST(l.prediction >= ? AS INTEGER) AS y_pred,
               CAST(b.label AS INTEGER) AS y_true,
               count(*) AS n
        FROM {log_table(con, selection.model_name)} AS l
        LEFT JOIN labels AS b ON b.model_name = ? AND b.prediction_id = l.prediction_id
        WHERE {where} AND l.status = 'ok' AND l.prediction IS NOT NULL
        GROUP BY ALL
        """,
        [version.decision_threshold, selection.model_name, *params],
    ).df()


# ---------------------------------------------------------------- metrics from cells


def _counts(cells: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group: rows, selected, labelled, TP, FP, FN, TN."""
    labelled = cells["y_true"].notna()
    frame = pd.DataFrame(
        {
            **{c: cells[c] for c in by},
            "rows": cells["n"],
            "selected": cells["n"] * cells["y_pred"],
            "labelled": cells["n"] * labelled,
            "tp": cells["n"] * (labelled & (cells["y_true"] == 1) & (cells["y_pred"] == 1)),
            "fp": cells["n"] * (labelled & (cells["y_true"] == 0) & (cells["y_pred"] == 1)),
            "fn": cells["n"] * (labelled & (cells["y_true"] == 1) & (cells["y_pred"] == 0)),
            "tn": cells["n"] * (labelled & (cells["y_true"] == 0) & (cells["y_pred"] == 0)),
        }
    )
    return frame.groupby(by, sort=False).sum().astype(int)


def _metric_frames(cells: pd.DataFrame, control: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """fairlearn MetricFrame by group over the count cells (counts as sample weights)."""
    control_features = cells[control] if control else None
    weights = cells["n"].to_numpy(dtype=float)
    everyone = MetricFrame(
        metrics={"selection_rate": selection_rate},
        y_true=cells["y_pred"].to_numpy(),  # unused by selection_rate; labels may be absent
        y_pred=cells["y_pred"].to_numpy(),
        sensitive_features=cells["group"],
        control_features=control_features,
        sample_params={"selection_rate": {"sample_weight": weights}},
    ).by_group
    labelled = cells[cells["y_true"].notna()]
    if labelled.empty:
        return everyone, pd.DataFrame()
    metrics = {
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "precision": partial(precision_score, zero_division=np.nan),
        "accuracy": accuracy_score,
    }
    weights = labelled["n"].to_numpy(dtype=float)
    outcomes = MetricFrame(
        metrics=metrics,
        y_true=labelled["y_true"].to_numpy(dtype=int),
        y_pred=labelled["y_pred"].to_numpy(dtype=int),
        sensitive_features=labelled["group"],
        control_features=labelled[control] if control else None,
        sample_params={m: {"sample_weight": weights} for m in metrics},
    ).by_group
    return everyone, outcomes


def _rates(counts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same metrics as _metric_frames, by arithmetic on the counts: used per window,
    where a MetricFrame per (window, group) costs seconds (tests check both against
    fairlearn on the raw rows)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        everyone = pd.DataFrame({"selection_rate": counts["selected"] / counts["rows"]})
        outcomes = pd.DataFrame(
            {
                "tpr": counts["tp"] / (counts["tp"] + counts["fn"]),
                "fpr": counts["fp"] / (counts["fp"] + counts["tn"]),
                "precision": counts["tp"] / (counts["tp"] + counts["fp"]),
                "accuracy": (counts["tp"] + counts["tn"]) / counts["labelled"],
            }
        )
    return everyone, outcomes


def _value(frame: pd.DataFrame, index: Any, column: str, defined: bool) -> float | None:
    if not defined or frame.empty or index not in frame.index:
        return None
    value = frame.loc[index, column]
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _disparities(groups: list[GroupMetrics]) -> Disparities:
    dp = [g for g in groups if g.rows >= MIN_GROUP_ROWS and g.selection_rate is not None]
    eo = [
        g
        for g in groups
        if g.positives >= MIN_GROUP_OUTCOMES
        and g.negatives >= MIN_GROUP_OUTCOMES
        and g.tpr is not None
        and g.fpr is not None
    ]
    dpd = dpr = eod = eor = None
    if len(dp) >= 2:
        rates = [g.selection_rate for g in dp]
        dpd = max(rates) - min(rates)
        dpr = min(rates) / max(rates) if max(rates) > 0 else None
    if len(eo) >= 2:
        tpr = [g.tpr for g in eo]
        fpr = [g.fpr for g in eo]
        eod = max(max(tpr) - min(tpr), max(fpr) - min(fpr))
        ratios = [min(v) / max(v) if max(v) > 0 else 1.0 for v in (tpr, fpr)]
        eor = min(ratios)
    return Disparities(dpd, dpr, eod, eor, tuple(g.group for g in dp), tuple(g.group for g in eo))


def _groups(
    counts: pd.DataFrame,
    everyone: pd.DataFrame,
    outcomes: pd.DataFrame,
    order: list[str],
    prefix: tuple = (),
) -> list[GroupMetrics]:
    """GroupMetrics for each group, then four-fifths statuses against the top eligible group."""
    raw = []
    for group in order:
        key = (*prefix, group) if prefix else group
        if key not in counts.index:
            continue
        c = counts.loc[key]
        positives, negatives = int(c["tp"] + c["fn"]), int(c["fp"] + c["tn"])
        raw.append(
            dict(
                group=group,
                rows=int(c["rows"]),
                selected=int(c["selected"]),
                selection_rate=_value(everyone, key, "selection_rate", c["rows"] > 0),
                labelled=int(c["labelled"]),
                positives=positives,
                negatives=negatives,
                tpr=_value(outcomes, key, "tpr", positives > 0),
                fpr=_value(outcomes, key, "fpr", negatives > 0),
                precision=_value(outcomes, key, "precision", c["tp"] + c["fp"] > 0),
                accuracy=_value(outcomes, key, "accuracy", c["labelled"] > 0),
            )
        )
    eligible = [g for g in raw if g["rows"] >= MIN_GROUP_ROWS and g["selection_rate"] is not None]
    top = max(eligible, key=lambda g: g["selection_rate"], default=None)
    result = []
    for g in raw:
        notes = []
        if g["rows"] < MIN_GROUP_ROWS:
            notes.append(f"only {g['rows']} predictions (fewer than {MIN_GROUP_ROWS}): no verdict")
        if g["labelled"] and (
            g["positives"] < MIN_GROUP_OUTCOMES or g["negatives"] < MIN_GROUP_OUTCOMES
        ):
            notes.append(
                f"{g['positives']} labelled positives and {g['negatives']} negatives (fewer "
                f"than {MIN_GROUP_OUTCOMES} of one): left out of equalized odds"
            )
        if g["positives"] == 0 and g["labelled"]:
            notes.append("no labelled positives: TPR is undefined")
        if g not in eligible or top is None or not top["selection_rate"]:
            ratio, status = None, "too_small" if g["rows"] < MIN_GROUP_ROWS else "pass"
        else:
            ratio = g["selection_rate"] / top["selection_rate"]
            status = "most_favoured" if g is top else ("fail" if ratio < FOUR_FIFTHS else "pass")
        result.append(
            GroupMetrics(**g, ratio_to_most_favoured=ratio, status=status, warnings=tuple(notes))
        )
    return result


def _verdict(groups: list[GroupMetrics]) -> str:
    judged = [g for g in groups if g.ratio_to_most_favoured is not None]
    if len(judged) < 2:
        return "insufficient"
    return "fail" if any(g.status == "fail" for g in judged) else "pass"


# ---------------------------------------------------------------- bootstrap


def _bootstrap(
    counts: pd.DataFrame, groups: list[GroupMetrics], disparities: Disparities, seed: int, n: int
) -> tuple[dict[str, Interval], dict[str, dict[str, Interval]]]:
    """Percentile intervals from resampling rows with replacement (multinomial over cells)."""
    names = [g.group for g in groups]
    cells = counts.loc[names, ["tp", "fp", "fn", "tn"]].to_numpy(dtype=float)
    unlabelled_sel = (counts.loc[names, "selected"] - cells[:, 0] - cells[:, 1]).to_numpy()
    unlabelled_rest = (
        counts.loc[names, "rows"] - counts.loc[names, "labelled"]
    ).to_numpy() - unlabelled_sel
    table = np.column_stack([cells, unlabelled_sel, unlabelled_rest]).astype(float)
    total = table.sum()
    if total <= 0 or n <= 0:
        return {}, {}
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(int(total), (table / total).ravel(), size=n).reshape(n, *table.shape)
    tp, fp, fn, tn, us, _ = (draws[..., i] for i in range(6))
    rows = draws.sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        sel = (tp + fp + us) / rows
        tpr = tp / (tp + fn)
        fpr = fp / (fp + tn)
    alpha = (1 - CONFIDENCE) / 2 * 100

    def interval(values: np.ndarray) -> Interval | None:
        values = values[np.isfinite(values)]
        if not len(values):
            return None
        low, high = np.percentile(values, [alpha, 100 - alpha])
        return Interval(float(low), float(high))

    per_group: dict[str, dict[str, Interval]] = {}
    for i, name in enumerate(names):
        per_group[name] = {
            k: v
            for k, v in (
                ("selection_rate", interval(sel[:, i])),
                ("tpr", interval(tpr[:, i])),
                ("fpr", interval(fpr[:, i])),
            )
            if v is not None
        }
    result: dict[str, Interval] = {}
    dp_index = [names.index(g) for g in disparities.dp_groups]
    eo_index = [names.index(g) for g in disparities.eo_groups]
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices in a resample
        if len(dp_index) >= 2:
            s = sel[:, dp_index]
            hi, lo = np.nanmax(s, axis=1), np.nanmin(s, axis=1)
            for key, values in (
                ("demographic_parity_difference", hi - lo),
                ("demographic_parity_ratio", lo / hi),
            ):
                if (found := interval(values)) is not None:
                    result[key] = found
        if len(eo_index) >= 2:
            t, f = tpr[:, eo_index], fpr[:, eo_index]
            diff = np.maximum(
                np.nanmax(t, axis=1) - np.nanmin(t, axis=1),
                np.nanmax(f, axis=1) - np.nanmin(f, axis=1),
            )
            ratio = np.minimum(
                np.nanmin(t, axis=1) / np.nanmax(t, axis=1),
                np.nanmin(f, axis=1) / np.nanmax(f, axis=1),
            )
            for key, values in (
                ("equalized_odds_difference", diff),
                ("equalized_odds_ratio", ratio),
            ):
                if (found := interval(values)) is not None:
                    result[key] = found
    return result, per_group


# ---------------------------------------------------------------- validation comparison


def _validation(version: ModelVersion, item: AttributeFairness) -> ValidationComparison:
    sets = version.validation_metrics or {}
    name = "holdout" if "holdout" in sets else next(iter(sets), None)
    metrics = sets.get(name, {}) if name else {}
    recorded = metrics.get(f"demographic_parity_ratio_{item.key}")
    now = item.disparities.demographic_parity_ratio
    rates = []
    by_name = {g.group: g for g in item.groups}
    for group, metrics_group in ((g, f"selection_rate_{_key(g)}") for g in by_name):
        if metrics_group in metrics:
            current = by_name[group].selection_rate
            at_validation = float(metrics[metrics_group])
            rates.append(
                GroupDrift(
                    group,
                    at_validation,
                    current,
                    None if current is None else current - at_validation,
                )
            )
    if recorded is None and not rates:
        return ValidationComparison(
            dataset=name or "",
            demographic_parity_ratio_at_validation=None,
            demographic_parity_ratio_now=now,
            change=None,
            selection_rates=(),
            status="unavailable",
            text=f"No fairness values for '{item.name}' were recorded at validation; "
            "nothing to compare with.",
        )
    recorded = None if recorded is None else float(recorded)
    change = None if recorded is None or now is None else now - recorded
    drifted = change is not None and abs(change) > FAIRNESS_DRIFT_TOLERANCE
    if change is None:
        text = f"Selection rates by {item.name} at validation ({name}) are shown for comparison."
        status = "ok"
    else:
        text = (
            f"Demographic parity ratio for {item.name} is {now:.2f} now against {recorded:.2f} "
            f"at validation ({name}): "
            + (
                f"changed by {change:+.2f}, more than the ±{FAIRNESS_DRIFT_TOLERANCE} tolerance."
                if drifted
                else f"within ±{FAIRNESS_DRIFT_TOLERANCE}."
            )
        )
        status = "drift" if drifted else "ok"
    return ValidationComparison(
        dataset=name or "",
        demographic_parity_ratio_at_validation=recorded,
        demographic_parity_ratio_now=now,
        change=change,
        selection_rates=tuple(rates),
        status=status,
        text=text,
    )


# ---------------------------------------------------------------- statements


def statements(item: AttributeFairness, outcome: str = "Approval rate") -> tuple[str, ...]:
    """Plain-language verdicts, one per group judged against the most favoured group."""
    lines = []
    top = next((g for g in item.groups if g.status == "most_favoured"), None)
    if top is None or item.verdict == "insufficient":
        lines.append(
            f"{item.name}: not enough groups with {MIN_GROUP_ROWS} or more predictions to "
            "apply the 0.8 rule."
        )
    else:
        for g in item.groups:
            if g.status in ("pass", "fail") and g.ratio_to_most_favoured is not None:
                verdict = (
                    f"below the {FOUR_FIFTHS} rule"
                    if g.status == "fail"
                    else f"meets the {FOUR_FIFTHS} rule"
                )
                lines.append(
                    f"{outcome} for {g.group} is {g.ratio_to_most_favoured:.2f} of that for "
                    f"{top.group} ({g.selection_rate:.1%} vs {top.selection_rate:.1%}): {verdict}."
                )
    for g in item.groups:
        if g.status == "too_small":
            lines.append(f"{g.group}: {g.warnings[0]}.")
    return tuple(lines)


# ---------------------------------------------------------------- the report


def _attributes(columns: list[str], only: str | None) -> list[tuple[str, ...]]:
    combos: list[tuple[str, ...]] = [(c,) for c in columns]
    combos += list(itertools.combinations(columns, 2))
    if only is None:
        return combos
    chosen = [c for c in combos if only in (" × ".join(c), "_x_".join(c))]
    if not chosen:
        names = ", ".join(" × ".join(c) for c in combos)
        raise FairnessError(f"'{only}' is not a sensitive attribute here (available: {names}).")
    return chosen


def _label_groups(cells: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    if len(columns) == 1:
        return cells[columns[0]].astype(str)
    return cells[list(columns)].astype(str).agg(", ".join, axis=1)


def _group_order(
    cells: pd.DataFrame, columns: tuple[str, ...], bands: dict[str, tuple[str, ...]]
) -> list[str]:
    per_column = []
    for column in columns:
        present = set(cells[column].astype(str))
        if column in bands:
            per_column.append([b for b in bands[column] if b in present])
        else:
            per_column.append(
                sorted(present - {MISSING}) + ([MISSING] if MISSING in present else [])
            )
    return [", ".join(parts) for parts in itertools.product(*per_column)]


def fairness_report(
    store: Store,
    selection: Selection,
    *,
    granularity: str = "week",
    attribute: str | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> FairnessReport:
    """Group metrics, disparities, the 80 % rule and their trend for every sensitive attribute."""
    with store.connect() as con:
        version = registry.get_version(con, selection.model_name, selection.model_version)
        if version.task != "binary_classification" or version.decision_threshold is None:
            raise FairnessError(
                f"{version.model_name} {version.model_version} is a {version.task} model "
                "without a decision threshold; fairness needs a binary classifier with a decision_threshold in its "
                "metadata (the score at or above which the outcome is favourable)."
            )
        if not version.sensitive:
            raise FairnessError(
                f"{version.model_name} {version.model_version} declares no sensitive "
                'attributes; mark features with "sensitive": true in its metadata to '
                "review fairness."
            )
        exprs, bands = _group_exprs(con, version)
        combos = _attributes([s.name for s in version.sensitive], attribute)
        cells = _cells(con, selection, version, granularity, exprs)
        windows = calendar_windows(con, granularity, selection.start, selection.end)
    rows = int(cells["n"].sum()) if not cells.empty else 0
    labelled = int(cells.loc[cells["y_true"].notna(), "n"].sum()) if not cells.empty else 0
    if rows == 0:
        raise FairnessError(
            f"{selection.model_name} {selection.model_version} served no successful predictions "
            "in the selected range; widen the range or clear the segment."
        )
    cells["y_pred"] = cells["y_pred"].astype(int)
    attributes = []
    for columns in combos:
        attributes.append(
            _attribute(version, cells, columns, bands, windows, granularity, resamples, seed)
        )
    return FairnessReport(
        model_name=version.model_name,
        model_version=version.model_version,
        start=selection.start,
        end=selection.end,
        segment=selection.segment.label() if selection.segment else None,
        granularity=granularity,
        decision_threshold=float(version.decision_threshold),
        favourable=f"prediction >= {version.decision_threshold:g}"
        + (f" (predicted {version.positive_label})" if version.positive_label else ""),
        rows=rows,
        labelled=labelled,
        attributes=tuple(attributes),
        bands={k: tuple(b for b in v if b != MISSING) for k, v in bands.items()},
        populations=dict(POPULATIONS),
        resamples=resamples,
    )


def _attribute(
    version: ModelVersion,
    cells: pd.DataFrame,
    columns: tuple[str, ...],
    bands: dict[str, tuple[str, ...]],
    windows: list,
    granularity: str,
    resamples: int,
    seed: int,
) -> AttributeFairness:
    cells = cells.assign(group=_label_groups(cells, columns))
    order = _group_order(cells, columns, bands)
    counts = _counts(cells, ["group"])
    everyone, outcomes = _metric_frames(cells, None)
    groups = _groups(counts, everyone, outcomes, order)
    disparities = _disparities(groups)
    intervals, per_group = _bootstrap(counts, groups, disparities, seed, resamples)
    groups = [
        replace(
            g,
            selection_rate_ci=per_group.get(g.group, {}).get("selection_rate"),
            tpr_ci=per_group.get(g.group, {}).get("tpr"),
            fpr_ci=per_group.get(g.group, {}).get("fpr"),
        )
        for g in groups
    ]
    item = AttributeFairness(
        name=" × ".join(columns),
        key="_x_".join(_key(c) for c in columns),
        columns=columns,
        groups=tuple(groups),
        disparities=disparities,
        intervals=intervals,
        most_favoured=next((g.group for g in groups if g.status == "most_favoured"), None),
        verdict=_verdict(groups),
    )
    item = replace(
        item, statements=statements(item), windows=_windows(cells, order, windows, granularity)
    )
    return replace(item, validation=_validation(version, item))


def _windows(
    cells: pd.DataFrame, order: list[str], windows: list, granularity: str
) -> tuple[WindowFairness, ...]:
    counts = _counts(cells, ["window_start", "group"])
    everyone, outcomes = _rates(counts)
    result = []
    starts = set(cells["window_start"])
    for window in windows:
        key = pd.Timestamp(calendar_start(window.start, granularity))
        if key not in starts:
            result.append(
                WindowFairness(window.start, window.end, 0, 0, (), _disparities([]), "insufficient")
            )
            continue
        groups = _groups(counts, everyone, outcomes, order, prefix=(key,))
        result.append(
            WindowFairness(
                start=window.start,
                end=window.end,
                rows=sum(g.rows for g in groups),
                labelled=sum(g.labelled for g in groups),
                groups=tuple(groups),
                disparities=_disparities(groups),
                verdict=_verdict(groups),
            )
        )
    return tuple(result)


# ---------------------------------------------------------------- alert metrics

# Per-attribute metric names registered for alert rules. The registry is global (not per
# model), so names are registered for these attribute keys (the demo's: sex, age band and
# their crossing); a version without the attribute reports "no data". The unsuffixed names
# watch the worst value over the version's single attributes.
ALERT_ATTRIBUTE_KEYS = ("sex", "age", "sex_x_age")
ALERT_METRICS = {
    "demographic_parity_ratio": ("Demographic parity ratio", True),
    "demographic_parity_difference": ("Demographic parity difference", False),
    "equalized_odds_ratio": ("Equalized odds ratio", True),
    "equalized_odds_difference": ("Equalized odds difference", False),
}


def _metric_value(
    report: FairnessReport, metric: str, key: str | None, higher_is_better: bool
) -> tuple[float | None, str]:
    if key is not None:
        item = next((a for a in report.attributes if a.key == key), None)
        if item is None:
            return None, f"no sensitive attribute '{key}'"
        candidates = [item]
    else:
        candidates = [a for a in report.attributes if len(a.columns) == 1]
    values = [getattr(a.disparities, metric) for a in candidates]
    values = [v for v in values if v is not None]
    if not values:
        return None, (
            f"fewer than two groups with {MIN_GROUP_ROWS}+ predictions"
            if metric.startswith("demographic")
            else f"fewer than two groups with {MIN_GROUP_OUTCOMES}+ labelled outcomes each"
        )
    return (min(values) if higher_is_better else max(values)), ""


def _alert_provider(metric: str, key: str | None, higher_is_better: bool):
    def report_for(store: Store, selection: Selection, granularity: str) -> FairnessReport | None:
        try:
            return fairness_report(
                store, selection, granularity=granularity, attribute=key, resamples=0
            )
        except FairnessError:
            return None

    def one(store: Store, selection: Selection) -> float | None:
        report = report_for(store, selection, "month")
        return None if report is None else _metric_value(report, metric, key, higher_is_better)[0]

    def many(
        store: Store, selection: Selection, granularity: str
    ) -> dict[dt.datetime, tuple[float | None, str]]:
        report = report_for(store, selection, granularity)
        if report is None:
            return {}
        out: dict[dt.datetime, tuple[float | None, str]] = {}
        by_window: dict[dt.datetime, list[AttributeFairness]] = {}
        for item in report.attributes:
            for window in item.windows:
                start = calendar_start(window.start, granularity)
                by_window.setdefault(start, []).append(
                    replace(item, disparities=window.disparities)
                )
        for start, items in by_window.items():
            windowed = replace(report, attributes=tuple(items))
            out[start] = _metric_value(windowed, metric, key, higher_is_better)
        return out

    return one, many


def alert_metrics() -> list[dict[str, Any]]:
    """register_metric keyword arguments for every fairness metric (core.alerts' hook shape)."""
    specs = []
    for metric, (label, higher) in ALERT_METRICS.items():
        for key in (None, *ALERT_ATTRIBUTE_KEYS):
            one, many = _alert_provider(metric, key, higher)
            specs.append(
                {
                    "name": metric if key is None else f"{metric}_{key}",
                    "provider": one,
                    "windowed": many,
                    "label": label + (" (worst attribute)" if key is None else f" ({key})"),
                    "unit": "ratio" if metric.endswith("ratio") else "difference",
                    "higher_is_better": higher,
                    "source": "fairness",
                    "tasks": ("binary_classification",),
                }
            )
    return specs


def register_alert_metrics() -> None:
    """Offer the fairness metrics to alert rules through core.alerts' public registry."""
    try:
        from vigil.core.alerts import engine as alerts
    except ImportError:  # the alerts module is optional for fairness itself
        return
    for spec in alert_metrics():
        alerts.register_metric(**spec, replace_existing=True)
