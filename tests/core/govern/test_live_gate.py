"""The live challenger gate's comparison: pairing, tests and verdicts, against sklearn and pandas."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from tests.core.factories import register_toy
from vigil.core.govern.auth import User
from vigil.core.govern.gates.live import Pairing, compare_live, describe
from vigil.core.govern.history import DeploymentEvent, import_deployments
from vigil.core.ingest.labels import ingest_labels
from vigil.core.ingest.predictions import ingest_predictions
from vigil.core.registry.versions import get_version
from vigil.core.stats.comparison import ComparisonVerdict
from vigil.core.store.connection import Store

ADAM = User("adam", "admin")
START = pd.Timestamp("2026-03-01T08:00:00")


def _toy_pair(store: Store, folder: Path) -> None:
    """Toy versions 1 (champion, live since before the traffic) and 2 (the candidate)."""
    register_toy(store, folder, "1")
    register_toy(store, folder, "2")
    with store.transaction() as con:
        import_deployments(
            con, ADAM, "toy", [DeploymentEvent("1", dt.datetime(2026, 2, 1), "rita")],
            source="test",
        )  # fmt: skip


def _log(
    folder: Path, version: str, ids: list[str], scores: np.ndarray, minutes: np.ndarray
) -> Path:
    n = len(ids)
    frame = pd.DataFrame(
        {
            "prediction_id": ids,
            "model_name": "toy",
            "model_version": version,
            "timestamp": [(START + pd.Timedelta(minutes=float(m))).isoformat() for m in minutes],
            "income": 50.0,
            "tenure": 3,
            "region": ["north", "south"] * (n // 2) + ["east"] * (n % 2),
            "prediction": np.round(scores, 6),
            "latency_ms": 10.0,
            "status": "ok",
        }
    )
    path = folder / f"log-{version}-{ids[0]}.csv"
    frame.to_csv(path, index=False)
    return path


def _labels(folder: Path, ids: list[str], y: np.ndarray) -> Path:
    path = folder / f"labels-{ids[0]}.csv"
    pd.DataFrame(
        {"prediction_id": ids, "label": y.astype(int), "label_timestamp": "2026-04-01T00:00:00Z"}
    ).to_csv(path, index=False)
    return path


def _ingest(store: Store, logs: list[Path], labels: list[Path]) -> None:
    for path in logs:
        assert ingest_predictions(store, "toy", path).quarantined == 0
    for path in labels:
        assert ingest_labels(store, "toy", path).quarantined == 0


def _shadow(
    store: Store, folder: Path, n: int, noise: float, labelled: int, seed: int = 1
) -> tuple:
    """n requests scored by both versions (ids r<i>-v1 / r<i>-v2); the first `labelled` get a
    label on the champion's row only, as feedback reaches the answer customers saw."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    champion = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.2, n), 0, 1)
    candidate = np.clip(champion + rng.normal(0, noise, n) - 0.4 * noise * (y - 0.5), 0, 1)
    champion, candidate = np.round(champion, 6), np.round(candidate, 6)  # as logged
    minutes = np.arange(n) * 5.0
    keys = [f"r{i}" for i in range(n)]
    _ingest(
        store,
        [
            _log(folder, "1", [f"{k}-v1" for k in keys], champion, minutes),
            _log(folder, "2", [f"{k}-v2" for k in keys], candidate, minutes),
        ],
        [_labels(folder, [f"{k}-v1" for k in keys[:labelled]], y[:labelled])],
    )
    return y[:labelled], candidate[:labelled], champion[:labelled]


def _compare(store: Store, margin: float = 0.01):
    with store.connect() as con:
        return compare_live(con, get_version(con, "toy", "2"), get_version(con, "toy", "1"), margin)


