"""AppTest: the Explanations page shows SHAP numbers and reasons equal to core's, for a
picked or typed id, keeps the id box and the picker in agreement, and keeps the rest of the
page when an id is unknown."""

from __future__ import annotations

import pytest
from scipy.special import expit

from tests.app.helpers import default_selection, run_page, texts
from vigil.core.explain import importance, local
from vigil.core.registry.versions import get_version
from vigil.core.responsible import reasons
from vigil.core.store.connection import Store

ID_KEY, PICK_KEY = "explain_prediction_id", "explain_recent"


def _table(at, column: str):
    """The page's table that has `column` (tables are found by content, not position)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _tables(at, column: str):
    return [d.value for d in at.dataframe if column in d.value.columns]


def _shown(at) -> dict[str, float]:
    table = _table(at, "Contribution")
    return dict(zip(table["Feature"], table["Contribution"], strict=True))


def test_latest_prediction_is_explained_with_core_numbers_and_reasons(demo_store: Store) -> None:
    at = run_page(demo_store, "explain", user="vic")
    assert not at.exception
    assert at.title[0].value == "Explanations"
    recent = local.recent_predictions(demo_store, default_selection(demo_store), 50)
    latest = recent[0].prediction_id
    assert at.text_input(key=ID_KEY).value == latest
    assert at.selectbox(key=PICK_KEY).value == latest
    result, why = reasons.prediction_reasons(demo_store, "credit-risk", latest)
    assert _shown(at) == pytest.approx({c.feature: c.contribution for c in result.contributions})
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Probability"] == f"{result.probability:.3f}"
    shown = texts(at)
    assert "Exact TreeSHAP:" in shown
    assert "The same numbers as shap's TreeExplainer on the original model." in shown
    assert "Base value + contributions = model output." in shown
    assert why.decision in shown
    # Reasons: the metadata's texts, largest first, effects in percentage points computed
    # independently here from the log-odds contributions.
    lowered, raised = _tables(at, "Reason")
    negative = sorted(
        (c for c in result.contributions if c.contribution < 0), key=lambda c: c.contribution
    )
    assert list(lowered["Feature"]) == [c.feature for c in negative[:4]]
    effects = [
        100 * (expit(result.output_value) - expit(result.output_value - c.contribution))
        for c in negative[:4]
    ]
    assert list(lowered["Effect (pp)"]) == pytest.approx(effects, abs=1e-9)
    with demo_store.connect() as con:
        specs = {f.name: f for f in get_version(con, "credit-risk", "1.0").features}
    assert list(lowered["Reason"]) == [specs[c.feature].reason_lowers for c in negative[:4]]
    assert list(raised["Reason"]) == [specs[f].reason_raises for f in raised["Feature"]]
    assert all(v > 0 for v in raised["Effect (pp)"])
    # The rest of the page: global importance over the default range.
    ranked = importance.global_importance(demo_store, default_selection(demo_store))
    assert "Mean |SHAP| over a seeded sample of 300 predictions" in shown
    table = _table(at, "Mean |SHAP|")
    assert list(table["Feature"]) == list(ranked.features)
    assert list(table["Mean |SHAP|"]) == pytest.approx(list(ranked.mean_abs))
    assert "sex" not in list(table["Feature"])  # recorded, never a model input
    assert list(_table(at, "Prediction id")["Prediction id"]) == [r.prediction_id for r in recent]


def test_typing_an_id_moves_the_picker_and_picking_fills_the_box(demo_store: Store) -> None:
    at = run_page(demo_store, "explain", user="rita")
    recent = [
        r.prediction_id for r in local.recent_predictions(demo_store, default_selection(demo_store))
    ]
    at.text_input(key=ID_KEY).input(recent[3]).run()
    assert not at.exception
    assert at.selectbox(key=PICK_KEY).value == recent[3]
    expected = local.explain_prediction(demo_store, "credit-risk", recent[3])
    assert _shown(at) == pytest.approx({c.feature: c.contribution for c in expected.contributions})
    # An id outside the latest 50: the picker says so (no value) and the id is explained.
    at.text_input(key=ID_KEY).input("cr-20261001-0006-v1.0").run()
    assert at.selectbox(key=PICK_KEY).value is None
    expected = local.explain_prediction(demo_store, "credit-risk", "cr-20261001-0006-v1.0")
    assert _shown(at) == pytest.approx({c.feature: c.contribution for c in expected.contributions})
    at.selectbox(key=PICK_KEY).select(recent[1]).run()
    assert at.text_input(key=ID_KEY).value == recent[1]
    expected = local.explain_prediction(demo_store, "credit-risk", recent[1])
    assert _shown(at) == pytest.approx({c.feature: c.contribution for c in expected.contributions})


def test_an_unknown_id_is_an_error_and_the_rest_of_the_page_stays(demo_store: Store) -> None:
    at = run_page(demo_store, "explain", user="rita")
    at.text_input(key=ID_KEY).input("cr-nope").run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "No prediction with id 'cr-nope' is logged for credit-risk. Check the id (it is "
        "case-sensitive), or pick one from the recent predictions."
    ]
    assert at.selectbox(key=PICK_KEY).value is None
    assert not _tables(at, "Contribution")  # no stale explanation of another id
    shown = texts(at)
    assert "Which features the model leans on" in shown and "Attribution drift" in shown
    assert _tables(at, "Mean |SHAP|")
