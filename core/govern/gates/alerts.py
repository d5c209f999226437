"""The open-alerts gate's numbers: the candidate's active alerts, most severe first.

Active means open or acknowledged, not snoozed and not resolved (core.alerts.records), the
same alerts the Overview and the Alerts page count. Critical ones block a promotion until
they are resolved, snoozed with a note, or overridden by an admin with a rationale.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from vigil.core.alerts.records import COLUMNS, Alert
from vigil.core.alerts.rules import Severity
from vigil.core.govern.gates.results import GateOutcome, GateResult
from vigil.core.govern.gates.specs import SPECS, Gate

SHOWN = 3  # alerts named in the gate's detail


@dataclass(frozen=True)
class OpenAlerts:
    version: str
    critical: tuple[Alert, ...]
    other: tuple[Alert, ...]

    @property
    def count(self) -> int:
        return len(self.critical) + len(self.other)


def open_alerts(
    con: duckdb.DuckDBPyConnection, model_name: str, version: str, now: dt.datetime
) -> OpenAlerts:
    """The version's active alerts at `now`, critical first, newest window first."""
    rows = con.execute(
        f"SELECT {', '.join(COLUMNS)} FROM alerts WHERE model_name = ? AND model_version = ? "
        "AND resolved_at IS NULL ORDER BY window_start DESC, alert_id",
        [model_name, version],
    ).fetchall()
    active = [a for a in (Alert(*row) for row in rows) if a.state(now).active]
    critical = tuple(a for a in active if a.severity == Severity.CRITICAL)
    return OpenAlerts(version, critical, tuple(a for a in active if a not in critical))


def detail(found: OpenAlerts) -> str:
    if not found.count:
        return f"No open alert on {found.version}."
    others = f"{len(found.other)} other open alert(s) (not critical)" if found.other else ""
    if not found.critical:
        return f"No critical alert is open on {found.version}; {others}."
    named = "; ".join(a.describe() for a in found.critical[:SHOWN])
    more = len(found.critical) - SHOWN
    return (
        f"{len(found.critical)} critical alert(s) open on {found.version}: {named}"
        + (f"; and {more} more" if more > 0 else "")
        + (f". Also {others}" if others else "")
        + ". Resolve or snooze them on the Alerts page, with a note."
    )


def alerts_gate(
    con: duckdb.DuckDBPyConnection, model_name: str, version: str, now: dt.datetime
) -> GateResult:
    """Fails while a critical alert of the version is active; others are listed, no block."""
    found = open_alerts(con, model_name, version, now)
    outcome = GateOutcome.FAIL if found.critical else GateOutcome.PASS
    gate = Gate.OPEN_ALERTS
    return GateResult(
        gate, SPECS[gate].label, outcome, float(len(found.critical)), 0.0, detail(found)
    )
