"""What the short path reads at the start of each of its two transactions, one statement each.

Each statement joins several lookups onto one row: the conversation is left-joined to a
one-row selection, so an address seen for the first time still gives a row. On SQLite most of
a statement's cost is SQLAlchemy's work around it, not SQLite's, so one statement instead of
three is most of the saving.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, literal_column, select

from channels.conversations import CONVERSATION_COLUMNS, Conversation
from channels.database import Executor
from channels.driver import on_driver
from channels.inbox import Stored, waiting
from channels.messages import InboundMessage
from channels.outbox import REPLY_QUEUED
from channels.tables import ConversationRow, InboxRow

_INBOX = cast(Table, InboxRow.__table__)
_CONVERSATIONS = cast(Table, ConversationRow.__table__)
_ONE = select(literal_column("1").label("one")).subquery("one")
_STORED = _INBOX.alias("stored")


@dataclass(frozen=True)
class Arrival:
    """A message as it arrives: stored before (a repeat), its conversation, and whether a
    message of that conversation is still waiting or being relayed."""

    stored: Stored | None
    conversation: Conversation | None
    waiting: bool


@dataclass(frozen=True)
class AnswerState:
    """Before an answer is queued: whether it already was (a relay repeated after a restart),
    whether a later message of the conversation is waiting, and the conversation."""

    answered: bool
    later_waiting: bool
    conversation: Conversation | None


_ARRIVAL = on_driver(
    select(
        _STORED.c.id.label("stored_id"),
        _STORED.c.conversation_id.label("stored_conversation_id"),
        waiting().label("waiting"),
        *CONVERSATION_COLUMNS,
    ).select_from(
        _ONE.outerjoin(
            _STORED,
            and_(
                _STORED.c.channel == bindparam("channel"),
                _STORED.c.provider_message_id == bindparam("provider_id"),
            ),
        ).outerjoin(
            _CONVERSATIONS, _CONVERSATIONS.c.conversation_id == bindparam("conversation_id")
        )
    )
)

_ANSWER = on_driver(
    select(
        REPLY_QUEUED.label("answered"),
        waiting(_INBOX.c.id > bindparam("inbox_id")).label("later_waiting"),
        *CONVERSATION_COLUMNS,
    ).select_from(
        _ONE.outerjoin(
            _CONVERSATIONS, _CONVERSATIONS.c.conversation_id == bindparam("conversation_id")
        )
    )
)


def _conversation(row: Row[Any]) -> Conversation | None:
    if row.conversation_id is None:
        return None
    return Conversation.from_row(cast(ConversationRow, row))


def read_arrival(db: Executor, message: InboundMessage, conversation_id: str) -> Arrival:
    """The state a message of `conversation_id` arrives into (one statement)."""
    params = {
        "channel": message.channel,
        "provider_id": message.provider_message_id,
        "conversation_id": conversation_id,
    }
    row = db.execute(_ARRIVAL, params).one()
    stored = None
    if row.stored_id is not None:
        stored = Stored(row.stored_id, row.stored_conversation_id, created=False)
    return Arrival(stored=stored, conversation=_conversation(row), waiting=bool(row.waiting))


def read_answer_state(db: Executor, conversation_id: str, inbox_id: int) -> AnswerState:
    """The state an answer to message `inbox_id` is queued into (one statement)."""
    row = db.execute(_ANSWER, {"conversation_id": conversation_id, "inbox_id": inbox_id}).one()
    return AnswerState(
        answered=bool(row.answered),
        later_waiting=bool(row.later_waiting),
        conversation=_conversation(row),
    )
