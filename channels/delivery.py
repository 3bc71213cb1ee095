"""Delivering one queued message: the opt-out check, the provider, and what its answer means.

- A conversation that said STOP gets nothing but the exceptions in `outbox.refusal`; refused
  messages are marked failed with the reason `opted_out`.
- A provider that asks to wait (HTTP 429 with Retry-After, Telegram's flood control) is waited
  for; other temporary failures (5xx, timeouts, refused connections) are retried with backoff,
  for up to `RetryPolicy.give_up_after` (24 hours) after the message was queued.
- A refusal that retrying cannot change (an invalid number) fails the message at once; one that
  says the young person opted out at the provider (Twilio 21610, a blocked Telegram bot) also
  opts the conversation out.

Later messages of the same conversation wait behind one being retried: order is kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from channels import conversations, outbox
from channels.conversations import Conversation, get_conversation, lookup_address
from channels.database import as_utc
from channels.errors import describe
from channels.messages import Outbound
from channels.outbox import OutboxItem
from channels.pipeline import Pipeline
from channels.send_failure import SendFailed

log = logging.getLogger(__name__)

TWILIO_CHANNELS = ("sms", "whatsapp")


@dataclass(frozen=True)
class Loaded:
    """One message to send, with where to and its conversation's state."""

    item: OutboxItem
    address: str
    conversation: Conversation | None


class Delivery:
    """Sends claimed outbox messages through their channels (see the module docstring)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    async def deliver(self, outbox_id: int) -> None:
        """Send one claimed outbox message, or refuse it, or schedule another attempt."""
        db = self.pipeline.db
        loaded = await db.run(lambda session: self._load(session, outbox_id))
        if loaded is None:
            return
        item = loaded.item
        body = dict(item.body)
        if item.channel in TWILIO_CHANNELS and loaded.conversation is not None:
            body["from"] = loaded.conversation.reply_from or ""
        try:
            channel = self.pipeline.channels[item.channel]
            provider_id = await channel.send(loaded.address, Outbound(body))
        except Exception as exc:
            if isinstance(exc, SendFailed):
                failure = exc
            else:
                failure = SendFailed(type(exc).__name__)
                log.warning("delivery error outbox_id=%s: %s", outbox_id, describe(exc))
            await db.run(lambda session: self._failed(session, item, failure))
            return
        now = self.pipeline.clock()
        await db.run(lambda session: outbox.mark_sent(session, outbox_id, provider_id, now))

    def _load(self, session: Session, outbox_id: int) -> Loaded | None:
        item = outbox.get_item(session, self.pipeline.cipher, outbox_id)
        if item is None:
            return None
        now = self.pipeline.clock()
        found = lookup_address(session, self.pipeline.cipher, item.conversation_id)
        if found is None:
            outbox.mark_undeliverable(session, outbox_id, item.attempts, "no_address", now)
            return None
        conversation = get_conversation(session, item.conversation_id)
        refused = outbox.refusal(item, conversation)
        if refused is not None:
            outbox.mark_undeliverable(session, outbox_id, item.attempts, refused, now)
            log.info(
                "not sent outbox_id=%s kind=%s reason=%s conversation_id=%s",
                outbox_id, item.kind, refused, item.conversation_id,
            )  # fmt: skip
            return None
        return Loaded(item=item, address=found[1], conversation=conversation)

    def _failed(self, session: Session, item: OutboxItem, exc: SendFailed) -> None:
        now = self.pipeline.clock()
        attempts = item.attempts + 1
        if exc.permanent:
            outbox.mark_undeliverable(session, item.id, attempts, exc.reason, now)
            log.warning(
                "delivery refused outbox_id=%s kind=%s reason=%s", item.id, item.kind, exc.reason
            )
            if exc.opted_out:
                conversations.opt_out(session, item.conversation_id, None, now)
                log.info("provider opt-out conversation_id=%s", item.conversation_id)
            return
        retry = self.pipeline.retry
        queued_at = as_utc(item.created_at) if item.created_at is not None else now
        if now - queued_at > retry.give_up_after:
            outbox.mark_undeliverable(session, item.id, attempts, exc.reason, now)
            log.error("giving up delivery outbox_id=%s reason=%s", item.id, exc.reason)
            return
        wait = retry.delay(attempts)
        if exc.retry_after is not None:
            wait = max(wait, timedelta(seconds=min(exc.retry_after, 3600.0)))
        outbox.mark_attempt_failed(session, item.id, attempts, now + wait, exc.reason)
        log.warning(
            "delivery failed outbox_id=%s attempt=%s reason=%s retry_in=%.1fs",
            item.id, attempts, exc.reason, wait.total_seconds(),
        )  # fmt: skip
