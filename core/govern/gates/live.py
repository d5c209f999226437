"""The live challenger gate's numbers: candidate against champion on live traffic.

Both versions are judged on labelled live traffic in the same window (30 days up to the
model's latest logged prediction). Where both scored the same requests (shadow traffic) the
comparison is paired, request by request; otherwise (canary, A/B) each version is judged on
its own requests over the same span, unpaired. Statistics come from core.stats.comparison:
DeLong for ROC AUC, McNemar for accuracy, bootstrap for MAE and RMSE.

Which rows are the same request:
1. the request id the gateway records for every prediction it logs (`serve_predictions`);
2. otherwise, as a documented fallback until the log contract carries a request key:
   prediction ids that differ only by a version suffix (`<id>-v<version>`, as the demo
   writes, or `<id>:<version>`, as the gateway names a shadow row), served within a minute of
   each other. The candidate's id must carry its suffix, so plain ids of two unrelated
   streams never pair by accident.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum

import duckdb
import numpy as np
import pandas as pd

from vigil.core.govern.gates.specs import DRIFT_WINDOW
from vigil.core.monitor.selection import log_table
from vigil.core.registry.versions import ModelVersion
from vigil.core.stats import comparison as stats
from vigil.core.stats.comparison import ComparisonVerdict, Decision, FloatArray
from vigil.core.store.pending import LABELS

PAIR_SECONDS = 60  # a fallback pair must be served within this many seconds
PAIRED_SHARE = 0.5  # paired when at least this share of the candidate's rows has a pair


class Pairing(StrEnum):
    """How candidate and champion rows were matched."""

    REQUEST_ID = "request id logged by the gateway"
    ID_SUFFIX = "prediction ids that differ only by the version suffix"
    NONE = "none: each version on its own requests"


@dataclass(frozen=True)
class MetricComparison:
    """One metric's comparison and its reading against the margin."""

    metric: str
    label: str
    decision: Decision
    too_few: str | None = None  # why no test ran (too few labelled rows)
    labels_needed: int | None = None


@dataclass(frozen=True)
class LiveComparison:
    """Everything the live challenger gate saw."""

    candidate: str
    champion: str
    start: dt.datetime
    end: dt.datetime
    pairing: Pairing
    candidate_rows: int  # status-ok predictions of the candidate in the window
    champion_rows: int  # of the champion, in the span compared (all of it when paired)
    pairs: int  # candidate rows matched with a champion row
    labelled: int  # labelled rows compared (pairs when paired, the candidate's otherwise)
    margin: float
    metrics: tuple[MetricComparison, ...]

    @property
    def paired(self) -> bool:
        return self.pairing is not Pairing.NONE

    @property
    def verdict(self) -> ComparisonVerdict:
        verdicts = [m.decision.verdict for m in self.metrics]
        if ComparisonVerdict.FAIL in verdicts:
            return ComparisonVerdict.FAIL
        if verdicts and all(v is ComparisonVerdict.PASS for v in verdicts):
            return ComparisonVerdict.PASS
        return ComparisonVerdict.INCONCLUSIVE

    @property
    def labels_needed(self) -> int | None:
        """More labelled rows until every metric has a verdict (None when it has)."""
        needed = [m.labels_needed for m in self.metrics if m.labels_needed is not None]
        return max(needed) if needed else None

    @property
    def traffic_word(self) -> str:
        return "shadow" if self.paired else "live"


METRIC_LABELS = {"roc_auc": "ROC AUC", "accuracy": "accuracy", "mae": "MAE", "rmse": "RMSE"}


def comparison_window(
    con: duckdb.DuckDBPyConnection, model_name: str
) -> tuple[dt.datetime, dt.datetime] | None:
    """The 30 whole UTC days up to the model's latest logged prediction (any version), or
    None when nothing was logged: the window the Review page compares versions on."""
    row = con.execute(f"SELECT max(served_at) FROM {log_table(con, model_name)}").fetchone()
    if row is None or row[0] is None:
        return None
    end = dt.datetime.combine(row[0].date() + dt.timedelta(days=1), dt.time())
    return end - DRIFT_WINDOW, end


def _version_suffix(version: str) -> str:
    """A regular expression for a version suffix at the end of an id."""
    escaped = "".join(f"\\{c}" if not c.isalnum() else c for c in version)
    return f"(-v|:){escaped}$"


