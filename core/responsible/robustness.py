"""Robustness of a version's decisions on a sample of live traffic, before it is approved.

Two checks, both run on the registered (hash-checked) artifact:

- decision flips: each numeric input moved up and down by a small amount (a fraction of its
  standard deviation in the reference data; integers by at least one), and each categorical
  input with a declared `order` moved to its neighbouring categories, one feature at a time.
  The flip rate is the share of sampled rows whose decision (score >= decision threshold)
  changes under at least one of these moves. A high rate means many applicants sit where a
  rounding of their inputs decides their outcome;
- declared monotonic relations (feature metadata `monotonic: "increasing" | "decreasing"`):
  each sampled row is scored along a grid of the feature's values (the reference data's
  deciles, or the declared order of categories) with its other inputs held; a step against
  the declared direction by more than TOLERANCE is a violation.

`check_version` is what the promotion gates call: one run gives two verdicts, the flip rate
against its threshold, and the share of rows that break a declared relation against its own
(0 by default: no row may). The report keeps the rows that show each failure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from vigil.core import settings
from vigil.core.contract import FeatureSpec
from vigil.core.errors import VigilError
from vigil.core.registry import artifacts
from vigil.core.registry import versions as registry
from vigil.core.registry.versions import ModelVersion
from vigil.core.responsible.perturb import (
    FlipRow,
    MonotonicViolation,
    ScoreFn,
    Scorer,
    decision_flips,
    monotonic_violations,
)
from vigil.core.responsible.traffic import Stats, reference_stats, traffic_sample
from vigil.core.store.connection import Store

STEP = 0.05  # numeric moves: 5 % of the feature's standard deviation (VIGIL_ROBUSTNESS_STEP)
FLIP_THRESHOLD = 0.10  # the flip gate fails when more than 10 % of sampled decisions flip
MONOTONIC_THRESHOLD = 0.0  # the monotonic gate fails when any sampled row breaks a relation
SAMPLE_ROWS = 500  # VIGIL_ROBUSTNESS_ROWS
TRAFFIC_DAYS = 30
TOLERANCE = 1e-6  # score steps smaller than this are float noise, not a violation
SHOWN_ROWS = 50  # failing rows kept in the report (counts cover every row)


class NothingToCheck(VigilError):
    """No live traffic to check the version on."""


@dataclass(frozen=True)
class FeatureFlips:
    feature: str
    move: str  # what was moved, in words: "± 142.3 (5 % of its standard deviation)"
    rows: int  # rows that could be moved
    flips: int
    flip_rate: float | None


@dataclass(frozen=True)
class MonotonicCheck:
    feature: str
    direction: str  # "increasing" | "decreasing"
    grid: tuple[str, ...]
    rows: int
    violations: int
    worst_step: float  # the largest move against the declared direction (0 if none)


@dataclass(frozen=True)
class RobustnessReport:
    model_name: str
    model_version: str
    traffic_version: str  # whose live traffic was sampled (the champion's for a candidate)
    start: dt.datetime
    end: dt.datetime
    rows: int
    decision_threshold: float | None
    step: float
    flip_threshold: float
    flip_rate: float | None  # None without a decision threshold (regression)
    flipped_rows: int
    features: tuple[FeatureFlips, ...]
    flips: tuple[FlipRow, ...]  # up to SHOWN_ROWS per feature
    monotonic: tuple[MonotonicCheck, ...]
    violations: tuple[MonotonicViolation, ...]  # up to SHOWN_ROWS per feature, worst first
    monotonic_threshold: float
    violation_rate: float | None  # rows breaking any declared relation; None: none declared
    flips_passed: bool
    monotonic_passed: bool
    flip_detail: str
    monotonic_detail: str

    @property
    def passed(self) -> bool:
        return self.flips_passed and self.monotonic_passed


@dataclass(frozen=True)
class Checked:
    """Both checks on one frame of rows."""

    features: tuple[FeatureFlips, ...]
    flips: tuple[FlipRow, ...]
    flipped_rows: int
    monotonic: tuple[MonotonicCheck, ...]
    violations: tuple[MonotonicViolation, ...]
    violating_rows: int  # rows breaking at least one declared relation


def _flip_detail(rate: float | None, rows: int, step: float, threshold: float) -> str:
    if rate is None:
        return "No decision threshold (a regression model): no decisions to flip"
    verb = "above" if rate > threshold else "within"
    return (
        f"{rate:.1%} of {rows} sampled decisions flip when one input moves by {step:.0%} of "
        "its standard deviation (integers by at least one) or to a neighbouring declared "
        f"category ({verb} the {threshold:.0%} allowed)"
    )


def _monotonic_detail(checked: Checked) -> str:
    """Each declared relation: holds, or where it breaks, with the worst example row."""
    if not checked.monotonic:
        return "No monotonic relation is declared in the version's metadata"
    parts = []
    for check in checked.monotonic:
        example = next((v for v in checked.violations if v.feature == check.feature), None)
        if example is None:
            parts.append(f"{check.feature} declared {check.direction}: holds on every row")
            continue
        parts.append(
            f"{check.feature} declared {check.direction}: violated on {check.violations} of "
            f"{check.rows} rows (e.g. {example.prediction_id}: {example.from_value} → "
            f"{example.to_value} moves the score {example.score_from:.3f} → "
            f"{example.score_to:.3f})"
        )
    return "; ".join(parts)


def check_frame(
    scorer: ScoreFn,
    frame: pd.DataFrame,
    features: tuple[FeatureSpec, ...],
    stats: Stats,
    decision_threshold: float | None,
    *,
    step: float = STEP,
) -> Checked:
    """Both checks on `frame` (rows with prediction_id and the model inputs)."""
    base = scorer(frame)
    flips: list[FeatureFlips] = []
    flip_rows: list[FlipRow] = []
    flipped = np.zeros(len(frame), dtype=bool)
    for spec in features:
        if not spec.model_input or decision_threshold is None:
            continue
        result = decision_flips(scorer, frame, base, spec, stats, decision_threshold, step)
        if result is None:
            continue
        move, movable, mask, rows = result
        flipped |= mask
        flip_rows.extend(rows[:SHOWN_ROWS])
        rate = float(mask.sum() / movable) if movable else None
        flips.append(FeatureFlips(spec.name, move, movable, int(mask.sum()), rate))
    checks: list[MonotonicCheck] = []
    violations: list[MonotonicViolation] = []
    violating: set[str] = set()
    for spec in features:
        if spec.monotonic and spec.model_input:
            grid, count, worst, found = monotonic_violations(scorer, frame, spec, stats, TOLERANCE)
            checks.append(MonotonicCheck(spec.name, spec.monotonic, grid, len(frame), count, worst))
            violations.extend(found[:SHOWN_ROWS])
            violating |= {v.prediction_id for v in found}
    return Checked(
        features=tuple(flips),
        flips=tuple(flip_rows),
        flipped_rows=int(flipped.sum()),
        monotonic=tuple(checks),
        violations=tuple(violations),
        violating_rows=len(violating),
    )


def check_version(
    con: duckdb.DuckDBPyConnection,
    home: Path,
    version: ModelVersion,
    *,
    flip_threshold: float = FLIP_THRESHOLD,
    monotonic_threshold: float = MONOTONIC_THRESHOLD,
    step: float | None = None,
    rows: int | None = None,
    days: int = TRAFFIC_DAYS,
    seed: int = 0,
) -> RobustnessReport:
    """Both checks for one version on a seeded sample of its live traffic (or, for a
    candidate without traffic yet, the champion's), the last `days` days of it, on the
    caller's connection (the promotion gates run inside one transaction). `step` and `rows`
    default to the settings robustness_step and robustness_rows."""
    step = float(settings.get("robustness_step")) if step is None else step
    rows = int(settings.get("robustness_rows")) if rows is None else rows
    sample = traffic_sample(con, version, rows=rows, days=days, seed=seed)
    if sample is None:
        raise NothingToCheck(
            f"{version.model_name} has no live traffic to check {version.model_version} on "
            "yet; the robustness check runs once the version or the champion has served "
            "predictions."
        )
    frame, source, start, end = sample
    data = artifacts.verified_bytes(home / version.artifact_path, version.artifact_sha256)
    scorer = Scorer(artifacts.open_session(data, version.artifact_path), version.features)
    threshold = version.decision_threshold
    checked = check_frame(
        scorer, frame, version.features, reference_stats(con, version), threshold, step=step
    )
    rows = len(frame)
    rate = checked.flipped_rows / rows if threshold is not None and rows else None
    violation_rate = checked.violating_rows / rows if checked.monotonic and rows else None
    return RobustnessReport(
        model_name=version.model_name,
        model_version=version.model_version,
        traffic_version=source,
        start=start,
        end=end,
        rows=len(frame),
        decision_threshold=threshold,
        step=step,
        flip_threshold=flip_threshold,
        flip_rate=rate,
        flipped_rows=checked.flipped_rows,
        features=checked.features,
        flips=checked.flips,
        monotonic=checked.monotonic,
        violations=checked.violations,
        monotonic_threshold=monotonic_threshold,
        violation_rate=violation_rate,
        flips_passed=rate is None or rate <= flip_threshold,
        monotonic_passed=violation_rate is None or violation_rate <= monotonic_threshold,
        flip_detail=_flip_detail(rate, rows, step, flip_threshold),
        monotonic_detail=_monotonic_detail(checked),
    )


def robustness_check(
    store: Store,
    model_name: str,
    model_version: str,
    *,
    flip_threshold: float = FLIP_THRESHOLD,
    monotonic_threshold: float = MONOTONIC_THRESHOLD,
    step: float | None = None,
    rows: int | None = None,
    days: int = TRAFFIC_DAYS,
    seed: int = 0,
) -> RobustnessReport:
    """`check_version` in a unit of work of its own (pages, the command line, tests)."""
    with store.connect() as con:
        version = registry.get_version(con, model_name, model_version)
        return check_version(
            con,
            store.home,
            version,
            flip_threshold=flip_threshold,
            monotonic_threshold=monotonic_threshold,
            step=step,
            rows=rows,
            days=days,
            seed=seed,
        )
