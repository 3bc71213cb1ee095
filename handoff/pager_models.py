"""Tables of the safeguarding pager: the page outbox and each escalation's paging state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from handoff.models import UtcDateTime
from youthlink.db import Base

PAGE_STATUSES = ("pending", "sent", "failed", "cancelled")
PAGE_CHANNELS = ("sms", "telegram")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PageRow(Base):
    """One page to one on-call contact on one channel: an outbox row, then the record of it.

    The body names the escalation's severity and its dashboard link only; the contact's phone
    number or chat id is encrypted.
    """

    __tablename__ = "pages"
    __table_args__ = (
        CheckConstraint(_in("status", PAGE_STATUSES), name="status"),
        CheckConstraint(_in("channel", PAGE_CHANNELS), name="channel"),
        UniqueConstraint("escalation_id", "round", "contact_ref", "channel", name="uq_pages_once"),
        Index("ix_pages_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    escalation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("escalations.escalation_id", ondelete="CASCADE"), index=True
    )
    # 0 for the first page of an escalation, then one more for every re-page.
    round: Mapped[int] = mapped_column(Integer)
    # Who on the rota (e.g. "user:12"): an id, never a name or a number.
    contact_ref: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    address_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    # When a pending page is due; a claimed one is leased until then (retried if its sender died).
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    provider_id: Mapped[str | None] = mapped_column(String(64))
    # Why the last attempt failed, e.g. "twilio:21610" or "telegram:Forbidden": never a message.
    last_error: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When it was given up (failed) or no longer needed (cancelled).
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PagingRow(Base):
    """How far paging for one escalation has gone: rounds so far and when the next one is due."""

    __tablename__ = "escalation_paging"
    __table_args__ = (Index("ix_escalation_paging_due", "next_round_at"),)

    escalation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("escalations.escalation_id", ondelete="CASCADE"), primary_key=True
    )
    severity: Mapped[int] = mapped_column(Integer)
    # Rounds started: 1 after the first page; round r pages the first r+1 places on the rota.
    rounds: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_round_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # None once paging stopped (acknowledged or closed).
    next_round_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    stopped_because: Mapped[str | None] = mapped_column(String(16))
