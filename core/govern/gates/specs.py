"""The gates: their names, the words people read, and how each threshold bounds a value.

| gate               | passes when                                                     | default |
|--------------------|-----------------------------------------------------------------|---------|
| validation_roc_auc | holdout roc_auc >= threshold (binary classifiers only)          | 0.70    |
| fairness_parity    | every holdout demographic_parity_ratio_<attribute> recorded,    | 0.80    |
|                    | for each sensitive attribute and pair, >= threshold (gates.     |         |
|                    | fairness); unrecorded ones are named, and judged live           |         |
| drift_psi          | max PSI over features, candidate reference vs the champion's    | 0.25    |
|                    | last 30 days of traffic, <= threshold                           |         |
| artifact_integrity | the stored artifact still has its registered SHA-256            |   —     |
| inventory          | owner, intended use, limitations, risk tier and a next review   |   —     |
|                    | date that is not in the past are all recorded                   |         |
| findings           | no high-severity finding of the model is open (closing one takes |   —     |
|                    | evidence and a second person); an override cannot lift it       |         |
| robustness         | on live traffic, the share of decisions that flip under a small |  0.10   |
|                    | move of one input <= threshold (core.responsible.robustness)    |         |
| monotonic          | on the same rows, the share breaking a declared monotonic       |  0      |
|                    | relation <= threshold (by default no row may)                   |         |
| live_challenger    | on labelled live traffic, the candidate is not significantly    |  0.01   |
|                    | worse than the champion by more than this margin (ROC AUC and   |         |
|                    | accuracy; MAE and RMSE relative to the champion's value);       |         |
|                    | paired on shared requests, else unpaired (gates.live)           |         |
| open_alerts        | no critical alert of the candidate is open                      |   —     |
| fairness_live      | on the candidate's own live traffic, every judged group of      | 0.80    |
|                    | every sensitive attribute and pair gets a favourable rate       |         |
|                    | >= threshold x the most favoured group's (four-fifths rule)     |         |

A threshold's bound says which way loosens the gate: lowering a minimum or raising a maximum
lets more versions through, and that kind of change waits for a second admin
(core.govern.policy.changes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from vigil.core.govern.policy.thresholds import Bound
from vigil.core.responsible.robustness import FLIP_THRESHOLD, MONOTONIC_THRESHOLD
from vigil.core.stats.disparity import FOUR_FIFTHS
from vigil.core.stats.psi import PSI_MAJOR_SHIFT

DRIFT_WINDOW = dt.timedelta(days=30)


class Gate(StrEnum):
    VALIDATION_ROC_AUC = "validation_roc_auc"
    FAIRNESS_PARITY = "fairness_parity"
    DRIFT_PSI = "drift_psi"
    ARTIFACT_INTEGRITY = "artifact_integrity"
    INVENTORY = "inventory"
    FINDINGS = "findings"
    ROBUSTNESS = "robustness"
    MONOTONIC = "monotonic"
    LIVE_CHALLENGER = "live_challenger"
    OPEN_ALERTS = "open_alerts"
    FAIRNESS_LIVE = "fairness_live"


@dataclass(frozen=True)
class GateSpec:
    gate: Gate
    label: str
    help: str
    default: float | None = None
    bound: Bound | None = None
    ceiling: float | None = None  # the largest threshold that makes sense (1 for ratios)
    overridable: bool = True  # False: only fixing the cause lifts it


GATES: tuple[GateSpec, ...] = (
    GateSpec(
        Gate.VALIDATION_ROC_AUC,
        "Validation ROC AUC (holdout)",
        "Minimum holdout ROC AUC recorded at registration.",
        0.70,
        Bound.MINIMUM,
        1.0,
    ),
    GateSpec(
        Gate.FAIRNESS_PARITY,
        "Fairness at validation (four-fifths rule, holdout)",
        "Minimum ratio of the lowest to the highest group selection rate recorded on the "
        "holdout, for every sensitive attribute and pair of them (four-fifths rule).",
        FOUR_FIFTHS,
        Bound.MINIMUM,
        1.0,
    ),
    GateSpec(
        Gate.DRIFT_PSI,
        "Drift against production traffic (max PSI)",
        "Maximum population stability index of any feature, candidate reference vs the "
        "champion's last 30 days of traffic (0.1 minor, 0.25 major shift).",
        PSI_MAJOR_SHIFT,
        Bound.MAXIMUM,
    ),
    GateSpec(
        Gate.ARTIFACT_INTEGRITY,
        "Artifact hash intact",
        "The stored ONNX file still matches the SHA-256 recorded at registration.",
    ),
    GateSpec(
        Gate.INVENTORY,
        "Inventory entry complete",
        "Owner, intended use, limitations, risk tier and a next review date not in the past.",
    ),
    GateSpec(
        Gate.FINDINGS,
        "No open high-severity finding",
        "Every high-severity validation or monitoring finding of the model is closed, with "
        "evidence and by a second person (core.evidence.findings).",
        overridable=False,
    ),
    GateSpec(
        Gate.ROBUSTNESS,
        "Robustness on live traffic (decision flips)",
        "Maximum share of sampled live decisions that flip when one input moves a little "
        "(5 % of its standard deviation, or to a neighbouring declared category).",
        FLIP_THRESHOLD,
        Bound.MAXIMUM,
        1.0,
    ),
    GateSpec(
        Gate.MONOTONIC,
        "Declared monotonic relations on live traffic",
        "Maximum share of sampled live rows on which a monotonic relation declared in the "
        "metadata breaks (e.g. more savings lowers the score); 0: none may.",
        MONOTONIC_THRESHOLD,
        Bound.MAXIMUM,
        1.0,
    ),
    GateSpec(
        Gate.LIVE_CHALLENGER,
        "Candidate vs champion on live traffic",
        "Largest loss against the champion tolerated on labelled live (shadow or canary) "
        "traffic: the gate fails when the candidate is significantly worse by more than this "
        "margin (ROC AUC, accuracy; for regression MAE and RMSE, as a share of the champion's "
        "value), and says how many more labels a verdict needs when it cannot tell.",
        0.01,
        Bound.MAXIMUM,
        1.0,
    ),
    GateSpec(
        Gate.OPEN_ALERTS,
        "No open critical alert on the candidate",
        "Every critical alert of the candidate is resolved or snoozed with a note (the "
        "Alerts page).",
    ),
    GateSpec(
        Gate.FAIRNESS_LIVE,
        "Fairness on live traffic (four-fifths rule)",
        "Minimum ratio of each group's favourable-outcome rate to the most favoured group's, "
        "on the candidate's own live (shadow or canary) predictions, for every sensitive "
        "attribute and pair of them.",
        FOUR_FIFTHS,
        Bound.MINIMUM,
        1.0,
    ),
)
SPECS: dict[Gate, GateSpec] = {spec.gate: spec for spec in GATES}
WITH_THRESHOLD: tuple[GateSpec, ...] = tuple(s for s in GATES if s.default is not None)


def label(gate: str) -> str:
    """The words for a gate name, e.g. in a list of failed gates."""
    try:
        return SPECS[Gate(gate)].label
    except ValueError:
        return gate
