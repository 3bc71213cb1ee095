"""Storing what a provider webhook delivered, with what its keywords do, in one transaction.

Everything here happens before the provider is acknowledged, so a STOP is in force before any
later reply can be sent, and nothing is acknowledged that is not stored. The screen, the relay
and delivery follow in the worker as for every message: a keyword message is screened too.

A fixed reply queued here is in reply to the message, so the message is not relayed to the
dialogue (the pipeline relays only messages with no reply yet).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from channels import conversations, inbox, outbox
from channels.channel import Channel
from channels.conversations import get_conversation
from channels.inbox import Stored
from channels.keywords import Keyword, carrier_keyword, is_telegram_stop
from channels.messages import BotMessage, InboundMessage
from channels.notices import EMPTY_TEXT, MEDIA_TEXT, OPT_IN_TEXT, OPT_OUT_TEXT
from channels.tables import (
    NOTICE_EMPTY,
    NOTICE_HELP,
    NOTICE_MEDIA,
    NOTICE_OPT_IN,
    NOTICE_OPT_OUT,
    REPLY,
)
from channels.texts import is_help
from youthlink.crypto import Cipher

CARRIER = "carrier"  # SMS and WhatsApp: STOP / START / HELP as carriers expect
TELEGRAM = "telegram"  # /stop is answered by the dialogue; writing again ends it

UNKNOWN_AGE = "unknown"


@dataclass(frozen=True)
class Arrival:
    """One received message and what only its webhook knows."""

    message: InboundMessage
    provider_keyword: str = ""  # Twilio's OptOutType: it has handled (and confirmed) a keyword
    reply_from: str | None = None  # our number the young person wrote to


@dataclass(frozen=True)
class Intake:
    """What the gateway needs to store arrivals: how to render notices and answer HELP."""

    cipher: Cipher
    channel: Channel
    rules: str  # CARRIER or TELEGRAM
    help_text: Callable[[str], str]
    # True when the pipeline will answer HELP itself (the dialogue is unreachable)
    pipeline_answers_help: Callable[[], bool]

    def accept(self, session: Session, arrivals: Sequence[Arrival], now: datetime) -> list[Stored]:
        """Store every arrival (once per provider id) and apply its keyword."""
        stored = []
        for arrival in arrivals:
            result = inbox.store_inbound(session, self.cipher, arrival.message, now)
            stored.append(result)
            if not result.created:
                continue
            conversations.set_reply_from(session, result.conversation_id, arrival.reply_from)
            if self.rules == CARRIER:
                self._carrier(session, arrival, result, now)
            else:
                self._telegram(session, arrival, result, now)
        return stored

    def _carrier(self, session: Session, arrival: Arrival, stored: Stored, now: datetime) -> None:
        message = arrival.message
        conversation = get_conversation(session, stored.conversation_id)
        stopped = conversation is not None and conversation.stopped
        keyword = None
        if message.media_kind is None:
            keyword = carrier_keyword(
                message.text, stopped=stopped, provider_type=arrival.provider_keyword
            )
        if keyword is Keyword.OPT_OUT:
            conversations.opt_out(session, stored.conversation_id, stored.inbox_id, now)
            # Twilio's Advanced Opt-Out confirmed it already when it names the keyword. Either
            # way the message is not relayed: the conversation is opted out.
            if arrival.provider_keyword != "STOP":
                self._notice(session, stored, OPT_OUT_TEXT, NOTICE_OPT_OUT, now)
        elif keyword is Keyword.OPT_IN and stopped:
            conversations.opt_in(session, stored.conversation_id)
            self._notice(session, stored, OPT_IN_TEXT, NOTICE_OPT_IN, now)
        elif keyword is Keyword.HELP:
            # While the dialogue is down the pipeline answers HELP itself (so it is answered
            # once); after STOP only this notice may be sent, so it is queued then in any case.
            pipeline_will = is_help(message.text) and (
                self.pipeline_answers_help()
                or inbox.has_deferred_before(session, stored.conversation_id, stored.inbox_id)
            )
            if stopped or not pipeline_will:
                age_band = (conversation.age_band if conversation else None) or UNKNOWN_AGE
                self._notice(session, stored, self.help_text(age_band), NOTICE_HELP, now)
        elif message.media_kind is not None:
            self._notice(session, stored, MEDIA_TEXT, NOTICE_MEDIA, now)
        elif not message.text:
            self._notice(session, stored, EMPTY_TEXT, NOTICE_EMPTY, now)

    def _telegram(self, session: Session, arrival: Arrival, stored: Stored, now: datetime) -> None:
        message = arrival.message
        if message.media_kind is None and is_telegram_stop(message.text):
            conversations.request_stop(session, stored.conversation_id, stored.inbox_id, now)
        else:
            conversations.opt_in(session, stored.conversation_id)  # they have written again
        if message.media_kind is not None:
            self._notice(session, stored, MEDIA_TEXT, NOTICE_MEDIA, now)
        elif not message.text:
            self._notice(session, stored, EMPTY_TEXT, NOTICE_EMPTY, now)

    def _notice(
        self, session: Session, stored: Stored, text: str, notice: str, now: datetime
    ) -> None:
        for rendered in self.channel.render([BotMessage(text=text)]):
            outbox.enqueue(
                session,
                self.cipher,
                conversation_id=stored.conversation_id,
                channel=self.channel.name,
                outbound=rendered,
                kind=REPLY,
                in_reply_to=stored.inbox_id,
                now=now,
                notice=notice,
            )
