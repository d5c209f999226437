"""Who may do what to a promotion, now: one rule per action, used by pages and actions alike.

A rule returns a Decision. Pages show (or hide, or disable with the reason) their buttons
from it; the actions in core.govern.actions call the very same rule inside their transaction
and raise the matching error when it says no. The reasons a rule can give are an enum, so a
page never interprets free text.

- Four-eyes: whoever registered the version, requested its promotion, or recorded a gate
  override on the request may not decide it (approve or reject).
- A failed gate blocks approval unless an admin recorded an override of exactly those gates.
- Only the requester may withdraw a pending request.
- No sock puppets: a user created, given a role or re-enabled within the last
  VIGIL_NEW_APPROVER_HOURS may not approve (or override on) a request that the admin who
  granted it is party to (registered, requested, overrode).
- A user whose stored role or status is not what the session claims may do nothing.
"""

from __future__ import annotations

from vigil.core.govern.auth import PERMISSIONS, ROLES, User
from vigil.core.govern.decisions import Blocked, Decision, allow
from vigil.core.govern.gates.checks import run_gates
from vigil.core.govern.gates.results import GateReport, GateResult
from vigil.core.govern.gates.specs import SPECS
from vigil.core.govern.lifecycle import CHAMPION
from vigil.core.govern.principals import Grant, PrincipalCheck, check, new_approver_hours, now
from vigil.core.govern.principals import recent_grants as grants_of
from vigil.core.govern.requests import PromotionRequest, pending_request
from vigil.core.govern.timeline import rollback_target
from vigil.core.registry.versions import ModelVersion, Status, aliases, get_version
from vigil.core.store.connection import Store


def role_rule(user: User, permission: str, what: str) -> Decision | None:
    """None when the role allows the permission, else the refusal."""
    if user.can(permission):
        return None
    allowed = ", ".join(r for r in ROLES if r in PERMISSIONS[permission])
    return Decision(
        False, f"{user.username} is {user.role_phrase}; only {allowed} may {what}.", Blocked.ROLE
    )


def principal_rule(found: PrincipalCheck) -> Decision | None:
    """None when the user is who the session claims, else the refusal."""
    if found.current:
        return None
    return Decision(
        False, f"{found.message} Sign in again to act with your current rights.", Blocked.STALE
    )


GRANT_WORDS = {"user_add": "created", "user_role": "given its role", "user_enable": "re-enabled"}


def new_approver_rule(
    user: User, grants: tuple[Grant, ...], parties: dict[str, str], what: str
) -> Decision | None:
    """None unless someone party to the decision (`parties`: name -> what they did) granted
    the user its rights within the last VIGIL_NEW_APPROVER_HOURS."""
    for grant in grants:
        if grant.granted_by in parties and grant.granted_by != user.username:
            hours = (now() - grant.at).total_seconds() / 3600
            return Decision(
                False,
                f"Four-eyes: {user.username} was {GRANT_WORDS.get(grant.action, grant.action)} "
                f"by {grant.granted_by} {hours:.0f} h ago (audit record {grant.seq}), and "
                f"{grant.granted_by} {parties[grant.granted_by]}. A user created or given a "
                f"role in the last {new_approver_hours():g} hours may not {what} what the admin "
                "who did it is party to; someone else must.",
                Blocked.NEW_APPROVER,
            )
    return None


def _parties(version: ModelVersion, request: PromotionRequest) -> dict[str, str]:
    found: dict[str, str] = {version.registered_by: "registered this version"}
    found.setdefault(request.requested_by, "requested its promotion")
    if request.override_by:
        found.setdefault(request.override_by, "overrode its failed gates")
    return found


REQUESTABLE = (Status.REGISTERED, Status.ROLLED_BACK, Status.REJECTED)


def request_rule(user: User, version: ModelVersion) -> Decision:
    denied = role_rule(user, "request_promotion", "request a promotion")
    if denied:
        return denied
    if version.status not in REQUESTABLE:
        return Decision(
            False,
            f"{version.model_name} {version.model_version} is {version.status_label}; only a "
            "registered, rejected or rolled-back version can be put up for promotion.",
            Blocked.STATE,
        )
    return allow(f"{user.username} may request promotion of {version.model_version}.")


def _no_request(version: ModelVersion, verb: str) -> Decision:
    return Decision(
        False,
        f"{version.model_name} {version.model_version} is {version.status_label}; there is no "
        f"pending promotion request to {verb}.",
        Blocked.STATE,
    )


def decide_rule(
    user: User,
    version: ModelVersion,
    request: PromotionRequest | None,
    permission: str,
    verb: str,
) -> Decision:
    """Role, state and four-eyes rules shared by approve and reject."""
    denied = role_rule(user, permission, f"{verb} promotions")
    if denied:
        return denied
    if version.status is not Status.PENDING_APPROVAL or request is None:
        return _no_request(version, verb)
    roles = []
    if version.registered_by == user.username:
        roles.append("registered this version")
    if request.requested_by == user.username:
        roles.append("requested its promotion")
    if request.override_by == user.username:
        roles.append("overrode its failed gates")
    if roles:
        return Decision(
            False,
            f"Four-eyes: you ({user.username}) {' and '.join(roles)}; someone else must "
            f"{verb} {version.model_name} {version.model_version}.",
            Blocked.FOUR_EYES,
        )
    return allow(f"{user.username} may {verb} request #{request.request_id}.")


def uncovered_failures(report: GateReport, request: PromotionRequest | None) -> list[GateResult]:
    covered = set(request.override_gates) if request else set()
    return [
        r
        for r in report.results
        if not r.passed and (r.gate not in covered or not SPECS[r.gate].overridable)
    ]


