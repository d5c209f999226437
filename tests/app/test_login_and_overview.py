"""AppTest: signing in, wrong passwords, and the Overview a signed-in reviewer sees."""

from __future__ import annotations

from tests.app.helpers import app_test, default_selection, run_page, texts
from tests.conftest import DEMO_PASSWORD
from vigil.core.store.connection import Store
from vigil.core.views import overview


def _sign_in(store: Store, user: str, password: str):
    at = app_test(store)
    at.run()
    at.text_input[0].input(user)
    at.text_input[1].input(password)
    at.button[0].click()
    at.run()
    return at


def test_login_form_is_shown_first(demo_store: Store) -> None:
    at = app_test(demo_store)
    at.run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert "Overview" not in [t.value for t in at.title]


def test_wrong_password_is_refused_with_one_message(demo_store: Store) -> None:
    at = _sign_in(demo_store, "rita", "not-her-password")
    assert [e.value for e in at.error] == ["Unknown user name or wrong password."]
    unknown = _sign_in(demo_store, "nobody", DEMO_PASSWORD)
    assert [e.value for e in unknown.error] == ["Unknown user name or wrong password."]


def test_sign_in_opens_the_overview(demo_store: Store) -> None:
    at = _sign_in(demo_store, "rita", DEMO_PASSWORD)
    assert not at.exception
    assert at.title[0].value == "Overview · credit-risk"
    assert "rita" in texts(at) and "approver" in texts(at)


def test_overview_numbers_come_from_core(demo_store: Store) -> None:
    at = run_page(demo_store, "overview", user="vic")
    assert not at.exception, at.exception
    shown = {m.label: m.value for m in at.metric}
    selection = default_selection(demo_store)  # the whole span of the version's traffic
    with demo_store.connect() as con:
        total, errors = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE status <> 'ok') FROM log_credit_risk "
            "WHERE model_version = '1.0' AND served_at >= ? AND served_at < ?",
            [selection.start, selection.end],
        ).fetchone()
    assert shown["Predictions in range"] == f"{total:,}"
    assert shown["Error rate"] == f"{errors / total:.2%}"
    body = texts(at)
    for area in (
        "Alerts",
        "Traffic",
        "Performance",
        "Drift",
        "Fairness",
        "Data quality",
        "Labels",
        "Registry",
        "Audit trail",
    ):
        assert f"**{area}**" in body
    assert "champion 1.0; 1 awaiting approval (1.1)" in body
    quality = overview.data_quality(demo_store, "credit-risk")
    assert shown["Quarantined rows (all time)"] == str(quality.rows_quarantined) == "6"


def test_segment_filter_narrows_the_overview(demo_store: Store) -> None:
    at = run_page(demo_store, "overview", user="vic")
    at.sidebar.selectbox(key="vigil_segment_column").select("sex").run()
    at.sidebar.selectbox(key="vigil_segment_value").select("female").run()
    assert not at.exception
    selection = default_selection(demo_store)
    with demo_store.connect() as con:
        total = con.execute(
            "SELECT count(*) FROM log_credit_risk WHERE model_version = '1.0' "
            "AND served_at >= ? AND served_at < ? AND sex = 'female'",
            [selection.start, selection.end],
        ).fetchone()[0]
    assert {m.label: m.value for m in at.metric}["Predictions in range"] == f"{total:,}"
    assert "segment sex = female" in texts(at)


def test_sign_out_forgets_everything_the_last_user_chose(demo_store: Store) -> None:
    at = run_page(demo_store, "overview", user="rita")
    at.sidebar.selectbox(key="vigil_segment_column").select("sex").run()
    at.sidebar.button(key="vigil_sign_out").click().run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert "vigil_segment_column" not in at.session_state
