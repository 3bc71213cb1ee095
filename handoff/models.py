"""Tables of the handoff store: referrals and escalations (personal fields only encrypted)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from youthlink.db import Base

REFERRAL_STATUSES = ("new", "claimed", "contacted", "closed", "withdrawn")
OPEN_REFERRAL_STATUSES = ("new", "claimed", "contacted")
PRIORITIES = ("routine", "priority", "urgent")
ESCALATION_STATUSES = ("open", "acknowledged", "closed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


class ReferralRow(Base):
    """One referral. Clear columns are the non-personal ones the queue orders and filters by;
    the whole schema record (with every personal field) is only stored encrypted."""

    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint(_in("status", REFERRAL_STATUSES), name="status"),
        CheckConstraint(_in("priority", PRIORITIES), name="priority"),
        CheckConstraint("highest_severity BETWEEN 0 AND 5", name="highest_severity"),
        Index("ix_referrals_queue", "status", "priority", "created_at"),
    )

    referral_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16))
    # False while the referral was only created early (an escalation, or asking for a person).
    submitted: Mapped[bool] = mapped_column(Boolean)
    flags: Mapped[list[str]] = mapped_column(JSON)
    # Referral ids of later submissions merged into this row, so retries stay idempotent.
    merged_ids: Mapped[list[str]] = mapped_column(JSON)
    age_band: Mapped[str] = mapped_column(String(16))
    highest_severity: Mapped[int] = mapped_column(Integer)
    flagged: Mapped[bool] = mapped_column(Boolean)
    interest_categories: Mapped[list[str]] = mapped_column(JSON)
    concern_categories: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    record_encrypted: Mapped[bytes] = mapped_column(LargeBinary)


class EscalationRow(Base):
    """One safeguarding escalation: what the rules found, and what staff did about it."""

    __tablename__ = "escalations"
    __table_args__ = (
        CheckConstraint(_in("status", ESCALATION_STATUSES), name="status"),
        CheckConstraint("severity BETWEEN 0 AND 5", name="severity"),
        Index("ix_escalations_log", "status", "created_at"),
    )

    escalation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    # Kept when a young person deletes their draft: the escalation record outlives it.
    referral_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("referrals.referral_id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    severity: Mapped[int] = mapped_column(Integer)
    categories: Mapped[list[str]] = mapped_column(JSON)
    rule_ids: Mapped[list[str]] = mapped_column(JSON)
    ruleset_version: Mapped[str] = mapped_column(String(64))
    excerpt_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16))
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(120))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(64))
    action_taken_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
