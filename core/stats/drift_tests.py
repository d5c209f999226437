"""Drift tests as small named objects in one registry, each wrapping scipy.

A test compares one column's reference and current aggregates (`Comparison`): counts on
shared bins or categories, and for numeric columns the exact Kolmogorov–Smirnov statistic
and Wasserstein distance computed in DuckDB over the raw values (see
core.monitor.drift.statistics). Nothing here reads rows. PSI is core.stats.psi's, with the
missing values as one more bin.

Default choice (like Evidently's, decided once per version by the REFERENCE size, so one
feature keeps one test across every window of a heat map):
- numeric, reference n <= 1000: two-sample Kolmogorov–Smirnov, drift when p < alpha;
- numeric, reference n > 1000: Wasserstein distance normed by the reference std, drift > 0.1;
- categorical, reference n <= 1000: chi-squared test of homogeneity, drift when p < alpha;
- categorical, reference n > 1000: Jensen–Shannon distance (natural log), drift > 0.1.

alpha for p-value tests is a family-wise error per window, split over the version's features
(Bonferroni): per-test threshold = 0.01 / number of features. With ten features tested on
every daily window, p < 0.05 per test would raise a false alarm on about 40 % of the days of
a model that has not changed; a page that cries wolf every other day gets ignored. At 0.01
per window, about one window in a hundred shows a chance alarm. Effect-size tests are not
corrected (their thresholds do not depend on n).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

from vigil.core.errors import VigilError
from vigil.core.stats import psi as psi_rule

SMALL_REFERENCE = 1000  # reference rows at or below which p-value tests are the default
FAMILY_ALPHA = 0.01  # family-wise error per window for p-value tests (Bonferroni)
MIN_ROWS = 30  # fewer non-null rows than this in a window: "too few rows", no verdict
KS_EXACT_MAX_N = 10_000  # as scipy's ks_2samp(method="auto")


class ColumnKind(StrEnum):
    NUMERIC = "num"
    CATEGORICAL = "cat"

    @property
    def word(self) -> str:
        return "numeric" if self is ColumnKind.NUMERIC else "categorical"


@dataclass(frozen=True)
class Comparison:
    """One column, reference vs current: aligned counts plus exact pairwise statistics.

    `reference_counts` / `current_counts` are on the same bins (numeric: the reference's
    quantile bins) or categories (categorical: reference categories then unseen ones), over
    non-missing values; `*_missing` count the missing ones (PSI's extra bin).
    """

    kind: ColumnKind
    reference_n: int
    current_n: int
    reference_counts: tuple[float, ...]
    current_counts: tuple[float, ...]
    reference_mean: float | None = None
    reference_std: float | None = None  # population std (ddof=0), as Evidently and numpy
    ks_statistic: float | None = None
    wasserstein: float | None = None
    reference_missing: float = 0.0
    current_missing: float = 0.0


@dataclass(frozen=True)
class TestResult:
    statistic: float
    p_value: float | None


@dataclass(frozen=True)
class StatTest:
    """A named drift test: what it measures, on which kinds of column, and its default cut."""

    name: str
    label: str
    kinds: tuple[ColumnKind, ...]
    func: Callable[[Comparison], TestResult]
    threshold: float
    higher_is_drift: bool = True
    uses_p_value: bool = False
    unit: str = ""

    def __call__(self, comparison: Comparison) -> TestResult:
        return self.func(comparison)

    def drifted(self, result: TestResult, threshold: float) -> bool:
        if self.uses_p_value:
            return result.p_value is not None and result.p_value < threshold
        if self.higher_is_drift:
            return result.statistic > threshold
        return result.statistic < threshold

    def score(self, result: TestResult, threshold: float) -> float:
        """Drift normalised to the threshold: > 1 means drift, for colouring heat maps.

        p-value tests: log(p) / log(threshold) (p = threshold gives 1, p = threshold^2 gives 2).
        """
        if self.uses_p_value:
            p = max(result.p_value if result.p_value is not None else 1.0, 1e-300)
            return math.log(p) / math.log(threshold) if p < 1 else 0.0
        if threshold == 0:
            return math.inf if result.statistic > 0 else 0.0
        return (
            result.statistic / threshold
            if self.higher_is_drift
            else threshold / max(result.statistic, 1e-300)
        )


def ks_p_value(statistic: float, n: int, m: int) -> float:
    """The p-value scipy.stats.ks_2samp(method="auto", two-sided) gives for this D, n and m."""
    from scipy.stats._stats_py import _attempt_exact_2kssamp  # scipy's own exact method

    if n == 0 or m == 0:
        return 1.0
    if max(n, m) <= KS_EXACT_MAX_N:
        g = math.gcd(n, m)
        success, _, prob = _attempt_exact_2kssamp(n, m, g, statistic, "two-sided")
        if success:
            return float(np.clip(prob, 0, 1))
    big, small = sorted([float(n), float(m)], reverse=True)
    en = big * small / (big + small)
    return float(np.clip(stats.kstwo.sf(statistic, np.round(en)), 0, 1))


def _ks(c: Comparison) -> TestResult:
    d = float(c.ks_statistic or 0.0)
    return TestResult(d, ks_p_value(d, c.reference_n, c.current_n))


def normed_wasserstein(distance: float, reference_std: float, reference_mean: float) -> float:
    """Wasserstein distance / reference std.

    A constant reference (std 0) has no spread to norm by: the distance is normed by the
    constant's magnitude instead (a relative shift), or left in the feature's units when the
    constant is 0.
    """
    if reference_std > 0:
        return distance / reference_std
    scale = abs(reference_mean)
    return distance / scale if scale > 0 else distance


def _wasserstein(c: Comparison) -> TestResult:
    return TestResult(
        normed_wasserstein(
            float(c.wasserstein or 0.0),
            float(c.reference_std or 0.0),
            float(c.reference_mean or 0.0),
        ),
        None,
    )


def comparison_psi(c: Comparison) -> float:
    """core.stats.psi over the comparison's bins (or categories) plus the missing-values bin."""
    return psi_rule.psi(
        psi_rule.binned_counts(c.reference_counts, c.reference_missing),
        psi_rule.binned_counts(c.current_counts, c.current_missing),
    )


def _psi(c: Comparison) -> TestResult:
    return TestResult(comparison_psi(c), None)


def chi2_homogeneity(
    reference_counts: tuple[float, ...], current_counts: tuple[float, ...]
) -> tuple[float, float]:
    """scipy.stats.chi2_contingency([reference, current], correction=False) over categories
    seen in either sample. Unseen-in-reference categories need no epsilon here: the test of
    homogeneity pools both samples for its expected counts. One category only: (0, 1)."""
    table = np.array([reference_counts, current_counts], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def _chi2(c: Comparison) -> TestResult:
    statistic, p = chi2_homogeneity(c.reference_counts, c.current_counts)
    return TestResult(statistic, p)


def _jensen_shannon(c: Comparison) -> TestResult:
    """scipy.spatial.distance.jensenshannon on shares (natural log; 0 <= d <= sqrt(ln 2)).
    Zero shares (unseen categories) are fine: the mixture is never zero where either is not."""
    ref, cur = np.asarray(c.reference_counts, float), np.asarray(c.current_counts, float)
    if ref.sum() == 0 or cur.sum() == 0:
        return TestResult(0.0, None)
    return TestResult(float(jensenshannon(ref / ref.sum(), cur / cur.sum())), None)


KS = StatTest(
    name="ks",
    label="Kolmogorov–Smirnov (two-sample)",
    kinds=(ColumnKind.NUMERIC,),
    func=_ks,
    threshold=FAMILY_ALPHA,
    uses_p_value=True,
)
WASSERSTEIN = StatTest(
    name="wasserstein",
    label="Wasserstein distance / reference std",
    kinds=(ColumnKind.NUMERIC,),
    func=_wasserstein,
    threshold=0.1,
    unit="reference std",
)
PSI = StatTest(
    name="psi",
    label="Population stability index",
    kinds=(ColumnKind.NUMERIC, ColumnKind.CATEGORICAL),
    func=_psi,
    threshold=0.1,
)
CHI2 = StatTest(
    name="chi2",
    label="Chi-squared test of homogeneity",
    kinds=(ColumnKind.CATEGORICAL,),
    func=_chi2,
    threshold=FAMILY_ALPHA,
    uses_p_value=True,
)
JENSEN_SHANNON = StatTest(
    name="jensenshannon",
    label="Jensen–Shannon distance",
    kinds=(ColumnKind.NUMERIC, ColumnKind.CATEGORICAL),
    func=_jensen_shannon,
    threshold=0.1,
)

TESTS: dict[str, StatTest] = {t.name: t for t in (KS, WASSERSTEIN, PSI, CHI2, JENSEN_SHANNON)}


def get_test(name: str) -> StatTest:
    try:
        return TESTS[name]
    except KeyError as err:
        raise VigilError(f"Unknown drift test '{name}'; known tests: {', '.join(TESTS)}.") from err


def default_test(kind: ColumnKind, reference_n: int) -> StatTest:
    """The documented default: by column kind and reference size (see the module docstring)."""
    if kind == ColumnKind.NUMERIC:
        return KS if reference_n <= SMALL_REFERENCE else WASSERSTEIN
    return CHI2 if reference_n <= SMALL_REFERENCE else JENSEN_SHANNON
