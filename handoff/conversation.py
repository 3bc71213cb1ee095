"""The conversation around an escalation, read from the gateway's inbox and outbox.

The gateway (`channels/`) owns those tables; the dashboard receives a `ConversationReader`
(`gateway_conversation_reader()` when the gateway package is installed alongside) and shows a
"not available" note when there is none or it finds nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from youthlink.crypto import Cipher
from youthlink.errors import DecryptionError

log = logging.getLogger(__name__)

YOUNG_PERSON = "young_person"
ASSISTANT = "assistant"
TURNS_AROUND = 3


@dataclass(frozen=True)
class Turn:
    """One message in the conversation, decrypted."""

    at: datetime
    speaker: str
    text: str = field(repr=False)
    trigger: bool = False


# (session, cipher, conversation_id, escalation_id, escalated_at) -> turns, or None when the
# conversation cannot be read.
ConversationReader = Callable[[Session, Cipher, str, str, datetime], "Sequence[Turn] | None"]


def _outbound_text(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("text", "Body", "body"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return "(a message without text)"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def read_gateway_conversation(
    session: Session,
    cipher: Cipher,
    conversation_id: str,
    escalation_id: str,
    escalated_at: datetime,
    *,
    around: int = TURNS_AROUND,
) -> list[Turn] | None:
    """The young person's messages before and after the one that escalated, with the
    assistant's replies in between; None when the gateway's tables cannot be read."""
    try:
        tables = importlib.import_module("channels.tables")
    except ImportError:
        return None
    inbox, outbox = tables.InboxRow, tables.OutboxRow
    try:
        with session.begin_nested():
            trigger = session.scalar(
                select(inbox).where(
                    inbox.conversation_id == conversation_id, inbox.escalation_id == escalation_id
                )
            )
            if trigger is None:  # recorded through the API: the message nearest in time
                trigger = session.scalar(
                    select(inbox)
                    .where(inbox.conversation_id == conversation_id)
                    .where(inbox.received_at <= escalated_at)
                    .order_by(inbox.id.desc())
                    .limit(1)
                )
            if trigger is None:
                return []
            before = session.scalars(
                select(inbox)
                .where(inbox.conversation_id == conversation_id, inbox.id < trigger.id)
                .order_by(inbox.id.desc())
                .limit(around)
            ).all()
            after = session.scalars(
                select(inbox)
                .where(inbox.conversation_id == conversation_id, inbox.id > trigger.id)
                .order_by(inbox.id)
                .limit(around)
            ).all()
            messages = [*reversed(before), trigger, *after]
            ids = {m.id for m in messages}
            first, last = messages[0], messages[-1]
            replies = session.scalars(
                select(outbox)
                .where(
                    outbox.conversation_id == conversation_id,
                    outbox.kind != "page",
                    outbox.created_at >= first.received_at,
                )
                .order_by(outbox.id)
                .limit(4 * len(messages))
            ).all()
            turns = [
                Turn(
                    _aware(m.received_at),
                    YOUNG_PERSON,
                    cipher.decrypt(m.text_encrypted) or "",
                    m.id == trigger.id,
                )
                for m in messages
            ]
            for reply in replies:
                # Replies to these messages, and messages sent on their own within the span.
                if reply.in_reply_to is None:
                    if _aware(reply.created_at) > _aware(last.received_at):
                        continue
                elif reply.in_reply_to not in ids:
                    continue
                body = json.loads(cipher.decrypt(reply.body_encrypted) or "{}")
                turns.append(Turn(_aware(reply.created_at), ASSISTANT, _outbound_text(body)))
    except (SQLAlchemyError, DecryptionError, ValueError) as exc:
        log.warning("conversation context unavailable: %s", type(exc).__name__)
        return None
    return sorted(turns, key=lambda t: (t.at, t.speaker != YOUNG_PERSON))


def gateway_conversation_reader() -> ConversationReader | None:
    """The reader of the gateway's tables, when the `channels` package is installed."""
    if importlib.util.find_spec("channels") is None:
        return None
    return read_gateway_conversation
