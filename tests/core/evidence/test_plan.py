"""The monitoring plan: what is in force read from the enforcing tables (thresholds through
the policy path, alert rules, review cadence, retention), its history from the audit log, a
version per change and a hash over the content in force."""

from __future__ import annotations

import json

from tests.conftest import DEMO_END
from vigil.core.evidence import plan, policy
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.govern.gates.thresholds import defaults, set_threshold
from vigil.core.monitor.drift import settings as drift
from vigil.core.store.connection import Store

MODEL = "credit-risk"
ADAM, RITA = User("adam", "admin"), User("rita", "approver")


def _threshold(document: plan.MonitoringPlan, kind: str, name: str) -> plan.Threshold:
    return next(t for t in document.thresholds if (t.kind, t.name) == (kind, name))


def test_demo_plan_matches_the_tables_and_the_log(demo_store: Store) -> None:
    document = plan.monitoring_plan(demo_store, MODEL, DEMO_END)
    with demo_store.connect() as con:
        rules = con.execute(
            "SELECT rule_id, metric, comparison, threshold, granularity, severity, enabled "
            "FROM alert_rules WHERE model_name = ? ORDER BY rule_id",
            [MODEL],
        ).fetchall()
        records = audit.query(con, audit.AuditFilter(model_name=MODEL))
    assert rules, "the demo installs default alert rules"
    assert [
        (r.rule_id, r.metric, r.comparison, r.threshold, r.granularity, r.severity, r.enabled)
        for r in document.alert_rules
    ] == rules
    rule_records = [r["seq"] for r in records if "rule" in r["action"]]
    assert rule_records and [c.seq for c in document.history] == rule_records
    assert document.version == len(rule_records)
    gates = {t.name: t.value for t in document.thresholds if t.kind == "gate"}
    assert gates == {g.value: v for g, v in defaults().items()}
    share = _threshold(document, "drift", drift.DATASET_TEST)
    assert (share.value, share.set_by) == (drift.DATASET_SHARE, None)
    assert ("model owner", "Retail Credit Analytics") in document.owners
    assert document.retention_months == 6 and document.pending_changes == ()
    assert document.review is not None and document.review.next_review.isoformat() == "2026-12-27"


def test_each_change_makes_a_new_version_with_its_history(demo_copy: Store) -> None:
    before = plan.monitoring_plan(demo_copy, MODEL)
    assert plan.monitoring_plan(demo_copy, MODEL).content_sha256 == before.content_sha256
    set_threshold(demo_copy, ADAM, MODEL, "drift_psi", 0.2, "Stricter after the October shift.")
    set_threshold(demo_copy, ADAM, MODEL, "validation_roc_auc", 0.6, "Looser: new segment.")
    policy.set_review_cadence(demo_copy, RITA, "high", 6, "Tighter cycle after findings.")
    after = plan.monitoring_plan(demo_copy, MODEL)
    assert after.version > before.version
    assert after.content_sha256 != before.content_sha256
    psi = _threshold(after, "gate", "drift_psi")
    assert (psi.value, psi.set_by, psi.trusted) == (0.2, "adam", True)
    [pending] = after.pending_changes  # a loosening waits for a second admin
    assert (pending.name, pending.old, pending.new) == ("validation_roc_auc", None, 0.6)
    assert _threshold(after, "gate", "validation_roc_auc").value == 0.7  # not in force yet
    new = after.history[len(before.history) :]
    assert [(c.actor, c.rationale) for c in new] == [
        ("adam", "Stricter after the October shift."),
        ("adam", "Looser: new segment."),
        ("rita", "Tighter cycle after findings."),
    ]
    assert new[-1].evidence == {"policy": "review_cadence_months:high", "old": 12, "new": 6}
    exported = json.loads(plan.plan_json(after))
    assert exported["version"] == after.version
    assert exported["content_sha256"] == after.content_sha256
    assert exported["history"][-1]["actor"] == "rita"


def test_a_threshold_edited_behind_vigils_back_is_flagged(demo_copy: Store) -> None:
    set_threshold(demo_copy, ADAM, MODEL, "drift_psi", 0.2, "Stricter.")
    with demo_copy.transaction() as con:  # an edit behind Vigil's back
        con.execute("UPDATE policy_thresholds SET threshold = 0.9 WHERE name = 'drift_psi'")
    psi = [t for t in plan.monitoring_plan(demo_copy, MODEL).thresholds if t.name == "drift_psi"]
    assert [(t.value, t.trusted) for t in psi] == [(0.25, True), (0.9, False)]
