"""Champion against challenger on live traffic, for the Performance page: the live challenger
gate's own comparison (core.govern.gates.live) with the model's own margin, so the page and
the gate can never disagree."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from vigil.core.govern.gates import thresholds
from vigil.core.govern.gates.live import (
    LiveComparison,
    NothingToCompare,
    compare_live,
    comparison_window,
    describe,
)
from vigil.core.govern.gates.specs import Gate
from vigil.core.monitor.selection import log_table
from vigil.core.registry.versions import ModelVersion, aliases, get_version, list_versions
from vigil.core.stats.comparison import ComparisonVerdict
from vigil.core.store.connection import Store


@dataclass(frozen=True)
class ChallengerView:
    champion: str | None
    candidate: str | None
    live: LiveComparison | None
    summary: str  # the verdict in words, or why there is nothing to compare

    @property
    def verdict(self) -> ComparisonVerdict | None:
        return None if self.live is None else self.live.verdict


def _challenger(
    con: duckdb.DuckDBPyConnection, model_name: str, picked: str, champion: str
) -> ModelVersion | None:
    """The picked version, or (when the champion is picked) the newest other version with
    live traffic in the comparison window."""
    if picked != champion:
        return get_version(con, model_name, picked)
    window = comparison_window(con, model_name)
    if window is None:
        return None
    served = {
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT model_version FROM {log_table(con, model_name)} "
            "WHERE served_at >= ? AND served_at < ?",
            list(window),
        ).fetchall()
    }
    others = [v for v in list_versions(con, model_name) if v.model_version in served - {champion}]
    return others[-1] if others else None


def challenger_view(store: Store, model_name: str, picked: str) -> ChallengerView:
    """The comparison the live challenger gate would make for the sidebar's version."""
    with store.connect() as con:
        champion = aliases(con, model_name).get("champion")
        if champion is None:
            return ChallengerView(None, None, None, f"{model_name} has no champion yet.")
        candidate = _challenger(con, model_name, picked, champion)
        if candidate is None:
            return ChallengerView(
                champion, None, None,
                f"No other version of {model_name} served live traffic (shadow, canary or A/B) "
                f"beside champion {champion} in the last 30 days.",
            )  # fmt: skip
        margin = thresholds.effective(con, model_name)[Gate.LIVE_CHALLENGER].value
        try:
            live = compare_live(con, candidate, get_version(con, model_name, champion), margin)
        except NothingToCompare as err:
            return ChallengerView(champion, candidate.model_version, None, str(err))
    return ChallengerView(champion, candidate.model_version, live, describe(live))
