"""Groups of sensitive attributes, in SQL, and each group's metrics from the count cells.

Groups: each sensitive attribute on its own, and every pair of them crossed (e.g. sex x age
band). Numeric attributes are banded: age with AGE_EDGES (<25, 25-34, 35-49, 50+), any other
numeric attribute at the reference data's quartiles. A missing value is its own group,
"(missing)", so rows never silently disappear from a fairness review.

The heavy lifting is one SQL aggregate: counts per (window, attribute values, predicted,
label). Group metrics come from fairlearn's MetricFrame over those count cells (counts as
sample weights), which equals MetricFrame on the raw rows.
"""

from __future__ import annotations

import itertools
import math
import re
from functools import partial
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from sklearn.metrics import accuracy_score, precision_score

from vigil.core.contract import FeatureSpec
from vigil.core.monitor.fairness.results import MISSING, FairnessError
from vigil.core.monitor.selection import Selection, log_table, reference_table
from vigil.core.monitor.windows import Window, Windowing
from vigil.core.registry.versions import ModelVersion
from vigil.core.store.pending import LABELS
from vigil.core.store.sql import quote_ident

AGE_EDGES = (25, 35, 50)


def metric_key(text: str) -> str:
    """'sex × age' -> 'sex_x_age': how metric names carry an attribute."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def band_labels(edges: tuple[float, ...], integer: bool) -> tuple[str, ...]:
    """'<25', '25–34', '35–49', '50+' for integer edges (25, 35, 50)."""

    def fmt(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else f"{x:g}"

    labels = [f"<{fmt(edges[0])}"]
    for low, high in itertools.pairwise(edges):
        upper = fmt(high - 1) if integer and float(high).is_integer() else f"<{fmt(high)}"
        labels.append(f"{fmt(low)}–{upper}")
    labels.append(f"{fmt(edges[-1])}+")
    return tuple(labels)


def band_sql(column: str, edges: tuple[float, ...], labels: tuple[str, ...]) -> str:
    parts = [f"WHEN {column} IS NULL THEN '{MISSING}'"]
    for edge, label in zip(edges, labels, strict=False):
        parts.append(f"WHEN {column} < {edge!r} THEN '{label}'")
    return f"CASE {' '.join(parts)} ELSE '{labels[-1]}' END"


def _edges(
    con: duckdb.DuckDBPyConnection, version: ModelVersion, spec: FeatureSpec
) -> tuple[float, ...]:
    if spec.name == "age":
        return AGE_EDGES
    row = con.execute(
        f"SELECT quantile_cont({quote_ident(spec.name)}, [0.25, 0.5, 0.75]) "
        f"FROM {reference_table(con, version.model_name)} WHERE model_version = ?",
        [version.model_version],
    ).fetchone()
    quartiles = row[0] if row and row[0] else []
    if spec.type == "integer":
        quartiles = [round(q) for q in quartiles]
    edges = tuple(sorted(set(quartiles)))
    if not edges:
        raise FairnessError(
            f"Cannot band sensitive attribute '{spec.name}': its reference data is empty."
        )
    return edges


def group_exprs(
    con: duckdb.DuckDBPyConnection, version: ModelVersion
) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """SQL per sensitive column giving its group label, and band orders for numeric ones."""
    exprs: dict[str, str] = {}
    bands: dict[str, tuple[str, ...]] = {}
    for spec in version.sensitive:
        column = f"l.{quote_ident(spec.name)}"
        if spec.type in ("integer", "number") and not spec.categorical:
            edges = _edges(con, version, spec)
            labels = band_labels(edges, spec.type == "integer")
            exprs[spec.name] = band_sql(column, edges, labels)
            bands[spec.name] = (*labels, MISSING)
        else:
            exprs[spec.name] = f"coalesce(CAST({column} AS VARCHAR), '{MISSING}')"
    return exprs, bands


def cells(
    con: duckdb.DuckDBPyConnection,
    selection: Selection,
    version: ModelVersion,
    windowing: Windowing,
    windows: list[Window],
    exprs: dict[str, str],
) -> pd.DataFrame:
    """Counts per (window, sensitive groups, predicted, label): the only rows leaving DuckDB."""
    where, params = selection.where("l")
    groups = ", ".join(f"{expr} AS {quote_ident(name)}" for name, expr in exprs.items())
    return con.execute(
        f"""
        SELECT {windowing.key_sql("l.served_at", windows)} AS window_start, {groups},
               CAST(l.prediction >= ? AS INTEGER) AS y_pred,
               CAST(b.label AS INTEGER) AS y_true,
               count(*) AS n
        FROM {log_table(con, selection.model_name)} AS l
        LEFT JOIN {LABELS} AS b ON b.model_name = ? AND b.prediction_id = l.prediction_id
        WHERE {where} AND l.status = 'ok' AND l.prediction IS NOT NULL
        GROUP BY ALL
        """,
        [version.decision_threshold, selection.model_name, *params],
    ).df()


def counts(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group: rows, selected, labelled, TP, FP, FN, TN."""
    labelled = frame["y_true"].notna()
    n, y_true, y_pred = frame["n"], frame["y_true"], frame["y_pred"]
    table = pd.DataFrame(
        {
            **{c: frame[c] for c in by},
            "rows": n,
            "selected": n * y_pred,
            "labelled": n * labelled,
            "tp": n * (labelled & (y_true == 1) & (y_pred == 1)),
            "fp": n * (labelled & (y_true == 0) & (y_pred == 1)),
            "fn": n * (labelled & (y_true == 1) & (y_pred == 0)),
            "tn": n * (labelled & (y_true == 0) & (y_pred == 0)),
        }
    )
    return table.groupby(by, sort=False).sum().astype(int)


