"""Tables of the handoff store: referrals, escalations, and the staff side (users, sessions,
notes, contact attempts, the on-call rota, the audit log); personal fields only encrypted."""

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
ROLES = ("link_worker", "safeguarding_lead", "admin")


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
        Index("ix_referrals_owner", "owner_id", "status"),
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
    # The queue (handoff/queue.py). The worker who holds (or last held) the case; no foreign
    # key so the column could be added to existing databases without rebuilding the table.
    owner_id: Mapped[int | None] = mapped_column(Integer, default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # Last time the holder did something with the case; an untouched claim expires.
    touched_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    first_contact_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)


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


class UserRow(Base):
    """A member of staff who signs in to the dashboard."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set for one-time passwords (new account, reset): the next sign-in must choose a new one.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # Open cases this worker may hold; None means the deployment's default.
    caseload_cap: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class StaffSessionRow(Base):
    """A signed-in dashboard session; the cookie holds a random token, this row only its hash."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NoteRow(Base):
    """A link worker's note on a referral (the text encrypted)."""

    __tablename__ = "referral_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Deleting a referral (the young person's DELETE of an untouched draft) takes its notes.
    referral_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("referrals.referral_id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    text_encrypted: Mapped[bytes] = mapped_column(LargeBinary)


class ContactAttemptRow(Base):
    """One attempt to reach the young person: how, what happened, and an optional note."""

    __tablename__ = "contact_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    referral_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("referrals.referral_id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    method: Mapped[str] = mapped_column(String(16))
    result: Mapped[str] = mapped_column(String(32))
    note_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)


class RotaEntryRow(Base):
    """One place in the order in which on-call safeguarding leads are paged."""

    __tablename__ = "rota_entries"
    __table_args__ = (Index("ix_rota_entries_order", "active", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    phone_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    telegram_chat_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuditRow(Base):
    """One audit event; append-only, each row carrying the hash of the row before it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    # "user:<id>", "service" or "system": never a name.
    actor: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(64), index=True)
    record_type: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str | None] = mapped_column(String(64), index=True)
    source: Mapped[str | None] = mapped_column(String(64))
    # Non-personal details only: statuses, outcomes, counts, ids.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))
