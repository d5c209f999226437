"""The fairness report: group metrics, disparities, the four-fifths rule and their trend for
every sensitive attribute (and every pair of them crossed).

The favourable outcome is prediction >= the version's decision_threshold (for the demo:
predicted good risk, i.e. approved for pre-screening). Bootstrap intervals resample the
count cells (core.monitor.fairness.bootstrap).
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pandas as pd

from vigil.core.monitor.fairness import groups as grouping
from vigil.core.monitor.fairness import verdicts
from vigil.core.monitor.fairness.bootstrap import BOOTSTRAP_SEED, bootstrap
from vigil.core.monitor.fairness.results import (
    BOOTSTRAP_RESAMPLES,
    MISSING,
    POPULATIONS,
    AttributeFairness,
    FairnessError,
    FairnessReport,
    GroupStatus,
    Verdict,
    WindowFairness,
)
from vigil.core.monitor.fairness.validation import compare_with_validation
from vigil.core.monitor.selection import Selection
from vigil.core.monitor.windows import Granularity, Window, Windowing
from vigil.core.registry import versions as registry
from vigil.core.registry.versions import ModelVersion
from vigil.core.store.connection import Store


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


def _check_version(version: ModelVersion) -> None:
    if version.task != "binary_classification" or version.decision_threshold is None:
        raise FairnessError(
            f"{version.model_name} {version.model_version} is a {version.task} model "
            "without a decision threshold; fairness needs a binary classifier with a "
            "decision_threshold in its metadata (the score at or above which the outcome is "
            "favourable)."
        )
    if not version.sensitive:
        raise FairnessError(
            f"{version.model_name} {version.model_version} declares no sensitive "
            'attributes; mark features with "sensitive": true in its metadata to '
            "review fairness."
        )


class _Attributes:
    """What every attribute of one report shares: the version, cells, bands and windows."""

    def __init__(
        self,
        version: ModelVersion,
        cells: pd.DataFrame,
        bands: dict[str, tuple[str, ...]],
        windowing: Windowing,
        windows: list[Window],
    ) -> None:
        self.version, self.cells, self.bands = version, cells, bands
        self.windowing, self.windows = windowing, windows

    def attribute(self, columns: tuple[str, ...], resamples: int, seed: int) -> AttributeFairness:
        cells = self.cells.assign(group=grouping.label_groups(self.cells, columns))
        order = grouping.group_order(cells, columns, self.bands)
        table = grouping.counts(cells, ["group"])
        found = verdicts.groups(table, *grouping.metric_frames(cells), order)
        disparities = verdicts.disparities(found)
        intervals, per_group = bootstrap(table, found, disparities, seed, resamples)
        found = [
            replace(
                g,
                selection_rate_ci=per_group.get(g.group, {}).get("selection_rate"),
                tpr_ci=per_group.get(g.group, {}).get("tpr"),
                fpr_ci=per_group.get(g.group, {}).get("fpr"),
            )
            for g in found
        ]
        item = AttributeFairness(
            name=" × ".join(columns),
            key="_x_".join(grouping.metric_key(c) for c in columns),
            columns=columns,
            groups=tuple(found),
            disparities=disparities,
            intervals=intervals,
            most_favoured=next(
                (g.group for g in found if g.status == GroupStatus.MOST_FAVOURED), None
            ),
            verdict=verdicts.verdict(found),
        )
        item = replace(
            item, statements=verdicts.statements(item), windows=self._trend(cells, order)
        )
        return replace(item, validation=compare_with_validation(self.version, item))

    def _trend(self, cells: pd.DataFrame, order: list[str]) -> tuple[WindowFairness, ...]:
        """The attribute per window (windows without predictions included, insufficient)."""
        table = grouping.counts(cells, ["window_start", "group"])
        everyone, outcomes = grouping.rates(table)
        starts = set(cells["window_start"])
        result = []
        for window in self.windows:
            key = pd.Timestamp(self.windowing.key(window))
            if key not in starts:
                empty = verdicts.disparities([])
                result.append(
                    WindowFairness(window.start, window.end, 0, 0, (), empty, Verdict.INSUFFICIENT)
                )
                continue
            found = verdicts.groups(table, everyone, outcomes, order, prefix=(key,))
            result.append(
                WindowFairness(
                    start=window.start,
                    end=window.end,
                    rows=sum(g.rows for g in found),
                    labelled=sum(g.labelled for g in found),
                    groups=tuple(found),
                    disparities=verdicts.disparities(found),
                    verdict=verdicts.verdict(found),
                )
            )
        return tuple(result)


def fairness_report(
    store: Store,
    selection: Selection,
    *,
    granularity: Granularity = "week",
    attribute: str | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> FairnessReport:
    """Group metrics, disparities, the four-fifths rule and their trend for every sensitive
    attribute."""
    windowing = Windowing.of(granularity)
    with store.connect() as con:
        version = registry.get_version(con, selection.model_name, selection.model_version)
        _check_version(version)
        exprs, bands = grouping.group_exprs(con, version)
        combos = _attributes([s.name for s in version.sensitive], attribute)
        windows = windowing.windows(con, selection)
        cells = grouping.cells(con, selection, version, windowing, windows, exprs)
    rows = int(cells["n"].sum()) if not cells.empty else 0
    labelled = int(cells.loc[cells["y_true"].notna(), "n"].sum()) if not cells.empty else 0
    if rows == 0:
        raise FairnessError(
            f"{selection.model_name} {selection.model_version} served no successful predictions "
            "in the selected range; widen the range or clear the segment."
        )
    cells["y_pred"] = cells["y_pred"].astype(int)
    shared = _Attributes(version, cells, bands, windowing, windows)
    threshold = float(version.decision_threshold or 0.0)
    return FairnessReport(
        model_name=version.model_name,
        model_version=version.model_version,
        start=selection.start,
        end=selection.end,
        segment=selection.segment.label() if selection.segment else None,
        granularity=str(granularity),
        decision_threshold=threshold,
        favourable=f"prediction >= {threshold:g}"
        + (f" (predicted {version.positive_label})" if version.positive_label else ""),
        rows=rows,
        labelled=labelled,
        attributes=tuple(shared.attribute(columns, resamples, seed) for columns in combos),
        bands={k: tuple(b for b in v if b != MISSING) for k, v in bands.items()},
        populations=dict(POPULATIONS),
        resamples=resamples,
    )