def _rows_sql(logs: str, alias: str) -> str:
    return (
        f"SELECT {alias}.prediction_id, {alias}.served_at, {alias}.prediction FROM {logs} "
        f"{alias} WHERE {alias}.model_version = ? AND {alias}.served_at >= ? "
        f"AND {alias}.served_at < ? AND {alias}.status = 'ok' AND {alias}.prediction IS NOT NULL"
    )


def _pairs(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    candidate: str,
    champion: str,
    window: tuple[dt.datetime, dt.datetime],
    pairing: Pairing,
) -> pd.DataFrame:
    """Candidate rows with their champion row (one each), and the pair's label if any."""
    logs = log_table(con, model_name)
    if pairing is Pairing.REQUEST_ID:
        join = (
            "JOIN serve_predictions sc ON sc.model_name = ? AND sc.prediction_id = c.prediction_id "
            "JOIN serve_predictions sh ON sh.model_name = ? AND sh.request_id = sc.request_id "
            "AND sh.prediction_id = h.prediction_id"
        )
        on, extra = "TRUE", [model_name, model_name]
    else:
        join = ""
        on = (
            "regexp_matches(c.prediction_id, ?) AND regexp_replace(c.prediction_id, ?, '') = "
            "regexp_replace(h.prediction_id, ?, '') "
            f"AND abs(epoch(c.served_at) - epoch(h.served_at)) <= {PAIR_SECONDS}"
        )
        extra = [_version_suffix(candidate), _version_suffix(candidate), _version_suffix(champion)]
    return con.execute(
        f"""
        WITH c AS ({_rows_sql(logs, "c")}), h AS ({_rows_sql(logs, "h")}),
        lb AS (SELECT DISTINCT ON (prediction_id) prediction_id, label FROM {LABELS}
               WHERE model_name = ?)
        SELECT c.prediction AS candidate, h.prediction AS champion,
               coalesce(lh.label, lc.label) AS label
        FROM c JOIN h ON {on} {join}
        LEFT JOIN lb lc ON lc.prediction_id = c.prediction_id
        LEFT JOIN lb lh ON lh.prediction_id = h.prediction_id
        QUALIFY row_number() OVER (
            PARTITION BY c.prediction_id
            ORDER BY abs(epoch(h.served_at) - epoch(c.served_at)), h.prediction_id) = 1
        """,
        [candidate, *window, champion, *window, model_name, *extra],
    ).df()


def _own_rows(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    version: str,
    start: dt.datetime,
    end: dt.datetime,
) -> pd.DataFrame:
    """A version's status-ok rows in [start, end) with their labels (None when unlabelled)."""
    logs = log_table(con, model_name)
    return con.execute(
        f"""
        WITH c AS ({_rows_sql(logs, "c")}),
        lb AS (SELECT DISTINCT ON (prediction_id) prediction_id, label FROM {LABELS}
               WHERE model_name = ?)
        SELECT c.served_at, c.prediction, lb.label FROM c
        LEFT JOIN lb ON lb.prediction_id = c.prediction_id
        """,
        [version, start, end, model_name],
    ).df()


def _labels_for_minimum(y: FloatArray, binary: bool) -> int:
    """More labelled rows until the sample reaches the minimum a test needs, at the rates
    seen so far (30 rows; for a classifier, 30 of each outcome)."""
    minimum, n = stats.MIN_ROWS_PER_SIDE, len(y)
    if not binary:
        return max(minimum - n, 1)
    positives = int(np.sum(y == 1))
    needed = max(minimum - n, 1)
    for count in (positives, n - positives):
        if count < minimum:
            rate = count / n if n and count else 1 / max(n, 1) if n else 1.0
            needed = max(needed, math.ceil((minimum - count) / rate))
    return needed


def _accuracy(threshold: float) -> stats.Metric:
    def accuracy(y: FloatArray, score: FloatArray) -> float:
        return float(np.mean((score >= threshold).astype(float) == y))

    return accuracy


def _mae(y: FloatArray, score: FloatArray) -> float:
    return float(np.mean(np.abs(score - y)))


def _rmse(y: FloatArray, score: FloatArray) -> float:
    return float(np.sqrt(np.mean((score - y) ** 2)))


