"""The path of one message: screen, escalate, relay to Rasa, queue the replies, deliver them.

Each step commits its own checkpoint, so a gateway that stops at any point resumes without
repeating what the young person has already been sent.

A message of the local channel whose conversation has nothing else in flight takes a shorter
path with the same checkpoints (`receive`): stored, screened and claimed in one transaction,
relayed by the request that brought it, answered in a second one. Its replies are read back by
the client, so they are settled when queued instead of going through the outbox's sending loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from channels import inbox, outbox
from channels.channel import Channel
from channels.conversations import (
    Conversation,
    conversation_id_for,
    create_conversation,
    get_conversation,
    lookup_address,
    read_conversation,
    set_offered,
    touch_conversation,
)
from channels.database import Core, Database, Executor, as_utc, utcnow
from channels.errors import RasaUnavailable, describe
from channels.inbox import InboxItem, Stored
from channels.local import READ_BACK_CHANNELS
from channels.messages import (
    BotMessage,
    InboundMessage,
    Outbound,
    fold_rasa_messages,
    offered_buttons,
)
from channels.outbox import OutboxItem
from channels.rasa import RasaClient
from channels.safeguarding import Safeguarding
from channels.tables import (
    CRISIS,
    FAILED,
    HOLDING,
    PENDING,
    REPLY,
    SENT,
    InboxRow,
)
from channels.texts import (
    FALLBACK_HELP_TEXT,
    escape_slash,
    holding_text,
    is_help,
    truncate_for_rasa,
)
from channels.turn_state import read_answer_state, read_arrival
from youthlink.crypto import Cipher

log = logging.getLogger(__name__)

UNKNOWN_AGE = "unknown"


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between attempts and when to give up."""

    base_seconds: float = 1.0
    cap_seconds: float = 15.0
    lease: timedelta = timedelta(minutes=2)
    give_up_after: timedelta = timedelta(hours=24)
    max_send_attempts: int = 20

    def delay(self, attempts: int) -> timedelta:
        """Exponential backoff after `attempts` failures, capped."""
        seconds = self.base_seconds * (2 ** max(0, attempts - 1))
        return timedelta(seconds=min(self.cap_seconds, seconds))


@dataclass(frozen=True)
class Prepared:
    """What relaying one message needs, read in one transaction."""

    item: InboxItem
    conversation: Conversation


@dataclass(frozen=True)
class Received:
    """A message just stored: `prepared` when it was also screened clean and claimed for relay."""

    stored: Stored
    prepared: Prepared | None = None


@dataclass(frozen=True)
class Answered:
    """The dialogue's answer to one message, as queued; `more_waiting` when a later message of
    the conversation is waiting behind it."""

    messages: list[OutboxItem]
    more_waiting: bool


class Pipeline:
    """The gateway's steps for one message, each safe to repeat after a crash."""

    def __init__(
        self,
        db: Database,
        cipher: Cipher,
        channels: Mapping[str, Channel],
        rasa: RasaClient,
        safeguarding: Safeguarding,
        *,
        escalate_at: int = 4,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.channels = channels
        self.rasa = rasa
        self.safeguarding = safeguarding
        self.escalate_at = escalate_at
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self.rasa_unavailable = False
        self._escalation_backoff: dict[int, datetime] = {}

    # -- steps 1 and 3 at once, for a message whose conversation has nothing in flight --------

    async def receive(self, message: InboundMessage, now: datetime) -> Received:
        """Store a message; screen it and claim it for relay in the same transaction when it can
        go straight on (nothing earlier of its conversation in flight, no escalation, Rasa not
        known to be down). Otherwise the worker takes it from the inbox as usual.

        The short path is a few statements, run as `Database.run_core_soon`; the rest runs in a
        worker thread. If screening fails the message is still stored, alone, and the worker
        screens it (with its own fallback).
        """
        try:
            received = await self.db.run_core_soon(
                lambda connection: self._receive_clean(connection, message, now)
            )
            if received is not None:
                return received
            return await self.db.run(lambda session: self._receive(session, message, now))
        except Exception as exc:
            log.error("receiving with the screen failed: %s", describe(exc))
        return await self.db.run(
            lambda session: Received(inbox.store_inbound(session, self.cipher, message, now))
        )

    def _receive_clean(
        self, connection: Core, message: InboundMessage, now: datetime
    ) -> Received | None:
        # The common case in a handful of statements and no ORM: a repeat, or a message that
        # screens clean, of a new conversation or of one with nothing in flight. None when the
        # message needs more than that (nothing has been written then).
        conversation_id = conversation_id_for(self.cipher, message.channel, message.address)
        arrival = read_arrival(connection, message, conversation_id)
        if arrival.stored is not None:
            return Received(arrival.stored)
        conversation = arrival.conversation
        if self.rasa_unavailable or (
            conversation is not None
            and (conversation.paused or conversation.opted_out or arrival.waiting)
        ):
            return None
        history = []
        if conversation is not None:
            history = inbox.recent_texts(connection, self.cipher, conversation_id, None)
        verdict = self.safeguarding.screen(message.text, history)
        if verdict.escalate(self.escalate_at):
            return None
        if conversation is None:
            conversation = create_conversation(
                connection, self.cipher, message.channel, message.address, now
            )
        else:
            touch_conversation(connection, conversation_id, now)
        screened = inbox.Screened(
            severity=int(verdict.severity),
            categories=tuple(verdict.categories),
            rule_ids=tuple(verdict.rule_ids),
            ruleset_version=str(verdict.ruleset_version),
        )
        item = inbox.store_claimed(
            connection, self.cipher, message, conversation_id, screened, now,
            now + self.retry.lease,
        )  # fmt: skip
        stored = Stored(item.id, conversation_id, True)
        return Received(stored, Prepared(item=item, conversation=conversation))

    def _receive(self, session: Session, message: InboundMessage, now: datetime) -> Received:
        # Everything `_receive_clean` declined: stored, then screened as every message is (the
        # crisis reply queued at once), and left to the worker.
        stored = inbox.store_inbound(session, self.cipher, message, now)
        if stored.row is not None:
            self._screen(session, stored.row)
        return Received(stored)

    # -- step 1: screen (never waits for earlier messages or for Rasa) -----------------------

    def screen_next(self) -> int | None:
        """Screen the oldest unscreened message; queue the crisis reply if it escalates.

        Returns its inbox id, or None when nothing was waiting. Blocking: run it in a thread.
        """
        row_id: int | None = None
        try:
            with self.db.transaction() as session:
                row = inbox.claim_unscreened(session)
                if row is None:
                    return None
                row_id = row.id
                self._screen(session, row)
        except Exception as exc:
            if row_id is None:
                raise
            # The rules could not be applied: let the message through (Rasa's own gate screens it
            # too) rather than stalling every conversation behind it.
            log.error("screening failed inbox_id=%s: %s", row_id, describe(exc))
            with self.db.transaction() as session:
                row = session.get(InboxRow, row_id)
                if row is not None and not row.screened:
                    inbox.save_verdict(
                        row,
                        severity=None,
                        categories=(),
                        rule_ids=(),
                        ruleset_version=None,
                        escalated=False,
                    )
        return row_id

    def _screen(self, session: Session, row: InboxRow) -> None:
        item = InboxItem.from_row(row, self.cipher)
        history = inbox.recent_texts(session, self.cipher, item.conversation_id, item.id)
        verdict = self.safeguarding.screen(item.text, history)
        escalated = bool(verdict.escalate(self.escalate_at))
        inbox.save_verdict(
            row,
            severity=int(verdict.severity),
            categories=tuple(verdict.categories),
            rule_ids=tuple(verdict.rule_ids),
            ruleset_version=str(verdict.ruleset_version),
            escalated=escalated,
        )
        conversation = get_conversation(session, item.conversation_id)
        age_band = (conversation.age_band if conversation else None) or UNKNOWN_AGE
        now = self.clock()
        if escalated:
            log.warning(
                "escalating inbox_id=%s conversation_id=%s severity=%s rule_ids=%s",
                item.id, item.conversation_id, verdict.severity, ",".join(verdict.rule_ids),
            )  # fmt: skip
            try:
                text = self.safeguarding.crisis_reply(verdict, age_band)
            except Exception as exc:
                log.error("crisis reply failed inbox_id=%s: %s", item.id, describe(exc))
                text = FALLBACK_HELP_TEXT
            self._queue(session, item, [BotMessage(text=text)], CRISIS, now)
        elif (
            is_help(item.text)
            and (
                self.rasa_unavailable
                or inbox.has_deferred_before(session, item.conversation_id, item.id)
            )
            and not outbox.has_reply(session, item.id)
        ):
            # HELP is answered even while Rasa is down and earlier messages wait for it.
            self._queue(session, item, [BotMessage(text=self._help_text(age_band))], REPLY, now)
            inbox.mark_done(session, item.id, now)

    # -- step 2: record escalations in the handoff log -----------------------------------------

    def record_escalations(self) -> int:
        """Record every escalation not yet in the log; returns how many were recorded."""
        now = self.clock()
        with self.db.transaction() as session:
            waiting = inbox.unrecorded_escalations(session)
        recorded = 0
        for inbox_id in waiting:
            not_before = self._escalation_backoff.get(inbox_id)
            if not_before is not None and now < not_before:
                continue
            if self.record_escalation(inbox_id):
                recorded += 1
        return recorded

    def record_escalation(self, inbox_id: int) -> bool:
        """Record one message's escalation (once); False if the log could not be written."""
        try:
            with self.db.transaction() as session:
                row = session.get(InboxRow, inbox_id, with_for_update=True)
                if row is None or not row.escalated or row.escalation_id is not None:
                    return True
                item = InboxItem.from_row(row, self.cipher)
                conversation = get_conversation(session, item.conversation_id)
                row.escalation_id = self.safeguarding.record(
                    session,
                    self.cipher,
                    conversation_id=item.conversation_id,
                    channel=item.channel,
                    severity=item.severity or 0,
                    categories=item.categories,
                    rule_ids=item.rule_ids,
                    ruleset_version=item.ruleset_version or "",
                    excerpt=item.text,
                    age_band=(conversation.age_band if conversation else None) or UNKNOWN_AGE,
                )
                log.info(
                    "escalation recorded inbox_id=%s escalation_id=%s", inbox_id, row.escalation_id
                )
        except Exception as exc:
            log.error("recording escalation failed inbox_id=%s: %s", inbox_id, describe(exc))
            self._escalation_backoff[inbox_id] = self.clock() + timedelta(seconds=5)
            return False
        self._escalation_backoff.pop(inbox_id, None)
        return True

    # -- step 3: relay to Rasa, in order per conversation -------------------------------------

    def claim_next(self) -> int | None:
        """Claim the next message ready to relay (blocking)."""
        with self.db.transaction() as session:
            return inbox.claim_next(session, self.clock(), self.retry.lease)

    async def relay(self, inbox_id: int) -> None:
        """Relay one claimed message to Rasa and queue the answer (or defer it)."""
        prepared = await self.db.run(lambda session: self._prepare(session, inbox_id))
        if prepared is not None:
            await self.relay_prepared(prepared)

    async def relay_prepared(self, prepared: Prepared) -> Answered | None:
        """Relay a claimed, prepared message; the answer as queued, or None when deferred."""
        inbox_id = prepared.item.id
        item, conversation = prepared.item, prepared.conversation
        if item.escalated and item.escalation_id is None:
            await asyncio.to_thread(self.record_escalation, item.id)
            refreshed = await self.db.run(
                lambda session: inbox.get_item(session, self.cipher, inbox_id)
            )
            item = refreshed or item
        channel = self.channels[item.channel]
        text = channel.resolve_reply(item.text, conversation.offered)
        text = escape_slash(text, {button.payload for button in conversation.offered})
        text = truncate_for_rasa(text)
        metadata: dict[str, Any] = {"channel": item.channel}
        if item.escalated:
            metadata["safeguarding"] = {
                "severity": item.severity,
                "categories": list(item.categories),
                "rule_ids": list(item.rule_ids),
                "escalation_id": item.escalation_id,
            }
        try:
            raw = await self.rasa.send(item.conversation_id, text, metadata)
        except RasaUnavailable as exc:
            if not self.rasa_unavailable:
                log.warning("Rasa unavailable: %s", exc)
            self.rasa_unavailable = True
            await self.db.run(lambda session: self._deferred(session, item, conversation))
            return None
        if self.rasa_unavailable:
            log.info("Rasa reachable again")
        self.rasa_unavailable = False
        return await self.db.run_core_soon(lambda connection: self._answered(connection, item, raw))

    def _prepare(self, session: Session, inbox_id: int) -> Prepared | None:
        item = inbox.get_item(session, self.cipher, inbox_id)
        if item is None:
            return None
        now = self.clock()
        if outbox.has_reply(session, inbox_id):
            # Answered before a restart: never answer twice.
            inbox.mark_done(session, inbox_id, now)
            return None
        conversation = get_conversation(session, item.conversation_id)
        if conversation is None or conversation.paused or conversation.opted_out:
            # Paused: a person has taken over; opted out: nothing more is sent.
            inbox.mark_done(session, inbox_id, now)
            return None
        return Prepared(item=item, conversation=conversation)

    def _answered(
        self, session: Executor, item: InboxItem, raw: list[dict[str, Any]]
    ) -> Answered | None:
        now = self.clock()
        state = read_answer_state(session, item.conversation_id, item.id)
        if state.answered:
            inbox.mark_done(session, item.id, now)
            return None
        messages = fold_rasa_messages(raw)
        queued: list[OutboxItem] = []
        conversation = state.conversation
        if messages:
            queued = self._queue(session, item, messages, REPLY, now, conversation)
            offered = offered_buttons(messages)
            if conversation is None or offered != conversation.offered:
                set_offered(session, item.conversation_id, offered)
        inbox.mark_done(session, item.id, now)
        log.info(
            "answered inbox_id=%s conversation_id=%s messages=%s",
            item.id, item.conversation_id, len(messages),
        )  # fmt: skip
        return Answered(messages=queued, more_waiting=state.later_waiting)

    def _deferred(self, session: Session, item: InboxItem, conversation: Conversation) -> None:
        now = self.clock()
        attempts = item.attempts + 1
        age_band = conversation.age_band or UNKNOWN_AGE
        if is_help(item.text):
            self._queue(session, item, [BotMessage(text=self._help_text(age_band))], REPLY, now)
            inbox.mark_done(session, item.id, now)
            return
        if now - as_utc(item.received_at) > self.retry.give_up_after:
            log.error("giving up relaying inbox_id=%s after %s attempts", item.id, attempts)
            inbox.mark_failed(session, item.id, attempts, now)
            return
        inbox.defer(session, item.id, attempts, now + self.retry.delay(attempts))
        if not item.escalated and not outbox.holding_outstanding(session, item.conversation_id):
            text = holding_text(self._help_text(age_band))
            self._queue(session, item, [BotMessage(text=text)], HOLDING, now)

    def _help_text(self, age_band: str) -> str:
        try:
            return self.safeguarding.help_reply(age_band)
        except Exception as exc:
            log.error("help reply failed: %s", describe(exc))
            return FALLBACK_HELP_TEXT

    def _queue(
        self,
        session: Executor,
        item: InboxItem,
        messages: list[BotMessage],
        kind: str,
        now: datetime,
        conversation: Conversation | None = None,
    ) -> list[OutboxItem]:
        """Queue `messages` in answer to `item`; `conversation` as read in this transaction, if
        it was."""
        read_back = item.channel in READ_BACK_CHANNELS
        # Read back by the client, nothing to push: settled as they are queued, as the sending
        # loop would settle them (refused after STOP, otherwise sent), not claimed one by one.
        if read_back and conversation is None:
            conversation = read_conversation(session, item.conversation_id)
        queued = []
        for rendered in self.channels[item.channel].render(messages):
            draft = OutboxItem(
                id=0,
                conversation_id=item.conversation_id,
                channel=item.channel,
                kind=kind,
                status=PENDING,
                attempts=0,
                body=rendered.body,
                in_reply_to=item.id,
                created_at=now,
            )
            refused = outbox.refusal(draft, conversation) if read_back else None
            status = PENDING if not read_back else FAILED if refused else SENT
            outbox_id = outbox.enqueue(
                session,
                self.cipher,
                conversation_id=item.conversation_id,
                channel=item.channel,
                outbound=rendered,
                kind=kind,
                in_reply_to=item.id,
                now=now,
                status=status,
                error=refused,
            )
            queued.append(replace(draft, id=outbox_id, status=status))
        return queued

    # -- step 4: deliver ------------------------------------------------------------------------

    def claim_delivery(self) -> int | None:
        """Claim the next queued message to send (blocking)."""
        with self.db.transaction() as session:
            return outbox.claim_next(session, self.clock(), self.retry.lease)

    async def deliver(self, outbox_id: int) -> None:
        """Send one claimed outbox message through its channel; retry later on failure."""
        loaded = await self.db.run(lambda session: self._load_delivery(session, outbox_id))
        if loaded is None:
            return
        item, address = loaded
        try:
            provider_id = await self.channels[item.channel].send(address, Outbound(item.body))
        except Exception as exc:
            attempts = item.attempts + 1
            log.warning(
                "delivery failed outbox_id=%s attempt=%s: %s", outbox_id, attempts, describe(exc),
            )  # fmt: skip
            if attempts >= self.retry.max_send_attempts:
                await self.db.run(lambda s: outbox.mark_failed(s, outbox_id, attempts))
                log.error("giving up delivery outbox_id=%s", outbox_id)
            else:
                when = self.clock() + self.retry.delay(attempts)
                await self.db.run(lambda s: outbox.mark_retry(s, outbox_id, attempts, when))
            return
        await self.db.run(lambda s: outbox.mark_sent(s, outbox_id, provider_id, self.clock()))

    def _load_delivery(
        self, session: Session, outbox_id: int
    ) -> tuple[outbox.OutboxItem, str] | None:
        item = outbox.get_item(session, self.cipher, outbox_id)
        if item is None:
            return None
        found = lookup_address(session, self.cipher, item.conversation_id)
        if found is None:
            outbox.mark_failed(session, outbox_id, item.attempts)
            return None
        return item, found[1]

    def release_claims(self) -> None:
        """After a restart of a single-process gateway: everything it held is pending again."""
        with self.db.transaction() as session:
            now = self.clock()
            released = inbox.release_claims(session, now) + outbox.release_claims(session, now)
        if released:
            log.info("resumed %s claimed rows after restart", released)
