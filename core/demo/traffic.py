"""Simulated production traffic for the demo model: 90 days, scored by onnxruntime.

What is injected, so that the monitoring pages have something true to find:
- data drift from day 60: credit amounts rise by 60 % and the purpose mix moves
  towards cars and business; every other feature keeps its distribution;
- concept drift from day 30: long loans (duration >= 24 months) default at one flat rate,
  while the inputs stay as they were (until the data drift begins);
- latency with a long tail, a few error rows, labels that arrive 7 to 35 days late, and
  labels that never arrive.
Outcomes come from a logistic "world" model fitted to the German credit data, so the
served model is judged against outcomes it has not memorised.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from vigil.core.contract import FeatureSpec
from vigil.core.demo.model import CATEGORICAL, LOGGED, SENSITIVE_ONLY, TARGET
from vigil.core.registry.artifacts import score

DAYS = 90
NEVER_LABELLED = 0.08
ERROR_RATE = 0.004


@dataclass(frozen=True)
class Calendar:
    """The demo's dates, all derived from the last simulated day (by default, yesterday)."""

    end: dt.date  # exclusive: the day the simulation stands on ("today" for label arrival)

    @property
    def start(self) -> dt.date:
        return self.end - dt.timedelta(days=DAYS)

    @property
    def concept_drift_start(self) -> dt.date:
        return self.start + dt.timedelta(days=30)

    @property
    def data_drift_start(self) -> dt.date:
        return self.start + dt.timedelta(days=60)

    @property
    def shadow_start(self) -> dt.date:
        """The challenger scores in shadow from here."""
        return self.start + dt.timedelta(days=69)


@dataclass(frozen=True)
class Traffic:
    logs: pd.DataFrame
    labels: pd.DataFrame


def world_model(data: pd.DataFrame) -> Pipeline:
    """The simulated 'truth': P(good risk | applicant), fitted once on the real data (with
    every recorded column, sex included: outcomes depend on whatever they depend on; the
    served model does not see sex)."""
    encode = ColumnTransformer(
        [
            (
                "categories",
                OneHotEncoder(handle_unknown="ignore"),
                [*SENSITIVE_ONLY, *CATEGORICAL, "job"],
            ),
            ("numbers", StandardScaler(), ["credit_amount", "duration", "age"]),
        ]
    )
    model = Pipeline([("encode", encode), ("logit", LogisticRegression(C=0.5, max_iter=2000))])
    return model.fit(data[LOGGED], data[TARGET])


def _daily_volume(day: dt.date, rng: np.random.Generator) -> int:
    base = 420 if day.weekday() < 5 else 170
    return int(rng.poisson(base))


def _applicants(
    data: pd.DataFrame, n: int, day: dt.date, drift_from: dt.date, rng: np.random.Generator
) -> pd.DataFrame:
    rows = data.iloc[rng.integers(0, len(data), n)][LOGGED].reset_index(drop=True)
    amount = rows["credit_amount"].to_numpy(float) * rng.lognormal(0.0, 0.08, n)
    if day >= drift_from:
        amount *= 1.6
        move = rng.random(n) < 0.45
        rows.loc[move, "purpose"] = rng.choice(["car", "business"], move.sum(), p=[0.6, 0.4])
    rows["credit_amount"] = np.round(amount, 0)
    rows["age"] = np.clip(rows["age"].to_numpy() + rng.integers(-1, 2, n), 19, 75)
    return rows


def _timestamps(day: dt.date, n: int, rng: np.random.Generator) -> pd.Series:
    hours = np.clip(rng.normal(13.0, 3.2, n), 0, 23.999)
    start = pd.Timestamp(day)
    return pd.Series(start + pd.to_timedelta(np.sort(hours) * 3600.0, unit="s")).dt.round("ms")


def _outcomes(
    world: Pipeline, rows: pd.DataFrame, concept_drift: bool, rng: np.random.Generator
) -> np.ndarray:
    p_good = world.predict_proba(rows[LOGGED])[:, 1]
    if concept_drift:
        # Long loans start defaulting at one rate whatever the applicant looks like: the
        # relation the model learnt no longer holds there, though the inputs look the same.
        p_good = np.where(rows["duration"].to_numpy() >= 24, 0.35, p_good)
    return np.asarray(rng.random(len(rows)) < p_good, dtype=np.int64)


def _latency(n: int, rng: np.random.Generator) -> np.ndarray:
    latency = rng.lognormal(np.log(18.0), 0.35, n)
    tail = rng.random(n) < 0.02
    latency[tail] *= rng.uniform(4, 25, tail.sum())
    return np.round(latency, 2)


def simulate(
    data: pd.DataFrame,
    sessions: dict[str, ort.InferenceSession],
    features: tuple[FeatureSpec, ...],
    *,
    champion: str,
    challenger: str,
    calendar: Calendar,
    seed: int = 20260824,
) -> Traffic:
    """Every applicant is scored by the champion; from SHADOW_START also by the challenger."""
    rng = np.random.default_rng(seed)
    world = world_model(data)
    logs, labels = [], []
    for offset in range(DAYS):
        day = calendar.start + dt.timedelta(days=offset)
        n = _daily_volume(day, rng)
        rows = _applicants(data, n, day, calendar.data_drift_start, rng)
        served_at = _timestamps(day, n, rng)
        outcome = _outcomes(world, rows, day >= calendar.concept_drift_start, rng)
        delay_days = rng.uniform(7, 35, n)
        arrives = served_at + pd.to_timedelta(delay_days, unit="D")
        labelled = (rng.random(n) >= NEVER_LABELLED) & (arrives < pd.Timestamp(calendar.end))
        ids = [f"cr-{day:%Y%m%d}-{i:04d}" for i in range(n)]
        versions = [champion] + ([challenger] if day >= calendar.shadow_start else [])
        for version in versions:
            frame = rows.copy()
            frame.insert(0, "prediction_id", [f"{i}-v{version}" for i in ids])
            frame.insert(1, "model_name", "credit-risk")
            frame.insert(2, "model_version", version)
            frame.insert(3, "timestamp", served_at.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
            prediction = score(sessions[version], rows, features)
            status = np.where(rng.random(n) < ERROR_RATE, "error", "ok")
            status = np.where((status == "error") & (rng.random(n) < 0.5), "timeout", status)
            frame["prediction"] = np.where(status == "ok", np.round(prediction, 6), np.nan)
            label = np.where(prediction >= 0.5, "1", "0").astype(object)
            frame["predicted_label"] = np.where(status == "ok", label, np.array(None))
            latency = _latency(n, rng)
            frame["latency_ms"] = np.where(status == "timeout", 2000.0, latency)
            frame["status"] = status
            logs.append(frame)
            ok = labelled & (status == "ok")
            labels.append(
                pd.DataFrame(
                    {
                        "prediction_id": frame["prediction_id"][ok].to_numpy(),
                        "label": outcome[ok],
                        "label_timestamp": arrives[ok].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }
                )
            )
    return Traffic(pd.concat(logs, ignore_index=True), pd.concat(labels, ignore_index=True))
