"""Conversations: one opaque id per (channel, address); the address is kept only encrypted."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import DateTime, Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from channels.database import Executor
from channels.driver import DriverConnection, on_driver
from channels.messages import Button, buttons_from_json, buttons_to_json
from channels.tables import ConversationRow
from youthlink.crypto import Cipher


def conversation_id_for(cipher: Cipher, channel: str, address: str) -> str:
    """The opaque, stable conversation id for an address; it cannot be turned back into one."""
    return "c_" + cipher.lookup_hash(channel, address)[:32]


@dataclass(frozen=True)
class Conversation:
    """A conversation as the pipeline needs it (no address)."""

    conversation_id: str
    channel: str
    opted_out: bool
    paused: bool
    age_band: str | None
    offered: tuple[Button, ...]
    opted_out_at: datetime | None = None
    opt_out_inbox_id: int | None = None
    reply_from: str | None = None

    @property
    def stopped(self) -> bool:
        """True when nothing but the exceptions in `channels.outbox.refusal` may be sent."""
        return self.opted_out or self.opt_out_inbox_id is not None

    @classmethod
    def from_row(cls, row: ConversationRow) -> Conversation:
        """Build from a table row."""
        try:
            offered = buttons_from_json(json.loads(row.offered_buttons or "[]"))
        except ValueError:
            offered = ()
        return cls(
            conversation_id=row.conversation_id,
            channel=row.channel,
            opted_out=row.opted_out,
            paused=row.paused,
            age_band=row.age_band,
            offered=offered,
            opted_out_at=row.opted_out_at,
            opt_out_inbox_id=row.opt_out_inbox_id,
            reply_from=row.reply_from,
        )


def ensure_conversation(
    session: Session, cipher: Cipher, channel: str, address: str, now: datetime
) -> ConversationRow:
    """The conversation for this address, created on first contact.

    The row is returned so the caller can keep it: the session only holds weak references,
    and a row nobody holds is read from the database again by the next lookup.
    """
    conversation_id = conversation_id_for(cipher, channel, address)
    row = session.get(ConversationRow, conversation_id)
    if row is not None:
        row.last_seen_at = now
        return row
    row = ConversationRow(
        conversation_id=conversation_id,
        channel=channel,
        address_hash=cipher.lookup_hash(channel, address),
        address_encrypted=cipher.encrypt(address),
        created_at=now,
        last_seen_at=now,
        opted_out=False,
        paused=False,
        offered_buttons="[]",
    )
    if session.get_bind().dialect.name == "sqlite":
        # SQLite work is serialised by the gateway, so no one else can insert it meanwhile.
        session.add(row)
        session.flush()
        return row
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Another replica created it at the same moment: same id, nothing to add.
        existing = session.get(ConversationRow, conversation_id)
        if existing is None:  # pragma: no cover - it was there a moment ago
            raise
        return existing
    return row


def get_conversation(session: Session, conversation_id: str) -> Conversation | None:
    """The conversation, or None."""
    row = session.get(ConversationRow, conversation_id)
    return None if row is None else Conversation.from_row(row)


def find_conversation_id(
    session: Session, cipher: Cipher, channel: str, address: str
) -> str | None:
    """The id of an existing conversation for this address, or None (never creates one)."""
    address_hash = cipher.lookup_hash(channel, address)
    return session.scalar(
        select(ConversationRow.conversation_id).where(
            ConversationRow.channel == channel, ConversationRow.address_hash == address_hash
        )
    )


def lookup_address(
    session: Session, cipher: Cipher, conversation_id: str
) -> tuple[str, str] | None:
    """(channel, address) of a conversation, decrypted, or None when unknown."""
    row = session.get(ConversationRow, conversation_id)
    if row is None:
        return None
    address = cipher.decrypt(row.address_encrypted)
    return None if address is None else (row.channel, address)


_CONVERSATIONS = cast(Table, ConversationRow.__table__)
_SET_OFFERED = on_driver(
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.conversation_id == bindparam("conversation"))
    .values(offered_buttons=bindparam("offered"))
)


CONVERSATION_COLUMNS = (
    _CONVERSATIONS.c.conversation_id,
    _CONVERSATIONS.c.channel,
    _CONVERSATIONS.c.opted_out,
    _CONVERSATIONS.c.paused,
    _CONVERSATIONS.c.age_band,
    _CONVERSATIONS.c.offered_buttons,
    _CONVERSATIONS.c.opted_out_at,
    _CONVERSATIONS.c.opt_out_inbox_id,
    _CONVERSATIONS.c.reply_from,
)
"""The columns `Conversation.from_row` reads (the address stays out)."""

_READ = on_driver(
    select(*CONVERSATION_COLUMNS).where(
        _CONVERSATIONS.c.conversation_id == bindparam("conversation")
    )
)
_TOUCH = on_driver(
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.conversation_id == bindparam("conversation"))
    .values(last_seen_at=bindparam("now", type_=DateTime(timezone=True)))
)


def read_conversation(db: Executor, conversation_id: str) -> Conversation | None:
    """The conversation as it is stored now, or None (one statement, no ORM)."""
    row = db.execute(_READ, {"conversation": conversation_id}).first()
    return None if row is None else Conversation.from_row(cast(ConversationRow, row))


def create_conversation(
    connection: Connection | DriverConnection,
    cipher: Cipher,
    channel: str,
    address: str,
    now: datetime,
) -> Conversation:
    """Store a new conversation for this address (nothing happens if it exists already: another
    gateway replica may create it at the same moment) and return it as new."""
    conversation_id = conversation_id_for(cipher, channel, address)
    values = {
        "conversation_id": conversation_id,
        "channel": channel,
        "address_hash": cipher.lookup_hash(channel, address),
        "address_encrypted": cipher.encrypt(address),
        "created_at": now,
        "last_seen_at": now,
        "opted_out": False,
        "paused": False,
        "offered_buttons": "[]",
    }
    dialect = connection.dialect.name
    insert_into = postgresql_insert if dialect == "postgresql" else sqlite_insert
    connection.execute(insert_into(_CONVERSATIONS).values(values).on_conflict_do_nothing())
    return Conversation(
        conversation_id=conversation_id,
        channel=channel,
        opted_out=False,
        paused=False,
        age_band=None,
        offered=(),
    )


def touch_conversation(db: Executor, conversation_id: str, now: datetime) -> None:
    """Note that the young person wrote now (retention counts from the last message)."""
    db.execute(_TOUCH, {"conversation": conversation_id, "now": now})


def set_offered(session: Executor, conversation_id: str, buttons: tuple[Button, ...]) -> None:
    """Remember the buttons of the bot's latest reply (replacing the previous ones)."""
    offered = json.dumps(buttons_to_json(buttons))
    session.execute(_SET_OFFERED, {"conversation": conversation_id, "offered": offered})