def metric_frames(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """fairlearn MetricFrame by group over the count cells (counts as sample weights)."""
    everyone = MetricFrame(
        metrics={"selection_rate": selection_rate},
        y_true=frame["y_pred"].to_numpy(),  # unused by selection_rate; labels may be absent
        y_pred=frame["y_pred"].to_numpy(),
        sensitive_features=frame["group"],
        sample_params={"selection_rate": {"sample_weight": frame["n"].to_numpy(dtype=float)}},
    ).by_group
    labelled = frame[frame["y_true"].notna()]
    if labelled.empty:
        return everyone, pd.DataFrame()
    metrics = {
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "precision": partial(precision_score, zero_division=np.nan),
        "accuracy": accuracy_score,
    }
    weights = labelled["n"].to_numpy(dtype=float)
    outcomes = MetricFrame(
        metrics=metrics,
        y_true=labelled["y_true"].to_numpy(dtype=int),
        y_pred=labelled["y_pred"].to_numpy(dtype=int),
        sensitive_features=labelled["group"],
        sample_params={m: {"sample_weight": weights} for m in metrics},
    ).by_group
    return everyone, outcomes


def rates(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same metrics as metric_frames, by arithmetic on the counts: used per window, where
    a MetricFrame per (window, group) costs seconds (tests check both against fairlearn on
    the raw rows)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        everyone = pd.DataFrame({"selection_rate": table["selected"] / table["rows"]})
        outcomes = pd.DataFrame(
            {
                "tpr": table["tp"] / (table["tp"] + table["fn"]),
                "fpr": table["fp"] / (table["fp"] + table["tn"]),
                "precision": table["tp"] / (table["tp"] + table["fp"]),
                "accuracy": (table["tp"] + table["tn"]) / table["labelled"],
            }
        )
    return everyone, outcomes


def value_at(frame: pd.DataFrame, index: Any, column: str, defined: bool) -> float | None:
    if not defined or frame.empty or index not in frame.index:
        return None
    value = frame.loc[index, column]
    return None if value is None or not math.isfinite(float(value)) else float(value)


def label_groups(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    if len(columns) == 1:
        return frame[columns[0]].astype(str)
    return frame[list(columns)].astype(str).agg(", ".join, axis=1)


def group_order(
    frame: pd.DataFrame, columns: tuple[str, ...], bands: dict[str, tuple[str, ...]]
) -> list[str]:
    """Bands in their order, other values sorted, the missing group last; crossed in order."""
    per_column = []
    for column in columns:
        present = set(frame[column].astype(str))
        if column in bands:
            per_column.append([b for b in bands[column] if b in present])
        else:
            per_column.append(
                sorted(present - {MISSING}) + ([MISSING] if MISSING in present else [])
            )
    return [", ".join(parts) for parts in itertools.product(*per_column)]
