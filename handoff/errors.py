"""Errors raised by the handoff store and API; each docstring is the message."""

from __future__ import annotations

from collections.abc import Sequence

from youthlink.errors import YouthLinkError


class HandoffError(YouthLinkError):
    """The referral or escalation could not be handled."""


class NotFound(HandoffError):
    """No such record."""


class ReferralNotFound(NotFound):
    """No referral with this id."""


class EscalationNotFound(NotFound):
    """No escalation with this id."""


class InvalidReferral(HandoffError):
    """The referral record does not match the referral schema."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid referral: " + "; ".join(self.problems))


class InvalidEscalation(HandoffError):
    """The escalation is not valid."""


class Conflict(HandoffError):
    """The request conflicts with the record's current state."""


class ReferralWithdrawn(Conflict):
    """This referral was withdrawn; it cannot be submitted again."""


class InvalidTransition(Conflict):
    """The record cannot move to that status from its current one."""
