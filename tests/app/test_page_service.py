"""AppTest: the Service page shows core's throughput, error and latency numbers."""

from __future__ import annotations

from tests.app.helpers import default_selection, run_page
from vigil.core.monitor import service
from vigil.core.monitor.selection import Segment, Selection
from vigil.core.store.connection import Store


def test_service_page_shows_core_numbers(demo_store: Store) -> None:
    at = run_page(demo_store, "service", user="vic")
    assert not at.exception, at.exception
    assert at.title[0].value == "Service health · credit-risk 1.0"
    report = service.service_report(demo_store, default_selection(demo_store), "week")
    shown = {m.label: m.value for m in at.metric}
    assert shown["Predictions"] == f"{report.overall.predictions:,}"
    assert shown["Error rate"] == f"{report.overall.error_rate.value:.2%}"
    assert shown["Latency p99"] == f"{report.overall.latency_p99:,.1f} ms"
    table = at.dataframe[0].value.set_index("window")
    for window in report.windows:
        row = table.loc[f"{window.start:%Y-%m-%d}"]
        assert row["predictions"] == window.predictions
        assert row["p95 ms"] == window.latency_p95
    assert table.loc["whole range", "errors"] == report.overall.errors


def test_service_page_respects_the_segment(demo_store: Store) -> None:
    at = run_page(demo_store, "service", user="vic")
    at.selectbox(key="vigil_segment_column").select("housing").run()
    at.selectbox(key="vigil_segment_value").select("rent").run()
    assert not at.exception, at.exception
    segment = Selection(
        *[
            getattr(default_selection(demo_store), f)
            for f in ("model_name", "model_version", "start", "end")
        ],
        Segment("housing", "rent"),
    )
    report = service.service_report(demo_store, segment, "week")
    shown = {m.label: m.value for m in at.metric}
    assert shown["Predictions"] == f"{report.overall.predictions:,}"
