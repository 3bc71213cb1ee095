"""The gateway's tables: conversations, inbox and outbox (personal fields encrypted)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from youthlink.db import Base

# Status values, kept as plain strings so the migration needs no database enum types.
PENDING = "pending"
PROCESSING = "processing"
DONE = "done"
FAILED = "failed"
SENT = "sent"

REPLY = "reply"
CRISIS = "crisis"
HOLDING = "holding"
PAGE = "page"

# Outbox `notice` values: replies the gateway gives itself, without the dialogue.
NOTICE_OPT_OUT = "opt_out"
NOTICE_OPT_IN = "opt_in"
NOTICE_HELP = "help"
NOTICE_MEDIA = "media"
NOTICE_EMPTY = "empty"
NOTICES = (NOTICE_OPT_OUT, NOTICE_OPT_IN, NOTICE_HELP, NOTICE_MEDIA, NOTICE_EMPTY)

OPTED_OUT = "opted_out"
"""The outbox `error` of a message refused because the conversation opted out."""


class ConversationRow(Base):
    """One young person on one channel; the address itself is only stored encrypted."""

    __tablename__ = "conversations"

    conversation_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    address_hash: Mapped[str] = mapped_column(String(64), index=True)
    address_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    opted_out: Mapped[bool] = mapped_column(default=False)
    paused: Mapped[bool] = mapped_column(default=False)
    age_band: Mapped[str | None] = mapped_column(String(20), default=None)
    # JSON list of the buttons (title, payload) the bot offered in its latest reply: domain
    # payloads, not personal. Only these payloads may reach Rasa as `/intent` text.
    offered_buttons: Mapped[str] = mapped_column(Text, default="[]")
    # When the young person asked to stop (STOP, /stop) or the provider said they had; cleared
    # when they opt back in.
    opted_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # The message that asked to stop: the reply confirming it may still be sent. Set without
    # `opted_out` for Telegram's /stop, which the dialogue answers (see channels.intake).
    opt_out_inbox_id: Mapped[int | None] = mapped_column(Integer, default=None)
    # Our own number the young person last wrote to (Twilio), so replies go back the same way.
    reply_from: Mapped[str | None] = mapped_column(String(64), default=None)


class InboxRow(Base):
    """A message received from a young person, stored before anything else happens to it."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "provider_message_id", name="uq_inbox_channel_provider_id"),
        CheckConstraint("status IN ('pending', 'processing', 'done', 'failed')", name="status"),
        Index("ix_inbox_claim", "status", "next_attempt_at"),
        Index("ix_inbox_conversation", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("conversations.conversation_id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    text_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    media_kind: Mapped[str | None] = mapped_column(String(20), default=None)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # For pending rows: not before this time. For processing rows: the claim's lease expiry.
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    screened: Mapped[bool] = mapped_column(default=False)
    severity: Mapped[int | None] = mapped_column(Integer, default=None)
    rule_ids: Mapped[str | None] = mapped_column(Text, default=None)
    categories: Mapped[str | None] = mapped_column(Text, default=None)
    ruleset_version: Mapped[str | None] = mapped_column(String(40), default=None)
    escalated: Mapped[bool] = mapped_column(default=False)
    escalation_id: Mapped[str | None] = mapped_column(String(64), default=None)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class OutboxRow(Base):
    """A message to a young person, rendered for its channel and encrypted, waiting to be sent."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'processing', 'sent', 'failed')", name="status"),
        CheckConstraint("kind IN ('reply', 'crisis', 'holding', 'page', 'worker')", name="kind"),
        Index("ix_outbox_claim", "status", "next_attempt_at"),
        Index("ix_outbox_conversation", "conversation_id", "id"),
        Index("ix_outbox_in_reply_to", "in_reply_to"),
        Index("ix_outbox_provider_message_id", "provider_message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("conversations.conversation_id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(20))
    body_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    provider_message_id: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    in_reply_to: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("inbox.id", ondelete="SET NULL"), default=None
    )
    # The gateway's own fixed replies (NOTICES): opt-out confirmation, help, media, ...
    notice: Mapped[str | None] = mapped_column(String(20), default=None)
    # Why the last attempt failed or was refused: "opted_out", "twilio:21610",
    # "telegram:Forbidden". Codes only, never a provider's message.
    error: Mapped[str | None] = mapped_column(String(64), default=None)
    # What the provider reported later (Twilio status callbacks): delivered, undelivered, ...
    delivery_status: Mapped[str | None] = mapped_column(String(20), default=None)
    delivery_updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )
