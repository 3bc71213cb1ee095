"""Conversations: one opaque id per (channel, address); the address is kept only encrypted."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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
        )


def ensure_conversation(
    session: Session, cipher: Cipher, channel: str, address: str, now: datetime
) -> str:
    """The conversation id for this address, creating the conversation on first contact."""
    conversation_id = conversation_id_for(cipher, channel, address)
    row = session.get(ConversationRow, conversation_id)
    if row is not None:
        row.last_seen_at = now
        return conversation_id
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
        return conversation_id
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Another replica created it at the same moment: same id, nothing to add.
        pass
    return conversation_id


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


def set_offered(session: Session, conversation_id: str, buttons: tuple[Button, ...]) -> None:
    """Remember the buttons of the bot's latest reply (replacing the previous ones)."""
    row = session.get(ConversationRow, conversation_id)
    if row is not None:
        row.offered_buttons = json.dumps(buttons_to_json(buttons))