def test_worse_candidate_on_shadow_traffic_fails(store: Store, tmp_path: Path) -> None:
    _toy_pair(store, tmp_path)
    y, candidate, champion = _shadow(store, tmp_path, 2000, noise=0.35, labelled=1500)
    live = _compare(store)
    assert (live.pairing, live.pairs, live.labelled, live.candidate_rows) == (
        Pairing.ID_SUFFIX,
        2000,
        1500,
        2000,
    )
    auc, accuracy = live.metrics
    assert auc.decision.comparison.candidate == pytest.approx(roc_auc_score(y, candidate))
    assert auc.decision.comparison.champion == pytest.approx(roc_auc_score(y, champion))
    assert auc.decision.comparison.method == "DeLong test (paired)"
    assert accuracy.decision.comparison.candidate == pytest.approx(
        accuracy_score(y, candidate >= 0.5)
    )
    assert auc.decision.comparison.ci_high < -0.01  # the whole interval below -margin
    assert live.verdict is ComparisonVerdict.FAIL
    text = describe(live)
    assert text.startswith("2 is worse than champion 1 on ROC AUC")
    assert "the margin of 0.01" in text and "the same 1,500 labelled shadow requests" in text
    assert f"ROC AUC {roc_auc_score(y, candidate):.3f} vs {roc_auc_score(y, champion):.3f}" in text


def test_nearly_identical_candidate_passes(store: Store, tmp_path: Path) -> None:
    _toy_pair(store, tmp_path)
    _shadow(store, tmp_path, 3000, noise=0.002, labelled=3000)
    live = _compare(store)
    assert live.verdict is ComparisonVerdict.PASS
    for metric in live.metrics:
        _, low, _ = metric.decision.comparison.gain
        assert low >= -0.01
    assert describe(live).startswith("2 is not worse than champion 1 by more than the margin")


def test_too_few_labels_says_how_many_more(store: Store, tmp_path: Path) -> None:
    _toy_pair(store, tmp_path)
    y, _, _ = _shadow(store, tmp_path, 200, noise=0.1, labelled=20)
    live = _compare(store)
    assert live.verdict is ComparisonVerdict.INCONCLUSIVE
    positives = int(y.sum())
    rate = min(positives, 20 - positives) / 20
    expected = int(np.ceil((30 - min(positives, 20 - positives)) / rate))
    assert live.labels_needed == expected
    assert describe(live).startswith(
        f"Not enough labelled shadow traffic to tell whether 2 is worse than champion 1 by "
        f"more than 0.01: about {expected:,} more labelled requests needed."
    )


def test_canary_traffic_is_compared_unpaired(store: Store, tmp_path: Path) -> None:
    """Each version answers its own requests: no pairs, DeLong on two samples."""
    _toy_pair(store, tmp_path)
    rng = np.random.default_rng(5)
    n = 800
    y_c, y_h = rng.integers(0, 2, n), rng.integers(0, 2, n)
    s_c = np.clip(0.5 + 0.2 * (y_c - 0.5) + rng.normal(0, 0.2, n), 0, 1)
    s_h = np.clip(0.5 + 0.2 * (y_h - 0.5) + rng.normal(0, 0.2, n), 0, 1)
    ids_c, ids_h = [f"c{i}" for i in range(n)], [f"h{i}" for i in range(n)]
    minutes = np.arange(n) * 3.0
    _ingest(
        store,
        [_log(tmp_path, "2", ids_c, s_c, minutes), _log(tmp_path, "1", ids_h, s_h, minutes)],
        [_labels(tmp_path, ids_c, y_c), _labels(tmp_path, ids_h, y_h)],
    )
    live = _compare(store)
    assert (live.pairing, live.pairs, live.champion_rows) == (Pairing.NONE, 0, n)
    auc = live.metrics[0].decision.comparison
    assert auc.method == "DeLong test (unpaired)"
    assert (auc.candidate_n, auc.champion_n) == (n, n)
    assert auc.candidate == pytest.approx(roc_auc_score(y_c, s_c))
    assert auc.champion == pytest.approx(roc_auc_score(y_h, s_h))
    assert "labelled live predictions of 2 against those of 1 over the same days" in describe(live)


