"""Labels that stay in the lake: joined to the profiled rows on the engine, per UTC day.

A label file holds prediction_id and label, as for `vigil ingest-labels`. A label counts
when its id is not empty and its value is a finite number (0 or 1 for a binary classifier);
an id labelled twice with different values is a conflict and counts as unlabelled, as ingest
never lets a label change. Per day of status-ok predictions the store gets coverage and, at
the version's decision threshold, the confusion counts (binary) or the error sums
(regression): the mergeable aggregates realised performance is computed from.
"""

from __future__ import annotations

from vigil.core.lake.engine import ColumnClass
from vigil.core.lake.validate import MAX_FINITE
from vigil.core.registry.versions import ModelVersion
from vigil.core.store.sql import quote_ident

BINARY = "binary_classification"


def _text(name: str, columns: dict[str, ColumnClass]) -> str:
    if columns.get(name) is ColumnClass.TEXT:
        return f"NULLIF(trim({quote_ident(name)}), '')"
    return f"CAST({quote_ident(name)} AS VARCHAR)"


def good_labels_sql(version: ModelVersion, columns: dict[str, ColumnClass], raw: str) -> str:
    """One label per prediction id: (id, label), conflicts and bad values left out."""
    label = f"TRY_CAST({quote_ident('label')} AS DOUBLE)"
    if columns.get("label") is ColumnClass.TEXT:
        label = f"TRY_CAST(NULLIF(trim({quote_ident('label')}), '') AS DOUBLE)"
    allowed = f"abs(label) <= {MAX_FINITE}"
    if version.task == BINARY:
        allowed += " AND label IN (0, 1)"
    return (
        f"SELECT id, min(label) AS label FROM ("
        f"SELECT {_text('prediction_id', columns)} AS id, {label} AS label FROM {raw}) v "
        f"WHERE id IS NOT NULL AND {allowed} GROUP BY id HAVING min(label) = max(label)"
    )


def label_days_sql(version: ModelVersion, logs: str, labels: str) -> str:
    """Per day: predictions (status ok), labelled, and confusion counts or error sums."""
    threshold = 0.5 if version.decision_threshold is None else version.decision_threshold
    positive = f"l.prediction >= CAST({float(threshold)!r} AS DOUBLE)"
    if version.task == BINARY:

        def cell(label: int, predicted: str) -> str:
            return f"sum(CASE WHEN b.label = {label} AND {predicted} THEN 1 ELSE 0 END)"

        measures = (
            f"{cell(1, positive)} AS true_positives, {cell(0, positive)} AS false_positives, "
            f"{cell(0, f'NOT {positive}')} AS true_negatives, "
            f"{cell(1, f'NOT {positive}')} AS false_negatives, "
            "CAST(NULL AS DOUBLE) AS sum_error, CAST(NULL AS DOUBLE) AS sum_squared_error, "
            "CAST(NULL AS DOUBLE) AS sum_absolute_error"
        )
    else:
        error = "(l.prediction - b.label)"
        measures = (
            "CAST(NULL AS BIGINT) AS true_positives, CAST(NULL AS BIGINT) AS false_positives, "
            "CAST(NULL AS BIGINT) AS true_negatives, CAST(NULL AS BIGINT) AS false_negatives, "
            f"sum({error}) AS sum_error, sum({error} * {error}) AS sum_squared_error, "
            f"sum(abs({error})) AS sum_absolute_error"
        )
    return (
        f"SELECT l.day, count(*) AS predictions, count(b.label) AS labelled, {measures} "
        f"FROM {logs} l LEFT JOIN {labels} b ON b.id = l.prediction_id "
        "WHERE l.status = 'ok' AND l.prediction IS NOT NULL GROUP BY l.day"
    )
