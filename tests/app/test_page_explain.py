"""AppTest: the Explanations page shows SHAP numbers equal to core's, for a picked or typed id."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.app.helpers import run_page, texts
from vigil.core.explain import attribution
from vigil.core.monitor.selection import Selection
from vigil.core.store.connection import Store

DEFAULT = Selection("credit-risk", "1.0", dt.datetime(2026, 10, 25), dt.datetime(2026, 11, 24))


def _table(at, column: str):
    """The page's table that has `column` (tables are found by content, not position)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _shown(at) -> dict[str, float]:
    table = _table(at, "Contribution")
    return dict(zip(table["Feature"], table["Contribution"], strict=True))


def test_latest_prediction_is_explained_with_core_numbers(demo_store: Store) -> None:
    at = run_page(demo_store, "explain", user="vic")
    assert not at.exception
    assert at.title[0].value == "Explanations"
    latest = attribution.recent_predictions(demo_store, DEFAULT, 1)[0]
    expected = attribution.explain_prediction(
        demo_store, "credit-risk", latest.prediction_id, model_version="1.0"
    )
    assert _shown(at) == pytest.approx({c.feature: c.contribution for c in expected.contributions})
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Probability"] == f"{expected.probability:.3f}"
    shown = texts(at)
    assert "Base value + contributions = model output." in shown
    assert "Mean |SHAP| over a seeded sample of 300 predictions" in shown
    importance = attribution.global_importance(demo_store, DEFAULT)
    recent = _table(at, "Prediction id")
    assert list(recent["Prediction id"]) == [
        r.prediction_id for r in attribution.recent_predictions(demo_store, DEFAULT, 50)
    ]
    table = _table(at, "Mean |SHAP|")
    assert list(table["Feature"]) == list(importance.features)
    assert list(table["Mean |SHAP|"]) == pytest.approx(list(importance.mean_abs))


def test_typing_an_id(demo_store: Store) -> None:
    at = run_page(demo_store, "explain", user="rita")
    at.text_input(key="explain_prediction_id").input("cr-20261001-0006-v1.0").run()
    assert not at.exception
    expected = attribution.explain_prediction(demo_store, "credit-risk", "cr-20261001-0006-v1.0")
    assert _shown(at) == pytest.approx({c.feature: c.contribution for c in expected.contributions})


def test_an_unknown_id_is_an_error_message(demo_store: Store) -> None:
    at = run_page(demo_store, "explain", user="rita")
    at.text_input(key="explain_prediction_id").input("cr-nope").run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "No prediction with id 'cr-nope' is logged for credit-risk. Check the id (it is "
        "case-sensitive), or pick one from the recent predictions."
    ]
