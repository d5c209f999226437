"""Bootstrap intervals for group rates and disparities: resampling the count cells
multinomially, which equals resampling rows with replacement."""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
import pandas as pd

from vigil.core.monitor.fairness.results import Disparities, GroupMetrics
from vigil.core.stats.intervals import Interval, percentile_interval

BOOTSTRAP_SEED = 0
Draws = npt.NDArray[np.float64]


def _cell_table(table: pd.DataFrame, names: list[str]) -> npt.NDArray[np.float64]:
    """Per group: TP, FP, FN, TN, unlabelled selected, unlabelled not selected."""
    labelled = table.loc[names, ["tp", "fp", "fn", "tn"]].to_numpy(dtype=float)
    unlabelled_sel = (table.loc[names, "selected"] - labelled[:, 0] - labelled[:, 1]).to_numpy()
    unlabelled = (table.loc[names, "rows"] - table.loc[names, "labelled"]).to_numpy()
    return np.column_stack([labelled, unlabelled_sel, unlabelled - unlabelled_sel]).astype(float)


def _disparity_intervals(
    sel: Draws, tpr: Draws, fpr: Draws, dp_index: list[int], eo_index: list[int]
) -> dict[str, Interval]:
    result: dict[str, Interval] = {}
    found: list[tuple[str, Draws]] = []
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices in a resample
        if len(dp_index) >= 2:
            s = sel[:, dp_index]
            hi, lo = np.nanmax(s, axis=1), np.nanmin(s, axis=1)
            found += [("demographic_parity_difference", hi - lo)]
            found += [("demographic_parity_ratio", lo / hi)]
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
            found += [("equalized_odds_difference", diff), ("equalized_odds_ratio", ratio)]
    for key, values in found:
        if (interval := percentile_interval(values)) is not None:
            result[key] = interval
    return result


def bootstrap(
    table: pd.DataFrame, groups: list[GroupMetrics], disparities: Disparities, seed: int, n: int
) -> tuple[dict[str, Interval], dict[str, dict[str, Interval]]]:
    """Percentile intervals of the disparities, and of each group's selection rate, TPR and
    FPR, from `n` multinomial resamples of the cells."""
    names = [g.group for g in groups]
    cells = _cell_table(table, names)
    total = cells.sum()
    if total <= 0 or n <= 0:
        return {}, {}
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(int(total), (cells / total).ravel(), size=n).reshape(n, *cells.shape)
    tp, fp, fn, tn, us, _ = (draws[..., i] for i in range(6))
    with np.errstate(divide="ignore", invalid="ignore"):
        sel = (tp + fp + us) / draws.sum(axis=2)
        tpr = tp / (tp + fn)
        fpr = fp / (fp + tn)
    per_group: dict[str, dict[str, Interval]] = {}
    for i, name in enumerate(names):
        found = {
            "selection_rate": percentile_interval(sel[:, i]),
            "tpr": percentile_interval(tpr[:, i]),
            "fpr": percentile_interval(fpr[:, i]),
        }
        per_group[name] = {k: v for k, v in found.items() if v is not None}
    dp_index = [names.index(g) for g in disparities.dp_groups]
    eo_index = [names.index(g) for g in disparities.eo_groups]
    return _disparity_intervals(sel, tpr, fpr, dp_index, eo_index), per_group