def test_plain_ids_of_two_streams_never_pair(store: Store, tmp_path: Path) -> None:
    """Equal ids without the candidate's version suffix are not taken for the same request."""
    _toy_pair(store, tmp_path)
    n = 100
    ids = [f"p{i}" for i in range(n)]
    scores = np.linspace(0.1, 0.9, n)
    minutes = np.arange(n) * 1.0
    _ingest(
        store,
        [_log(tmp_path, "1", ids, scores, minutes)],
        [],
    )
    other = tmp_path / "other"
    other.mkdir()
    _ingest(store, [_log(other, "2", [f"q{i}" for i in range(n)], scores, minutes)], [])
    assert _compare(store).pairing is Pairing.NONE


def test_gateway_request_ids_pair_rows(store: Store, tmp_path: Path) -> None:
    """Rows the gateway logged for one request pair through serve_predictions, whatever their ids."""
    _toy_pair(store, tmp_path)
    _shadow(store, tmp_path, 300, noise=0.05, labelled=300, seed=3)
    with store.transaction() as con:  # the gateway's side table, request ids unrelated to ids
        con.execute(
            "INSERT INTO serve_predictions SELECT 'toy', prediction_id, "
            "'req-' || regexp_replace(prediction_id, '-v[12]$', ''), "
            "CASE model_version WHEN '1' THEN 'champion' ELSE 'shadow' END, NULL, 'w1', served_at "
            "FROM log_toy"
        )
    live = _compare(store)
    assert (live.pairing, live.pairs, live.labelled) == (Pairing.REQUEST_ID, 300, 300)


def test_no_candidate_traffic_cannot_apply(store: Store, tmp_path: Path) -> None:
    from vigil.core.govern.gates.live import NothingToCompare

    _toy_pair(store, tmp_path)
    _ingest(
        store, [_log(tmp_path, "1", ["a-v1", "b-v1"], np.array([0.2, 0.8]), np.array([0, 1]))], []
    )
    with pytest.raises(NothingToCompare) as err:
        _compare(store)
    assert str(err.value).startswith("2 served no live traffic (shadow, canary or A/B)")


def test_demo_shadow_comparison_matches_pandas_and_sklearn(demo_store: Store) -> None:
    """1.1 against 1.0 on the demo: the same requests found independently with pandas."""
    with demo_store.connect() as con:
        live = compare_live(
            con, get_version(con, "credit-risk", "1.1"), get_version(con, "credit-risk", "1.0"),
            0.01,
        )  # fmt: skip
        logs = con.execute(
            "SELECT prediction_id, model_version, served_at, prediction, status "
            "FROM log_credit_risk WHERE served_at >= ? AND served_at < ?",
            [live.start, live.end],
        ).df()
        labels = con.execute(
            "SELECT prediction_id, label FROM labels WHERE model_name = 'credit-risk'"
        ).df()
    ok = logs[logs["status"] == "ok"].copy()
    ok["key"] = ok["prediction_id"].str.replace(r"-v1\.[01]$", "", regex=True)
    cand = ok[ok["model_version"] == "1.1"]
    champ = ok[ok["model_version"] == "1.0"]
    pairs = cand.merge(champ, on="key", suffixes=("_c", "_h"))
    assert live.pairing is Pairing.ID_SUFFIX and live.pairs == len(pairs)
    by_id = labels.set_index("prediction_id")["label"]
    pairs["label"] = pairs["prediction_id_h"].map(by_id).fillna(pairs["prediction_id_c"].map(by_id))
    labelled = pairs[pairs["label"].notna()]
    assert live.labelled == len(labelled)
    auc = live.metrics[0].decision.comparison
    assert auc.candidate == pytest.approx(
        roc_auc_score(labelled["label"], labelled["prediction_c"])
    )
    assert auc.champion == pytest.approx(roc_auc_score(labelled["label"], labelled["prediction_h"]))
    # on the same requests 1.1 is not significantly worse: the gate cannot tell yet
    assert live.verdict is ComparisonVerdict.INCONCLUSIVE and live.labels_needed > 1000
