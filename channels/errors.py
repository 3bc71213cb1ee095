"""Errors raised at the gateway; each docstring is the message."""

from __future__ import annotations

from youthlink.errors import YouthLinkError


class GatewayError(YouthLinkError):
    """The gateway could not handle a message."""


class Unauthorized(GatewayError):
    """The request did not carry valid credentials for this channel."""


class BadRequest(GatewayError):
    """The request is not a valid message for this channel."""

    status_code = 400


class TextTooLong(BadRequest):
    """The message text is longer than this channel accepts."""

    status_code = 413


class RasaUnavailable(GatewayError):
    """Rasa could not be reached or did not answer properly; the message will be retried."""


class DeliveryFailed(GatewayError):
    """A reply could not be handed to the channel's provider; it will be retried."""


def describe(exc: BaseException) -> str:
    """An exception for a log line: its type and where it was raised, never its message.

    Messages can carry the values that caused them (a young person's words, an address).
    """
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return type(exc).__name__
    code = tb.tb_frame.f_code
    return f"{type(exc).__name__} at {code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
