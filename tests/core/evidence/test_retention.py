"""Retention: purge deletes only raw log rows older than the policy, is admin-only and
audited, keeps the day profiles (drift over the purged days is unchanged), and never goes
under six months."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import DEMO_END
from vigil.core.errors import PermissionDenied
from vigil.core.evidence import policy, retention
from vigil.core.evidence.common import add_months
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.monitor.drift.report import drift_report
from vigil.core.monitor.drift.results import DriftReport
from vigil.core.monitor.selection import Selection
from vigil.core.store.connection import Store

MODEL = "credit-risk"
ADAM, RITA = User("adam", "admin"), User("rita", "approver")


def _counts(store: Store, cutoff: dt.datetime) -> tuple[int, int, int]:
    with store.connect() as con:
        return con.execute(
            "SELECT count(*) FILTER (WHERE served_at < ?), count(*) FILTER (WHERE served_at >= ?),"
            " (SELECT count(*) FROM labels) FROM log_credit_risk",
            [cutoff, cutoff],
        ).fetchone()


def _days(store: Store, cutoff: dt.datetime, table: str) -> set[tuple[str, dt.date]]:
    """(version, day) pairs before the cutoff: logged days, or profiled days."""
    sql = {
        "log": "SELECT DISTINCT model_version, CAST(served_at AS DATE) FROM log_credit_risk "
        "WHERE served_at < ?",
        "profile": "SELECT model_version, day FROM profile_days WHERE day < CAST(? AS DATE)",
    }[table]
    with store.connect() as con:
        return set(con.execute(sql, [cutoff]).fetchall())


def _verdicts(report: DriftReport) -> list[tuple[object, ...]]:
    """Every column's verdict, statistic and PSI in every window (and overall)."""
    windows = (report.overall, *report.windows)
    return [
        (c.feature, c.status, c.statistic, c.p_value, c.psi, c.current_n, w.dataset.share)
        for w in windows
        for c in (*w.features, *w.prediction)
    ]


def test_purge_keeps_profiles_and_is_audited(demo_copy: Store) -> None:
    today = add_months(DEMO_END, 6) - dt.timedelta(days=30)  # the first ~30 demo days expire
    cutoff = dt.datetime.combine(add_months(today, -6), dt.time())
    selection = Selection(MODEL, "1.0", dt.datetime(2026, 8, 26), dt.datetime(2026, 9, 20))
    before_drift = drift_report(demo_copy, selection, granularity="week", multivariate=False)
    old, recent, labels = _counts(demo_copy, cutoff)
    assert old > 0 and recent > 0
    logged_days = _days(demo_copy, cutoff, "log")
    [status] = retention.retention_status(demo_copy, today)
    assert (status.rows_past_retention, status.raw_rows) == (old, old + recent)
    with pytest.raises(PermissionDenied):
        retention.purge_logs(demo_copy, RITA, today=today)
    result = retention.purge_logs(demo_copy, ADAM, today=today)
    assert result.cutoff == cutoff and result.months == 6 and result.deleted == ((MODEL, old),)
    assert _counts(demo_copy, cutoff) == (0, recent, labels)
    assert _days(demo_copy, cutoff, "profile") == logged_days  # every purged day is profiled
    after = drift_report(demo_copy, selection, granularity="week", multivariate=False)
    assert after.source == "profiles"
    assert _verdicts(after) == _verdicts(before_drift)
    with demo_copy.connect() as con:
        [record] = audit.query(con, audit.AuditFilter(action="purge_logs"))
        assert audit.verify(con).valid
    assert record["seq"] == result.audit_seqs[0] and record["actor"] == "adam"
    assert record["evidence"]["rows_deleted"] == old
    assert record["evidence"]["cutoff"] == cutoff.isoformat()


def test_the_floor_holds_even_against_a_database_edit(demo_copy: Store) -> None:
    policy.set_retention(demo_copy, ADAM, 9, "Nine months.")
    with demo_copy.connect() as con:
        assert retention.retention_months(con) == 9
    with demo_copy.transaction() as con:  # an edit behind Vigil's back
        con.execute("UPDATE evidence_policy SET value = '1' WHERE name = 'log_retention_months'")
    with demo_copy.connect() as con:
        assert retention.retention_months(con) == 6
    nothing = retention.purge_logs(demo_copy, ADAM, today=DEMO_END)  # demo: 90 days of logs
    assert nothing.deleted == ((MODEL, 0),)