def opt_out(session: Session, conversation_id: str, inbox_id: int | None, now: datetime) -> None:
    """The young person (or their provider) said STOP: nothing more is relayed or sent.

    `inbox_id` is the message that asked; the reply confirming it may still go out.
    """
    session.execute(
        update(ConversationRow)
        .where(ConversationRow.conversation_id == conversation_id)
        .values(opted_out=True, opted_out_at=now, opt_out_inbox_id=inbox_id)
        .execution_options(synchronize_session=False)
    )


def request_stop(session: Session, conversation_id: str, inbox_id: int, now: datetime) -> None:
    """Telegram's /stop: the dialogue still answers that message, then nothing more is sent.

    Unlike `opt_out`, later messages are still relayed; any of them ends the stop.
    """
    session.execute(
        update(ConversationRow)
        .where(ConversationRow.conversation_id == conversation_id)
        .values(opted_out_at=now, opt_out_inbox_id=inbox_id)
        .execution_options(synchronize_session=False)
    )


def opt_in(session: Session, conversation_id: str) -> bool:
    """The young person opted back in (START, or writing again on Telegram); True if stopped."""
    result = session.execute(
        update(ConversationRow)
        .where(
            ConversationRow.conversation_id == conversation_id,
            (ConversationRow.opted_out.is_(True)) | (ConversationRow.opt_out_inbox_id.is_not(None)),
        )
        .values(opted_out=False, opted_out_at=None, opt_out_inbox_id=None)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def set_reply_from(session: Session, conversation_id: str, number: str | None) -> None:
    """Remember which of our numbers the young person wrote to (replies come from it)."""
    if number:
        session.execute(
            update(ConversationRow)
            .where(
                ConversationRow.conversation_id == conversation_id,
                (ConversationRow.reply_from.is_(None)) | (ConversationRow.reply_from != number),
            )
            .values(reply_from=number)
            .execution_options(synchronize_session=False)
        )


def is_opted_out(session: Session, cipher: Cipher, channel: str, address: str) -> bool:
    """Whether this address asked us to stop messaging it on this channel.

    For senders outside the gateway (the safeguarding pager) that must honour STOP too.
    """
    row = session.scalar(
        select(ConversationRow).where(
            ConversationRow.channel == channel,
            ConversationRow.address_hash == cipher.lookup_hash(channel, address),
        )
    )
    return row is not None and Conversation.from_row(row).stopped
