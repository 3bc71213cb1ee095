"""Errors of the staff side (accounts, sign-in, the queue); each docstring is the message."""

from __future__ import annotations

from handoff.errors import Conflict, HandoffError, NotFound


class Forbidden(HandoffError):
    """You do not have access to this."""


class InvalidInput(HandoffError):
    """That input is not valid."""


class CaseloadFull(Conflict):
    """This worker already holds as many open cases as their cap allows."""


class NothingToClaim(Conflict):
    """There is no referral waiting that you can claim."""


class LoginFailed(HandoffError):
    """That username and password do not match an active account."""


class AccountLocked(LoginFailed):
    """Too many failed sign-ins: this account is locked for a while."""


class UserNotFound(NotFound):
    """No such user."""
