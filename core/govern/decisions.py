"""A rule's answer: allowed or not, why in words, and why as an enum a page can act on.

Every rule in Vigil (promotions in core.govern.rules, policy changes in core.govern.policy)
answers with a Decision; actions turn a refusal into the matching error with `raise_for`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vigil.core.errors import PermissionDenied, RegistryError, VigilError
from vigil.core.govern.principals import StalePrincipalError


class Blocked(StrEnum):
    """Why a rule says no."""

    ROLE = "role"  # the role may never do this: pages hide the button
    NOT_REQUESTER = "not_requester"  # only the requester may do this: pages hide the button
    STATE = "state"  # nothing to act on in the version's or request's state
    FOUR_EYES = "four_eyes"  # the user took part in the request
    GATES = "gates"  # failed gates that no override covers
    NEW_APPROVER = "new_approver"  # rights granted recently by someone party to the decision
    STALE = "stale"  # the user's stored role or status is not what the session claims

    @property
    def hides(self) -> bool:
        """A button this user can never use is not drawn at all."""
        return self in (Blocked.ROLE, Blocked.NOT_REQUESTER)


class FourEyesError(PermissionDenied):
    """The acting user is the one who registered, requested or overrode; someone else decides."""


class GateFailedError(RegistryError):
    """A gate failed and no admin override covers it."""


ERRORS: dict[Blocked, type[VigilError]] = {
    Blocked.ROLE: PermissionDenied,
    Blocked.NOT_REQUESTER: PermissionDenied,
    Blocked.STATE: RegistryError,
    Blocked.FOUR_EYES: FourEyesError,
    Blocked.GATES: GateFailedError,
    Blocked.NEW_APPROVER: FourEyesError,
    Blocked.STALE: StalePrincipalError,
}


@dataclass(frozen=True)
class Decision:
    """Whether a user may take an action now, and if not, why (`blocked`) in words."""

    allowed: bool
    reason: str
    blocked: Blocked | None = None


def allow(reason: str) -> Decision:
    return Decision(True, reason)


def raise_for(decision: Decision) -> None:
    """Raise the error that goes with the decision's reason, if it says no."""
    if decision.allowed:
        return
    raise ERRORS.get(decision.blocked or Blocked.STATE, RegistryError)(decision.reason)
