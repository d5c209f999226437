"""Verdicts: one column's status in one window, and a window's dataset verdict.

A column gets no verdict ("no data") when the window has no rows or either side has no
non-missing value, and none ("too few rows") when either side has fewer than MIN_ROWS; PSI is
still shown whenever both sides have rows, since missing values are one of its bins. A window
drifts when more than the dataset threshold of its features with a verdict drift.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from vigil.core.monitor.drift.results import ColumnDrift, DatasetVerdict, DriftStatus, WindowDrift
from vigil.core.monitor.profiles import ColumnRole, ProfiledColumn
from vigil.core.monitor.windows import Window
from vigil.core.stats.drift_tests import MIN_ROWS, Comparison, StatTest, comparison_psi


@dataclass(frozen=True)
class Moments:
    """Means and population stds shown beside a numeric column's verdict."""

    reference_mean: float | None = None
    current_mean: float | None = None
    reference_std: float | None = None
    current_std: float | None = None


def judge(
    column: ProfiledColumn,
    comparison: Comparison,
    test: StatTest,
    threshold: float,
    labels: tuple[str, ...],
    moments: Moments,
) -> ColumnDrift:
    """The column's status, statistic and PSI in one window."""
    c = comparison
    reference_rows = c.reference_n + c.reference_missing
    current_rows = c.current_n + c.current_missing
    psi = comparison_psi(c) if reference_rows > 0 and current_rows > 0 else None

    no_verdict = ColumnDrift(
        feature=column.name,
        kind=column.kind,
        role=column.role,
        status=DriftStatus.NO_DATA,
        test=test.name,
        test_label=test.label,
        statistic=None,
        p_value=None,
        threshold=threshold,
        drifted=None,
        score=None,
        reference_n=c.reference_n,
        current_n=c.current_n,
        current_rows=int(current_rows),
        current_nulls=int(c.current_missing),
        psi=psi,
        bins=labels,
        reference_counts=c.reference_counts,
        current_counts=c.current_counts,
        reference_mean=moments.reference_mean,
        current_mean=moments.current_mean,
        reference_std=moments.reference_std,
        current_std=moments.current_std,
    )
    if current_rows == 0 or c.current_n == 0 or c.reference_n == 0:
        return no_verdict
    if c.current_n < MIN_ROWS or c.reference_n < MIN_ROWS:
        return replace(no_verdict, status=DriftStatus.TOO_FEW_ROWS)
    outcome = test(c)
    drifted = test.drifted(outcome, threshold)
    return replace(
        no_verdict,
        status=DriftStatus.DRIFT if drifted else DriftStatus.NO_DRIFT,
        statistic=outcome.statistic,
        p_value=outcome.p_value,
        drifted=drifted,
        score=test.score(outcome, threshold),
    )


def window_drift(
    window: Window, rows: int, results: list[ColumnDrift], share: float
) -> WindowDrift:
    """The window's columns and its dataset verdict (share of drifted features vs `share`)."""
    features = tuple(r for r in results if r.role == ColumnRole.FEATURE)
    tested = [r for r in features if r.drifted is not None]
    drifted_count = sum(1 for r in tested if r.drifted)
    if not tested:
        status = DriftStatus.NO_DATA if rows == 0 else DriftStatus.TOO_FEW_ROWS
        verdict = DatasetVerdict(0, 0, None, share, None, status)
    else:
        value = drifted_count / len(tested)
        drifted = value > share
        status = DriftStatus.DRIFT if drifted else DriftStatus.NO_DRIFT
        verdict = DatasetVerdict(len(tested), drifted_count, value, share, drifted, status)
    prediction = tuple(r for r in results if r.role == ColumnRole.PREDICTION)
    return WindowDrift(window, rows, features, prediction, verdict)
