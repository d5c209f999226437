"""Champion-vs-challenger tests against independent computations (sklearn, naive DeLong)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score

from vigil.core.stats import comparison as cmp


def _naive_placements(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components by explicit pairwise comparison, O(m n)."""
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return psi.mean(axis=1), psi.mean(axis=0)


def _naive_paired_variance(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    v10a, v01a = _naive_placements(y, a)
    v10b, v01b = _naive_placements(y, b)
    m, n = len(v10a), len(v01a)
    d10, d01 = v10a - v10b, v01a - v01b
    return float(np.var(d10, ddof=1) / m + np.var(d01, ddof=1) / n)


@pytest.fixture
def labelled() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 600
    y = (rng.random(n) < 0.35).astype(float)
    champion = np.round(rng.normal(y * 1.0, 1.0), 2)  # rounded: ties exercise midranks
    candidate = np.round(champion * 0.6 + rng.normal(y * 0.3, 0.8), 2)
    return y, candidate, champion


def test_delong_paired_equals_sklearn_auc_and_the_naive_variance(labelled) -> None:
    y, candidate, champion = labelled
    result = cmp.delong_paired(y, candidate, champion)
    assert result.candidate == pytest.approx(roc_auc_score(y, candidate), abs=1e-12)
    assert result.champion == pytest.approx(roc_auc_score(y, champion), abs=1e-12)
    se = math.sqrt(_naive_paired_variance(y, candidate, champion))
    assert (result.ci_high - result.ci_low) / 2 == pytest.approx(cmp.Z95 * se, rel=1e-9)
    z = result.difference / se
    assert result.p_value == pytest.approx(2 * (1 - 0.5 * (1 + math.erf(abs(z) / 2**0.5))))


def test_delong_unpaired_sums_each_models_variance(labelled) -> None:
    y, candidate, champion = labelled
    ya, a, yb, b = y[:300], candidate[:300], y[300:], champion[300:]
    result = cmp.delong_unpaired(ya, a, yb, b)
    variances = []
    for yy, s in ((ya, a), (yb, b)):
        v10, v01 = _naive_placements(yy, s)
        variances.append(np.var(v10, ddof=1) / len(v10) + np.var(v01, ddof=1) / len(v01))
    se = math.sqrt(sum(variances))
    assert result.difference == pytest.approx(roc_auc_score(ya, a) - roc_auc_score(yb, b))
    assert (result.ci_high - result.ci_low) / 2 == pytest.approx(cmp.Z95 * se, rel=1e-9)
    assert not result.paired


def test_delong_rejects_at_about_the_nominal_rate_under_the_null() -> None:
    """Two equally good, correlated scorers: p < 0.05 in about 5 % of samples."""
    rng = np.random.default_rng(11)
    rejections = 0
    trials = 300
    for _ in range(trials):
        y = (rng.random(300) < 0.4).astype(float)
        shared = rng.normal(y, 1.0)
        a = shared + rng.normal(0, 0.7, 300)
        b = shared + rng.normal(0, 0.7, 300)
        p = cmp.delong_paired(y, a, b).p_value
        assert p is not None
        rejections += p < 0.05
    assert 0.02 < rejections / trials < 0.09


def test_mcnemar_is_the_exact_binomial_test_on_discordant_pairs(labelled) -> None:
    y, candidate, champion = labelled
    pa, pb = (candidate > 0.5).astype(float), (champion > 0.5).astype(float)
    result = cmp.mcnemar_accuracy(y, pa, pb)
    only_a = int(np.sum((pa == y) & (pb != y)))
    only_b = int(np.sum((pa != y) & (pb == y)))
    k, n = min(only_a, only_b), only_a + only_b
    exact = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
    assert result.p_value == pytest.approx(exact, rel=1e-9)
    assert result.candidate == pytest.approx(accuracy_score(y, pa))
    assert result.difference == pytest.approx(accuracy_score(y, pa) - accuracy_score(y, pb))


def test_paired_bootstrap_mae_brackets_a_known_difference() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(0, 1, 4000)
    champion = y + rng.normal(0, 1.0, 4000)
    candidate = y + rng.normal(0, 1.2, 4000)  # worse: larger errors
    result = cmp.paired_bootstrap(
        "mae", mean_absolute_error, y, candidate, champion, higher_is_better=False, draws=400
    )
    true_gap = (1.2 - 1.0) * math.sqrt(2 / math.pi)  # E|N(0, s)| = s sqrt(2/pi)
    assert result.difference == pytest.approx(
        mean_absolute_error(y, candidate) - mean_absolute_error(y, champion)
    )
    assert result.ci_low < true_gap < result.ci_high
    assert cmp.decide(result, margin=0.05).verdict is cmp.ComparisonVerdict.FAIL


def _comparison(diff: float, half: float, n: int = 1000) -> cmp.Comparison:
    return cmp.Comparison(
        "roc_auc", "test", True, n, n, 0.7 + diff, 0.7, diff, diff - half, diff + half, 0.5, True
    )


@pytest.mark.parametrize(
    ("diff", "half", "verdict"),
    [
        (-0.05, 0.02, cmp.ComparisonVerdict.FAIL),
        (0.0, 0.005, cmp.ComparisonVerdict.PASS),
        (-0.01, 0.03, cmp.ComparisonVerdict.INCONCLUSIVE),
    ],
)
def test_decide_reads_the_interval_against_the_margin(diff, half, verdict) -> None:
    assert cmp.decide(_comparison(diff, half), margin=0.01).verdict is verdict


def test_labels_needed_shrinks_the_interval_to_the_margin() -> None:
    comparison = _comparison(-0.03, 0.04, n=1000)  # gain -0.03; margin 0.01 -> distance 0.02
    more = cmp.labels_needed(comparison, margin=0.01)
    assert more == pytest.approx(1000 * (0.04 / 0.02) ** 2 - 1000, abs=1)
    decision = cmp.decide(comparison, margin=0.01)
    assert decision.labels_needed == more and "not enough" in decision.reason
