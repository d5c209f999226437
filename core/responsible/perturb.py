"""Moving one input at a time and scoring again: decision flips and monotonic steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pandas as pd

from vigil.core.contract import FeatureSpec
from vigil.core.explain.sampling import display
from vigil.core.registry.artifacts import score
from vigil.core.responsible.traffic import Stats

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class FlipRow:
    """A sampled prediction whose decision changes when one input moves a little."""

    prediction_id: str
    feature: str
    value: str
    moved_to: str
    score: float
    moved_score: float


@dataclass(frozen=True)
class MonotonicViolation:
    """The largest step against a declared direction in one row."""

    prediction_id: str
    feature: str
    from_value: str
    to_value: str
    score_from: float
    score_to: float


ScoreFn = Callable[[pd.DataFrame], FloatArray]


class Scorer:
    """The registered artifact's score for a frame of model inputs."""

    def __init__(self, session: ort.InferenceSession, features: tuple[FeatureSpec, ...]) -> None:
        self._session = session
        self._features = features

    def __call__(self, frame: pd.DataFrame) -> FloatArray:
        return np.asarray(score(self._session, frame, self._features), dtype=np.float64)


def _typed(spec: FeatureSpec, value: str) -> object:
    """A declared category, as the column holds it."""
    return value if spec.type == "string" else float(value)


def _moves(
    frame: pd.DataFrame, spec: FeatureSpec, stats: Stats, step: float
) -> tuple[str, BoolArray, list[pd.Series]] | None:
    """In words what moves, which rows can move, and the moved columns (down, up)."""
    column = frame[spec.name]
    if not spec.categorical:
        std = stats.get(spec.name, (0.0, ()))[0]
        delta = step * std
        if spec.type == "integer":
            delta = max(1.0, float(round(delta)))
        if delta <= 0:
            return None
        values = column.astype(float)
        words = f"± {delta:.4g} ({step:.0%} of its standard deviation)"
        return words, values.notna().to_numpy(), [values - delta, values + delta]
    if len(spec.order) < 2:
        return None
    position = column.map(
        lambda v: spec.order.index(display(v)) if display(v) in spec.order else -1
    )
    movable = (position >= 0).to_numpy()
    moved = []
    for shift in (-1, 1):
        target = position + shift
        ok = (position >= 0) & (target >= 0) & (target < len(spec.order))
        new = column.astype(object).copy()
        new[ok] = [_typed(spec, spec.order[t]) for t in target[ok]]
        moved.append(new)
    return "to a neighbouring category", movable, moved


def decision_flips(
    scorer: ScoreFn,
    frame: pd.DataFrame,
    base: FloatArray,
    spec: FeatureSpec,
    stats: Stats,
    threshold: float,
    step: float,
) -> tuple[str, int, BoolArray, list[FlipRow]] | None:
    """Rows whose decision changes when `spec` moves down or up (None: it cannot move)."""
    moves = _moves(frame, spec, stats, step)
    if moves is None:
        return None
    words, movable, columns = moves
    decided = base >= threshold
    flipped = np.zeros(len(frame), dtype=bool)
    rows: list[FlipRow] = []
    for moved in columns:
        scores = scorer(frame.assign(**{spec.name: moved}))
        changed = movable & ((scores >= threshold) != decided) & ~flipped
        for i in np.flatnonzero(changed):
            rows.append(
                FlipRow(
                    prediction_id=str(frame["prediction_id"].iloc[i]),
                    feature=spec.name,
                    value=display(frame[spec.name].iloc[i]),
                    moved_to=display(moved.iloc[i]),
                    score=float(base[i]),
                    moved_score=float(scores[i]),
                )
            )
        flipped |= changed
    return words, int(movable.sum()), flipped, rows


def monotonic_violations(
    scorer: ScoreFn, frame: pd.DataFrame, spec: FeatureSpec, stats: Stats, tolerance: float
) -> tuple[tuple[str, ...], int, float, list[MonotonicViolation]]:
    """Score every row along the feature's grid; steps against the declared direction."""
    if spec.categorical:
        grid: list[object] = [_typed(spec, v) for v in spec.order]
    else:
        grid = list(stats.get(spec.name, (0.0, ()))[1])
    words = tuple(display(g) for g in grid)
    if len(grid) < 2 or frame.empty:
        return words, 0, 0.0, []
    scores = np.vstack([scorer(frame.assign(**{spec.name: [g] * len(frame)})) for g in grid])
    sign = 1.0 if spec.monotonic == "increasing" else -1.0
    against = -sign * np.diff(scores, axis=0)  # > 0: a step the wrong way
    worst = against.max(axis=0)
    violating = np.flatnonzero(worst > tolerance)
    found = []
    for i in violating:
        k = int(np.argmax(against[:, i]))
        found.append(
            MonotonicViolation(
                prediction_id=str(frame["prediction_id"].iloc[i]),
                feature=spec.name,
                from_value=words[k],
                to_value=words[k + 1],
                score_from=float(scores[k, i]),
                score_to=float(scores[k + 1, i]),
            )
        )
    found.sort(key=lambda v: -abs(v.score_to - v.score_from))
    return words, len(violating), float(max(0.0, against.max())), found
