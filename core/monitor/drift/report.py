"""The drift report: data drift and prediction drift per feature and window, against a
reference, from profiles.

How the numbers are computed: aggregates from stored profiles or raw rows
(core.monitor.drift.sources); Kolmogorov–Smirnov and Wasserstein exactly in DuckDB
(core.monitor.drift.statistics), the KS p-value scipy's own (exact for n, m <= 10 000, else
Smirnov's asymptotic); PSI from core.stats.psi; verdicts in core.monitor.drift.verdicts.
Test choice and thresholds: core.stats.drift_tests (documented there), overridable per model
(core.monitor.drift.settings).
"""

from __future__ import annotations

import duckdb

from vigil.core.errors import VigilError
from vigil.core.monitor import profiles
from vigil.core.monitor.drift.compare import compare
from vigil.core.monitor.drift.domain import DOMAIN_SAMPLE, cached_domain_classifier
from vigil.core.monitor.drift.results import DriftReport, DriftSource, WindowDrift
from vigil.core.monitor.drift.settings import DriftSettings, load_settings
from vigil.core.monitor.drift.sources import current_source, reference_source, uses_profiles
from vigil.core.monitor.drift.verdicts import window_drift
from vigil.core.monitor.profiles import profiled_columns
from vigil.core.monitor.selection import Selection
from vigil.core.monitor.windows import Granularity, Window, Windowing
from vigil.core.registry.versions import ModelVersion, get_version
from vigil.core.store.connection import Store, limit_memory

MAX_WINDOWS = 1000  # a heat map or a JSON report with more windows is unreadable anyway


def _reference_label(
    version: ModelVersion, selection: Selection, reference: Selection | None
) -> str:
    if reference is not None:
        return f"logs {reference.start:%Y-%m-%d} – {reference.end:%Y-%m-%d} (end exclusive)"
    label = f"reference data of version {version.model_version}"
    if selection.segment is not None:
        label += f" ({selection.segment.label()})"
    return label


def _windows(
    con: duckdb.DuckDBPyConnection, windowing: Windowing, selection: Selection
) -> list[Window]:
    windows = windowing.windows(con, selection)
    if len(windows) > MAX_WINDOWS:
        raise VigilError(
            f"{len(windows):,} windows ({windowing.label}) are too many to compare at once "
            f"(at most {MAX_WINDOWS:,}); choose a coarser granularity or a shorter range."
        )
    return windows


def _compare_windows(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    selection: Selection,
    windowing: Windowing,
    windows: list[Window],
    reference: Selection | None,
    settings: DriftSettings,
) -> list[WindowDrift]:
    """One WindowDrift per window of `windowing` (the whole range as one window: one)."""
    columns = profiled_columns(version)
    ref_source = reference_source(con, version, columns, selection, reference)
    cur_source = current_source(con, version, columns, selection, windowing, windows)
    # Exact KS / Wasserstein of whole-day windows against the reference data are cached.
    cacheable = reference is None and uses_profiles(selection) and windowing.every is None
    by_key = {windowing.key(w): w for w in windows}
    compared = compare(con, version, columns, (cur_source, ref_source), by_key, settings, cacheable)
    share = settings.dataset_share()
    return [window_drift(w, *compared[key], share) for key, w in by_key.items()]


def drift_report(
    store: Store,
    selection: Selection,
    *,
    granularity: Granularity = "day",
    reference: Selection | None = None,
    multivariate: bool = True,
    domain_sample: int = DOMAIN_SAMPLE,
) -> DriftReport:
    """Drift of every feature and of the predictions, for the whole range and per window.

    Refreshes the version's profiles first (only days touched by new batches are recomputed).
    """
    with store.transaction() as con:
        limit_memory(con, store.home)
        refreshed = profiles.refresh(con, selection.model_name, selection.model_version)
        if reference is not None and reference.model_version != selection.model_version:
            profiles.refresh(con, reference.model_name, reference.model_version)
    windowing, whole = Windowing.of(granularity), Windowing()
    with store.connect() as con:
        limit_memory(con, store.home)
        version = get_version(con, selection.model_name, selection.model_version)
        settings = load_settings(con, selection.model_name)
        windows = _windows(con, windowing, selection)
        per_window = _compare_windows(
            con, version, selection, windowing, windows, reference, settings
        )
        (overall,) = _compare_windows(
            con, version, selection, whole, whole.windows(con, selection), reference, settings
        )
        domain = None
        if multivariate:
            domain = cached_domain_classifier(
                con,
                version,
                selection,
                reference=reference,
                sample=domain_sample,
                threshold=settings.domain_auc(),
                cacheable=reference is None
                and uses_profiles(selection)
                and windowing.every is None,
            )
    profiled = uses_profiles(selection) and windowing.calendar is not None
    return DriftReport(
        selection=selection,
        reference=reference,
        reference_label=_reference_label(version, selection, reference),
        granularity=granularity,
        source=DriftSource.PROFILES if profiled else DriftSource.RAW_LOG,
        overall=overall,
        windows=tuple(per_window),
        multivariate=domain,
        days_recomputed=len(refreshed.days_recomputed),
    )