class NothingToCompare(Exception):
    """The gate cannot apply: no live traffic of the candidate to compare (says why)."""


def _decided(metric: str, comparison: stats.Comparison, margin: float) -> MetricComparison:
    decision = stats.decide(comparison, margin=margin)
    return MetricComparison(metric, METRIC_LABELS[metric], decision, None, decision.labels_needed)


def _too_few(metric: str, reason: str, needed: int, margin: float) -> MetricComparison:
    decision = Decision(None, ComparisonVerdict.INCONCLUSIVE, margin, needed, reason)
    return MetricComparison(metric, METRIC_LABELS[metric], decision, reason, needed)


@dataclass(frozen=True)
class _Sample:
    """Labelled rows to compare: one label array when paired, one per version otherwise."""

    y_candidate: FloatArray
    candidate: FloatArray
    y_champion: FloatArray
    champion: FloatArray
    paired: bool


def _binary(
    sample: _Sample, thresholds: tuple[float, float], margin: float
) -> tuple[MetricComparison, ...]:
    s = sample
    sides = [s.y_candidate] if s.paired else [s.y_candidate, s.y_champion]
    for y in sides:
        reason = stats.too_few_binary(y)
        if reason is not None:
            needed = _labels_for_minimum(y, binary=True)
            return tuple(_too_few(m, reason, needed, margin) for m in ("roc_auc", "accuracy"))
    label_c = (s.candidate >= thresholds[0]).astype(np.float64)
    label_h = (s.champion >= thresholds[1]).astype(np.float64)
    if s.paired:
        auc = stats.delong_paired(s.y_candidate, s.candidate, s.champion)
        accuracy = stats.mcnemar_accuracy(s.y_candidate, label_c, label_h)
    else:
        auc = stats.delong_unpaired(s.y_candidate, s.candidate, s.y_champion, s.champion)
        accuracy = stats.unpaired_bootstrap(
            "accuracy", _hit_rate, s.y_candidate, label_c, s.y_champion, label_h,
            higher_is_better=True,
        )  # fmt: skip
    return _decided("roc_auc", auc, margin), _decided("accuracy", accuracy, margin)


def _hit_rate(y: FloatArray, predicted: FloatArray) -> float:
    return float(np.mean(predicted == y))


def _regression(sample: _Sample, margin: float) -> tuple[MetricComparison, ...]:
    """MAE and RMSE; the margin is relative to the champion's value (0.01: 1 % worse)."""
    s = sample
    sides = [s.y_candidate] if s.paired else [s.y_candidate, s.y_champion]
    for y in sides:
        if len(y) < stats.MIN_ROWS_PER_SIDE:
            reason = f"{len(y)} labelled rows; at least {stats.MIN_ROWS_PER_SIDE} are needed"
            needed = _labels_for_minimum(y, binary=False)
            return tuple(_too_few(m, reason, needed, margin) for m in ("mae", "rmse"))
    out = []
    for metric, fn in (("mae", _mae), ("rmse", _rmse)):
        if s.paired:
            found = stats.paired_bootstrap(
                metric, fn, s.y_candidate, s.candidate, s.champion, higher_is_better=False
            )
        else:
            found = stats.unpaired_bootstrap(
                metric, fn, s.y_candidate, s.candidate, s.y_champion, s.champion,
                higher_is_better=False,
            )  # fmt: skip
        out.append(_decided(metric, found, margin * abs(found.champion)))
    return tuple(out)


def _arrays(frame: pd.DataFrame, *columns: str) -> list[FloatArray]:
    return [frame[c].to_numpy(dtype=np.float64) for c in columns]


