"""How a provider refused one message: retry later, wait as asked, or give up."""

from __future__ import annotations

from channels.errors import DeliveryFailed


class SendFailed(DeliveryFailed):
    """The provider did not take the message this time.

    `reason` is a short code for the outbox and the logs (`twilio:21610`, `telegram:429`),
    never the provider's message, which can quote the number or the text. `retry_after` is the
    provider's own wait, `permanent` means retrying cannot help, and `opted_out` that the
    provider says the young person has opted out (STOP on SMS, a blocked bot on Telegram).
    """

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        opted_out: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason[:64]
        self.retry_after = retry_after
        self.permanent = permanent or opted_out
        self.opted_out = opted_out