def approve_rule(
    user: User,
    version: ModelVersion,
    request: PromotionRequest | None,
    report: GateReport,
    grants: tuple[Grant, ...] = (),
) -> Decision:
    base = decide_rule(user, version, request, "approve", "approve")
    if not base.allowed or request is None:
        return base
    puppet = new_approver_rule(user, grants, _parties(version, request), "approve")
    if puppet:
        return puppet
    failing = uncovered_failures(report, request)
    if failing:
        listed = "; ".join(f"{r.label}: {r.detail.rstrip('.')}" for r in failing)
        return Decision(
            False,
            f"Gate check failed — {listed}. Approval is blocked unless an admin records an "
            "override with its rationale.",
            Blocked.GATES,
        )
    if request is not None and request.override_gates and not report.passed:
        return allow(
            f"Failed gates ({', '.join(report.failed_labels)}) were overridden by "
            f"{request.override_by} (audit record {request.override_seq})."
        )
    return base


def override_rule(
    user: User,
    version: ModelVersion,
    request: PromotionRequest | None,
    report: GateReport,
    grants: tuple[Grant, ...] = (),
) -> Decision:
    denied = role_rule(user, "override_gate", "override failed gates")
    if denied:
        return denied
    if version.status is not Status.PENDING_APPROVAL or request is None:
        return _no_request(version, "override gates on")
    if version.registered_by == user.username or request.requested_by == user.username:
        return Decision(
            False,
            f"Four-eyes: you ({user.username}) registered or requested "
            f"{version.model_name} {version.model_version}; another admin must override.",
            Blocked.FOUR_EYES,
        )
    parties = {
        k: v for k, v in _parties(version, request).items() if v != "overrode its failed gates"
    }
    puppet = new_approver_rule(user, grants, parties, "override gates on")
    if puppet:
        return puppet
    failing = [r for r in uncovered_failures(report, request) if SPECS[r.gate].overridable]
    if not failing:
        return Decision(False, "No failed gate needs an override.", Blocked.STATE)
    return allow(f"Failed gates: {', '.join(r.label for r in failing)}.")


def rollback_rule(
    user: User, model_name: str, champion: str | None, target: str | None
) -> Decision:
    denied = role_rule(user, "rollback", "roll back the champion")
    if denied:
        return denied
    if champion is None:
        return Decision(False, f"{model_name} has no champion to roll back.", Blocked.STATE)
    if target is None:
        return Decision(
            False,
            f"{model_name} {champion} is the first champion on record; there is no earlier "
            "approved champion to roll back to.",
            Blocked.STATE,
        )
    return allow(f"Rolls {model_name} back from {champion} to {target}.")


def withdraw_rule(user: User, version: ModelVersion, request: PromotionRequest | None) -> Decision:
    if version.status is not Status.PENDING_APPROVAL or request is None:
        return _no_request(version, "withdraw")
    if request.requested_by != user.username:
        return Decision(
            False,
            f"Only {request.requested_by}, who requested it, may withdraw request "
            f"#{request.request_id}.",
            Blocked.NOT_REQUESTER,
        )
    return allow(f"{user.username} may withdraw request #{request.request_id}.")


# --- for pages and the command line: the rules on a fresh read of the store ----------------


def can_request_promotion(
    store: Store, user: User, model_name: str, model_version: str
) -> Decision:
    with store.connect() as con:
        stale = principal_rule(check(con, user))
        return stale or request_rule(user, get_version(con, model_name, model_version))


def can_approve(
    store: Store,
    user: User,
    model_name: str,
    model_version: str,
    *,
    report: GateReport | None = None,
) -> Decision:
    with store.transaction() as con:  # a first gate run profiles the reference data
        version = get_version(con, model_name, model_version)
        request = pending_request(con, model_name, model_version)
        base = decide_rule(user, version, request, "approve", "approve")
        if not base.allowed:  # don't compute gates for a button that is hidden anyway
            return base
        stale = principal_rule(check(con, user))
        if stale:
            return stale
        report = report or run_gates(con, store.home, model_name, model_version)
        return approve_rule(user, version, request, report, grants_of(con, user.username))


def can_reject(store: Store, user: User, model_name: str, model_version: str) -> Decision:
    with store.connect() as con:
        version = get_version(con, model_name, model_version)
        request = pending_request(con, model_name, model_version)
        stale = principal_rule(check(con, user))
        return stale or decide_rule(user, version, request, "reject", "reject")


def can_override(
    store: Store,
    user: User,
    model_name: str,
    model_version: str,
    *,
    report: GateReport | None = None,
) -> Decision:
    denied = role_rule(user, "override_gate", "override failed gates")
    if denied:
        return denied
    with store.transaction() as con:
        version = get_version(con, model_name, model_version)
        request = pending_request(con, model_name, model_version)
        stale = principal_rule(check(con, user))
        if stale:
            return stale
        report = report or run_gates(con, store.home, model_name, model_version)
        return override_rule(user, version, request, report, grants_of(con, user.username))


def can_rollback(store: Store, user: User, model_name: str) -> Decision:
    with store.connect() as con:
        champion = aliases(con, model_name).get(CHAMPION)
        stale = principal_rule(check(con, user))
        return stale or rollback_rule(user, model_name, champion, rollback_target(con, model_name))


def can_withdraw(store: Store, user: User, model_name: str, model_version: str) -> Decision:
    with store.connect() as con:
        version = get_version(con, model_name, model_version)
        stale = principal_rule(check(con, user))
        return stale or withdraw_rule(
            user, version, pending_request(con, model_name, model_version)
        )