def _sample(
    con: duckdb.DuckDBPyConnection,
    candidate: ModelVersion,
    champion: ModelVersion,
    window: tuple[dt.datetime, dt.datetime],
    own: pd.DataFrame,
) -> tuple[_Sample, Pairing, int, int]:
    """The labelled rows to compare, how they were matched, pairs found, champion rows."""
    model = candidate.model_name
    for pairing in (Pairing.REQUEST_ID, Pairing.ID_SUFFIX):
        pairs = _pairs(con, model, candidate.model_version, champion.model_version, window, pairing)
        if len(pairs) and len(pairs) >= PAIRED_SHARE * len(own):
            labelled = pairs[pairs["label"].notna()]
            y, c, h = _arrays(labelled, "label", "candidate", "champion")
            return _Sample(y, c, y, h, True), pairing, len(pairs), len(pairs)
    first, last = own["served_at"].min(), own["served_at"].max()
    theirs = _own_rows(
        con, model, champion.model_version, first, last + dt.timedelta(microseconds=1)
    )
    mine, other = own[own["label"].notna()], theirs[theirs["label"].notna()]
    y_c, s_c = _arrays(mine, "label", "prediction")
    y_h, s_h = _arrays(other, "label", "prediction")
    return _Sample(y_c, s_c, y_h, s_h, False), Pairing.NONE, 0, len(theirs)


def compare_live(
    con: duckdb.DuckDBPyConnection,
    candidate: ModelVersion,
    champion: ModelVersion,
    margin: float,
) -> LiveComparison:
    """Candidate against champion on live traffic; NothingToCompare when it cannot apply."""
    window = comparison_window(con, candidate.model_name)
    if window is None:
        raise NothingToCompare(f"{candidate.model_name} has no logged traffic yet.")
    own = _own_rows(con, candidate.model_name, candidate.model_version, *window)
    if own.empty:
        raise NothingToCompare(
            f"{candidate.model_version} served no live traffic (shadow, canary or A/B) in the "
            f"30 days to {window[1]:%Y-%m-%d}; run it in shadow beside the champion to compare."
        )
    sample, pairing, pairs, champion_rows = _sample(con, candidate, champion, window, own)
    if candidate.task == "binary_classification":
        thresholds = (candidate.decision_threshold or 0.5, champion.decision_threshold or 0.5)
        metrics = _binary(sample, thresholds, margin)
    else:
        metrics = _regression(sample, margin)
    return LiveComparison(
        candidate=candidate.model_version,
        champion=champion.model_version,
        start=window[0],
        end=window[1],
        pairing=pairing,
        candidate_rows=len(own),
        champion_rows=champion_rows,
        pairs=pairs,
        labelled=len(sample.y_candidate),
        margin=margin,
        metrics=metrics,
    )


def _p(value: float | None) -> str:
    if value is None:
        return ""
    return ", p < 0.001" if value < 0.001 else f", p = {value:.2g}"


def _figures(m: MetricComparison) -> str:
    """'ROC AUC 0.675 vs 0.680, difference -0.005 (95 % CI -0.023 to +0.014, DeLong test
    (paired), p = 0.63)', or why no test ran."""
    c = m.decision.comparison
    if c is None:
        return f"{m.label}: {m.too_few}"
    return (
        f"{m.label} {c.candidate:.3f} vs {c.champion:.3f}, difference {c.difference:+.3f} "
        f"(95 % CI {c.ci_low:+.3f} to {c.ci_high:+.3f}, {c.method}{_p(c.p_value)})"
    )


def describe(live: LiveComparison) -> str:
    """The gate's detail in words: the verdict, the numbers behind it and the margin."""
    rows = (
        f"the same {live.labelled:,} labelled {live.traffic_word} requests"
        if live.paired
        else f"{live.labelled:,} labelled live predictions of {live.candidate} against those "
        f"of {live.champion} over the same days"
    )
    figures = "; ".join(_figures(m) for m in live.metrics)
    verdict = live.verdict
    if verdict is ComparisonVerdict.FAIL:
        worse = ", ".join(
            m.label for m in live.metrics if m.decision.verdict is ComparisonVerdict.FAIL
        )
        return (
            f"{live.candidate} is worse than champion {live.champion} on {worse} by more than "
            f"the margin of {live.margin:g}, significantly, on {rows}: {figures}."
        )
    if verdict is ComparisonVerdict.PASS:
        return (
            f"{live.candidate} is not worse than champion {live.champion} by more than the "
            f"margin of {live.margin:g} on {rows}: {figures}."
        )
    needed = live.labels_needed
    more = f"about {needed:,} more labelled requests needed" if needed else "more labels needed"
    return (
        f"Not enough labelled {live.traffic_word} traffic to tell whether {live.candidate} is "
        f"worse than champion {live.champion} by more than {live.margin:g}: {more}. On {rows}: "
        f"{figures}."
    )
