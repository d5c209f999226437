"""What the Overview page shows: versions and status, traffic, label coverage, data quality."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from vigil.core.alerts import records as alerts
from vigil.core.govern import audit
from vigil.core.govern.audit_chain import ChainStatus
from vigil.core.monitor.selection import Selection, log_table
from vigil.core.registry import versions as registry
from vigil.core.store.connection import Store
from vigil.core.store.pending import LABELS, QUARANTINE
from vigil.core.verdicts import Level


def day(moment: dt.date | dt.datetime | None) -> str:
    """'23 Nov 2026': the one way dates are written (app.ui.day draws the same)."""
    return "–" if moment is None else f"{moment.day} {moment:%b %Y}"


def when(moment: dt.datetime | None) -> str:
    """'23 Nov 2026, 14:05 UTC' (times are kept in UTC)."""
    return "–" if moment is None else f"{day(moment)}, {moment:%H:%M} UTC"


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> tuple[Any, ...]:
    """The one row an aggregate query returns."""
    row = con.execute(sql, params).fetchone()
    assert row is not None  # an aggregate without GROUP BY always returns a row
    return tuple(row)


def data_version(store: Store) -> tuple[int, int, int]:
    """Changes whenever logs, labels, registry or audit change: a cache key for results."""
    with store.connect() as con:
        row = _one(
            con,
            "SELECT (SELECT coalesce(max(batch_id), 0) FROM ingest_batches), "
            "(SELECT count(*) FROM model_versions), "
            "(SELECT coalesce(max(seq), 0) FROM audit_log)",
            [],
        )
    return int(row[0]), int(row[1]), int(row[2])


@dataclass(frozen=True)
class VersionSummary:
    model_version: str
    status: str
    status_label: str
    alias: str | None
    owner: str
    registered_at: dt.datetime
    predictions: int
    first_served: dt.datetime | None
    last_served: dt.datetime | None


@dataclass(frozen=True)
class TrafficDay:
    day: dt.date
    model_version: str
    predictions: int
    errors: int
    labelled: int


@dataclass(frozen=True)
class LabelCoverage:
    predictions: int
    labelled: int
    last_label_at: dt.datetime | None
    mature_predictions: int  # served more than `maturity_days` ago
    mature_labelled: int
    maturity_days: int

    @property
    def share(self) -> float | None:
        return self.labelled / self.predictions if self.predictions else None

    @property
    def mature_share(self) -> float | None:
        return self.mature_labelled / self.mature_predictions if self.mature_predictions else None


@dataclass(frozen=True)
class DataQuality:
    """Ingestion totals. Re-sent files count again in rows_read and rows_already_present;
    rows_quarantined counts distinct quarantine records (a re-sent bad row is kept once)."""

    files: int  # distinct file contents
    rows_read: int
    rows_stored: int
    rows_quarantined: int
    rows_already_present: int
    last_ingest_at: dt.datetime | None
    top_reasons: tuple[tuple[str, int], ...]

    @property
    def quarantine_share(self) -> float | None:
        """Share of distinct rows rejected: quarantined / (quarantined + stored)."""
        kept = self.rows_quarantined + self.rows_stored
        return self.rows_quarantined / kept if kept else None


def version_summaries(store: Store, model_name: str) -> list[VersionSummary]:
    with store.connect() as con:
        versions = registry.list_versions(con, model_name)
        alias_of = {v: a for a, v in registry.aliases(con, model_name).items()}
        counts = {
            r[0]: r[1:]
            for r in con.execute(
                f"SELECT model_version, count(*), min(served_at), max(served_at) "
                f"FROM {log_table(con, model_name)} GROUP BY model_version"
            ).fetchall()
        }
    return [
        VersionSummary(
            model_version=v.model_version,
            status=v.status,
            status_label=v.status_label,
            alias=alias_of.get(v.model_version),
            owner=v.owner,
            registered_at=v.registered_at,
            predictions=counts.get(v.model_version, (0, None, None))[0],
            first_served=counts.get(v.model_version, (0, None, None))[1],
            last_served=counts.get(v.model_version, (0, None, None))[2],
        )
        for v in versions
    ]


def traffic_by_day(store: Store, selection: Selection, all_versions: bool = True) -> pd.DataFrame:
    """Predictions, errors and labels per day and version (an aggregate: one row per day)."""
    where, params = selection.where("l")
    if all_versions:
        where = where.replace("l.model_version = ? AND ", "")
        params = params[1:]
    with store.connect() as con:
        table = log_table(con, selection.model_name)
        return con.execute(
            f"""
            SELECT CAST(date_trunc('day', l.served_at) AS DATE) AS day, l.model_version,
                   count(*) AS predictions,
                   count(*) FILTER (WHERE l.status <> 'ok') AS errors,
                   count(lb.label) AS labelled
            FROM {table} l
            LEFT JOIN {LABELS} lb ON lb.model_name = ? AND lb.prediction_id = l.prediction_id
            WHERE {where}
            GROUP BY ALL ORDER BY day, l.model_version
            """,
            [selection.model_name, *params],
        ).df()


def label_coverage(store: Store, selection: Selection, maturity_days: int = 35) -> LabelCoverage:
    """Coverage overall and for predictions old enough that their labels should be in."""
    where, params = selection.where("l")
    with store.connect() as con:
        table = log_table(con, selection.model_name)
        row = _one(
            con,
            f"""
            WITH ends AS (SELECT max(served_at) AS newest FROM {table})
            SELECT count(*), count(lb.label), max(lb.label_timestamp),
                   count(*) FILTER (WHERE l.served_at < ends.newest - to_days(?)),
                   count(lb.label) FILTER (WHERE l.served_at < ends.newest - to_days(?))
            FROM {table} l CROSS JOIN ends
            LEFT JOIN {LABELS} lb ON lb.model_name = ? AND lb.prediction_id = l.prediction_id
            WHERE l.status = 'ok' AND {where}
            """,
            [maturity_days, maturity_days, selection.model_name, *params],
        )
    return LabelCoverage(row[0], row[1], row[2], row[3], row[4], maturity_days)


def data_quality(store: Store, model_name: str) -> DataQuality:
    with store.connect() as con:
        row = _one(
            con,
            f"""
            SELECT count(DISTINCT file_sha256), coalesce(sum(rows_read), 0),
                   coalesce(sum(rows_stored), 0),
                   (SELECT count(*) FROM {QUARANTINE} WHERE model_name = ?),
                   coalesce(sum(rows_already_present), 0), max(finished_at)
            FROM ingest_batches WHERE model_name = ?
            """,
            [model_name, model_name],
        )
        reasons = con.execute(
            f"""
            SELECT regexp_replace(reason, '''[^'']*''', '…', 'g') AS kind, count(*) AS n
            FROM {QUARANTINE} WHERE model_name = ? GROUP BY 1 ORDER BY n DESC, kind LIMIT 5
            """,
            [model_name],
        ).fetchall()
    files, read, stored, quarantined, present, last = row
    return DataQuality(
        int(files), int(read), int(stored), int(quarantined), int(present), last,
        tuple((r, n) for r, n in reasons),
    )  # fmt: skip


def quarantine_rows(store: Store, model_name: str, limit: int = 200) -> pd.DataFrame:
    with store.connect() as con:
        return con.execute(
            f"""
            SELECT quarantined_at, kind, source_file AS file, row_number AS row,
                   prediction_id, reason
            FROM {QUARANTINE} WHERE model_name = ?
            ORDER BY quarantined_at DESC, file, row LIMIT ?
            """,
            [model_name, limit],
        ).df()


def audit_chain(store: Store) -> ChainStatus:
    with store.connect() as con:
        return audit.verify(con)


@dataclass(frozen=True)
class AreaStatus:
    """One line of 'where each area stands' on the Overview (and on its page, in `vigil
    status` and in the sign-off report: the same line everywhere)."""

    area: str
    level: Level
    headline: str
    detail: str
    page: str | None = None  # url_path of the page that explains it
    figure: float | None = None  # the line's number (an AUC, a count of drifted features…)


def registry_status(store: Store, model_name: str, today: dt.date | None = None) -> AreaStatus:
    today = today or dt.datetime.now(dt.UTC).date()
    with store.connect() as con:
        versions = registry.list_versions(con, model_name)
        champion = registry.aliases(con, model_name).get("champion")
    pending = [v.model_version for v in versions if v.status == "pending_approval"]
    overdue = [
        v.model_version
        for v in versions
        if v.status in ("production", "approved")
        and v.next_review_date
        and v.next_review_date < today
    ]
    level = Level.ACT if overdue else (Level.WATCH if pending else Level.OK)
    parts = [f"champion {champion}" if champion else "no champion"]
    if pending:
        parts.append(f"{len(pending)} awaiting approval ({', '.join(pending)})")
    if overdue:
        parts.append(f"review overdue for {', '.join(overdue)}")
    return AreaStatus(
        "Registry",
        level,
        "; ".join(parts),
        f"{len(versions)} version(s) registered.",
        "registry",
        float(len(pending)),
    )


def quality_status(quality: DataQuality) -> AreaStatus:
    share = quality.quarantine_share
    if share is None:
        return AreaStatus("Data quality", Level.INFO, "nothing ingested yet", "", None)
    level = Level.ACT if share > 0.05 else (Level.WATCH if quality.rows_quarantined else Level.OK)
    return AreaStatus(
        "Data quality",
        level,
        f"{quality.rows_quarantined:,} rows quarantined, {quality.rows_stored:,} stored "
        f"({share:.2%} rejected)".replace("%", " %"),
        f"{quality.files} distinct file(s) ingested; last at {when(quality.last_ingest_at)}.",
        "data",
        share,
    )


def labels_status(coverage: LabelCoverage) -> AreaStatus:
    mature = coverage.mature_share
    if coverage.predictions == 0:
        return AreaStatus("Labels", Level.INFO, "no predictions in the range", "", None)
    if mature is None:
        return AreaStatus(
            "Labels",
            Level.INFO,
            f"{coverage.share:.0%} labelled; no prediction in the range is older than "
            f"{coverage.maturity_days} days yet".replace("%", " %"),
            "",
            "performance",
            coverage.share,
        )
    level = Level.OK if mature >= 0.8 else (Level.WATCH if mature >= 0.5 else Level.ACT)
    last = day(coverage.last_label_at) if coverage.last_label_at else "never"
    return AreaStatus(
        "Labels",
        level,
        f"{mature:.0%} of predictions older than {coverage.maturity_days} days have a "
        "label".replace("%", " %"),
        f"{coverage.labelled:,} of {coverage.predictions:,} labelled in the range "
        f"({coverage.share:.0%}); newest label {last}.".replace("%", " %"),
        "performance",
        mature,
    )


def traffic_status(
    store: Store, selection: Selection, now: dt.datetime | None = None
) -> AreaStatus:
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    where, params = selection.where()
    with store.connect() as con:
        row = _one(
            con,
            f"SELECT count(*), count(*) FILTER (WHERE status <> 'ok'), max(served_at) "
            f"FROM {log_table(con, selection.model_name)} WHERE {where}",
            params,
        )
    total, errors, last = row
    if not total:
        return AreaStatus("Traffic", Level.WATCH, "no predictions in the range", "", None)
    silent_hours = (now - last).total_seconds() / 3600
    rate = errors / total
    level = (
        Level.ACT
        if rate > 0.05
        else (Level.WATCH if rate > 0.01 or silent_hours > 48 else Level.OK)
    )
    return AreaStatus(
        "Traffic",
        level,
        f"{total:,} predictions, {rate:.2%} errors".replace("%", " %"),
        f"Last prediction {when(last)} ({silent_hours:,.0f} h ago).",
        "service",
        float(total),
    )


def audit_status(store: Store) -> AreaStatus:
    chain = audit_chain(store)
    return AreaStatus(
        "Audit trail",
        Level.OK if chain.valid else Level.ACT,
        "chain intact" if chain.valid else "chain broken",
        chain.message,
        "audit",
        float(chain.records),
    )


def alerts_status(store: Store, model_name: str, selection: Selection | None) -> AreaStatus:
    """Open alerts from the model's rules (re-evaluated whenever logs or labels arrive) whose
    window overlaps the selected range; older open ones are counted in the detail."""
    version = None if selection is None else selection.model_version
    open_alerts = alerts.overview_status(store, model_name, version)
    in_range = [
        a for a in open_alerts
        if selection is None or (a.window_end > selection.start and a.window_start < selection.end)
    ]  # fmt: skip
    older = len(open_alerts) - len(in_range)
    elsewhere = f" {older} more open alert(s) concern windows outside this range." if older else ""
    if not in_range:
        return AreaStatus(
            "Alerts", Level.OK, "no rule is failing in this range",
            f"Rules are re-evaluated on every ingest.{elsewhere}", "alerts", 0.0,
        )  # fmt: skip
    critical = sum(a.severity == "critical" for a in in_range)
    return AreaStatus(
        "Alerts",
        Level.ACT if critical else Level.WATCH,
        f"{len(in_range)} open alert(s) in this range"
        + (f", {critical} critical" if critical else ""),
        f"Most severe: {in_range[0].describe()}.{elsewhere}",
        "alerts",
        float(len(in_range)),
    )


def area_statuses(store: Store, model_name: str, selection: Selection | None) -> list[AreaStatus]:
    """Every area that exists, each with its level: nothing on the Overview is a placeholder.

    `selection` is None when the chosen version has no traffic yet (a new champion, say):
    the areas that need traffic say so, the others still report."""
    if selection is None:
        waiting = [
            AreaStatus(
                "Traffic",
                Level.WATCH,
                "no predictions logged for this version yet",
                "Logs arrive through `vigil ingest` or the Data page.",
                "data",
            )
        ]
    else:
        waiting = [
            traffic_status(store, selection),
            labels_status(label_coverage(store, selection)),
        ]
    return [
        alerts_status(store, model_name, selection),
        *waiting,
        quality_status(data_quality(store, model_name)),
        registry_status(store, model_name),
        audit_status(store),
    ]
