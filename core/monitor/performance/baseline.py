"""The labelled baseline that concept drift and estimation (CBPE) compare production with."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import duckdb
import numpy as np

from vigil.core.monitor.performance.metrics import ScoreTable, labelled_rows_sql
from vigil.core.monitor.performance.results import PerformanceError
from vigil.core.monitor.selection import Segment, Selection, data_range, reference_table
from vigil.core.registry.versions import ModelVersion
from vigil.core.store.sql import quote_ident

BASELINE_DAYS = 28
BASELINE_MIN_LABELS = 500


class BaselineKind(StrEnum):
    REFERENCE = "reference"  # the version's reference data
    PERIOD = "period"  # a labelled period of the version's own traffic


@dataclass(frozen=True)
class Baseline:
    """Where the expected score–outcome relation comes from: the version's reference data
    (kind "reference"), or its labelled production traffic in [start, end) (kind "period").

    The reference data is often the training split, scored in-sample, where a model looks
    better calibrated and more accurate than it is; a labelled early production period is
    then the honest baseline (NannyML's CBPE calls it the reference period)."""

    kind: BaselineKind
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    use_segment: bool = True  # False: the whole version's rows, whatever the page's segment

    def describe(self) -> str:
        scope = "" if self.use_segment else " (all segments)"
        if self.kind == BaselineKind.REFERENCE:
            return f"the version's reference data{scope}"
        return (
            f"labelled traffic from {self.start:%Y-%m-%d} to {self.end:%Y-%m-%d} (exclusive){scope}"
        )


def default_baseline(
    con: duckdb.DuckDBPyConnection, version: ModelVersion, segment: Segment | None = None
) -> Baseline:
    """The first BASELINE_DAYS of the version's traffic if it holds BASELINE_MIN_LABELS labels
    (of the segment, else of all segments), else the reference data."""
    bounds = data_range(con, version.model_name, version.model_version)
    if bounds is None:
        return Baseline(BaselineKind.REFERENCE)
    start = dt.datetime.combine(bounds[0].date(), dt.time())
    end = start + dt.timedelta(days=BASELINE_DAYS)
    scopes = ((segment, True), (None, False)) if segment is not None else ((None, True),)
    for scope, use_segment in scopes:
        selection = Selection(version.model_name, version.model_version, start, end, scope)
        joined, params = labelled_rows_sql(con, selection)
        row = con.execute(f"SELECT count(*) FROM {joined}", params).fetchone()
        if row is not None and row[0] >= BASELINE_MIN_LABELS:
            return Baseline(BaselineKind.PERIOD, start, end, use_segment=use_segment)
    return Baseline(BaselineKind.REFERENCE)


def baseline_scores(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    baseline: Baseline,
    segment: Segment | None = None,
) -> ScoreTable:
    """The baseline's score table: distinct scores (ascending), positives, negatives."""
    if not baseline.use_segment:
        segment = None
    if baseline.kind == BaselineKind.REFERENCE:
        where = "model_version = ? AND prediction IS NOT NULL AND label IS NOT NULL"
        params: list[Any] = [version.model_version]
        if segment is not None:
            where += f" AND CAST({quote_ident(segment.column)} AS VARCHAR) = ?"
            params.append(segment.value)
        query = (
            "SELECT prediction AS score, sum(label) AS pos, count(*) - sum(label) AS neg "
            f"FROM {reference_table(con, version.model_name)} WHERE {where} "
            "GROUP BY score ORDER BY score"
        )
    elif baseline.kind == BaselineKind.PERIOD and baseline.start and baseline.end:
        selection = Selection(
            version.model_name, version.model_version, baseline.start, baseline.end, segment
        )
        joined, params = labelled_rows_sql(con, selection)
        query = (
            "SELECT l.prediction AS score, sum(b.label) AS pos, count(*) - sum(b.label) AS neg "
            f"FROM {joined} GROUP BY score ORDER BY score"
        )
    else:
        raise PerformanceError(f"Unknown baseline {baseline!r}: use 'reference' or a period.")
    frame = con.execute(query, params).fetchnumpy()
    return (
        np.asarray(frame["score"], dtype=float),
        np.asarray(frame["pos"], dtype=float),
        np.asarray(frame["neg"], dtype=float),
    )
