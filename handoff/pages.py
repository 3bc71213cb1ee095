"""The page outbox: pages waiting to go, claimed for one attempt at a time, and the record of them.

A page is claimed by pushing its `next_attempt_at` one lease ahead: if the process dies while
sending, the page comes due again when the lease runs out (a page may then go twice; it is
never lost). PostgreSQL claims with `FOR UPDATE SKIP LOCKED`, so several workers share the
outbox; SQLite takes its write lock before reading.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select, text, update
from sqlalchemy.orm import Session

from handoff.models import EscalationRow
from handoff.pager_models import PageRow
from youthlink.crypto import Cipher
from youthlink.errors import DecryptionError

log = logging.getLogger(__name__)

LIVE_STATUSES = ("pending", "sent")


@dataclass(frozen=True)
class Page:
    """One page as the record shows it (without the address)."""

    page_id: int
    escalation_id: str
    round: int
    contact_ref: str
    channel: str
    body: str
    status: str
    attempts: int
    next_attempt_at: datetime
    provider_id: str | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: PageRow) -> Page:
        """From a stored row."""
        return cls(
            page_id=row.id,
            escalation_id=row.escalation_id,
            round=row.round,
            contact_ref=row.contact_ref,
            channel=row.channel,
            body=row.body,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            provider_id=row.provider_id,
            last_error=row.last_error,
            created_at=row.created_at,
            sent_at=row.sent_at,
            finished_at=row.finished_at,
        )


@dataclass(frozen=True)
class DuePage:
    """A page claimed for one delivery attempt, with its decrypted address."""

    page_id: int
    escalation_id: str
    round: int
    channel: str
    body: str
    attempt: int
    address: str = field(repr=False)


def write_lock(session: Session, table: str, column: str) -> None:
    """On SQLite, take the database write lock now, before the reads a change depends on."""
    if session.get_bind().dialect.name == "sqlite":
        # A write that changes nothing: SQLite otherwise locks only at the first real write.
        session.execute(text(f"UPDATE {table} SET {column} = {column} WHERE 0 = 1"))


def enqueue(
    session: Session,
    cipher: Cipher,
    *,
    escalation_id: str,
    round_: int,
    contact_ref: str,
    channel: str,
    address: str,
    body: str,
    now: datetime,
) -> PageRow:
    """Add a page, due now."""
    address_encrypted = cipher.encrypt(address)
    assert address_encrypted is not None
    row = PageRow(
        escalation_id=escalation_id,
        round=round_,
        contact_ref=contact_ref,
        channel=channel,
        address_encrypted=address_encrypted,
        body=body,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _due(now: datetime) -> Select[PageRow]:
    return (
        select(PageRow)
        .join(EscalationRow, EscalationRow.escalation_id == PageRow.escalation_id)
        .where(
            PageRow.status == "pending",
            PageRow.next_attempt_at <= now,
            EscalationRow.status == "open",
        )
        .order_by(PageRow.next_attempt_at, PageRow.id)
    )


def any_due(session: Session, now: datetime) -> bool:
    """Whether a page is due (reads only, no lock)."""
    return session.execute(_due(now).limit(1)).first() is not None


def claim_due(
    session: Session, cipher: Cipher, *, now: datetime, lease: timedelta, limit: int = 20
) -> list[DuePage]:
    """Claim the pages due by `now` whose escalation is still open, oldest first."""
    write_lock(session, "pages", "status")
    query = _due(now).limit(limit).with_for_update(skip_locked=True, of=PageRow)
    claimed = []
    for row in session.scalars(query).all():
        try:
            address = cipher.decrypt(row.address_encrypted)
        except DecryptionError:
            log.error("page %s: address cannot be decrypted (key missing?)", row.id)
            _finish(row, "failed", "decryption", now)
            continue
        assert address is not None
        row.attempts += 1
        row.next_attempt_at = now + lease
        claimed.append(
            DuePage(
                page_id=row.id,
                escalation_id=row.escalation_id,
                round=row.round,
                channel=row.channel,
                body=row.body,
                attempt=row.attempts,
                address=address,
            )
        )
    session.flush()
    return claimed


def _finish(row: PageRow, status: str, reason: str | None, now: datetime) -> None:
    row.status = status
    row.last_error = reason
    row.finished_at = now


def mark_sent(session: Session, page_id: int, *, provider_id: str, now: datetime) -> PageRow:
    """The provider accepted the page."""
    row = session.get_one(PageRow, page_id)
    row.status = "sent"
    row.provider_id = provider_id[:64]
    row.sent_at = now
    row.last_error = None
    session.flush()
    return row


def retry_later(session: Session, page_id: int, *, reason: str, at: datetime) -> PageRow:
    """The attempt failed; try again at `at` (unless the page was cancelled meanwhile)."""
    row = session.get_one(PageRow, page_id)
    row.last_error = reason
    if row.status == "pending":
        row.next_attempt_at = at
    session.flush()
    return row


def mark_failed(session: Session, page_id: int, *, reason: str, now: datetime) -> PageRow:
    """Give the page up."""
    row = session.get_one(PageRow, page_id)
    if row.status == "pending":
        _finish(row, "failed", reason, now)
    else:
        row.last_error = reason
    session.flush()
    return row


def cancel_pending(session: Session, escalation_id: str, *, now: datetime) -> int:
    """Cancel the pages of an escalation not sent yet; how many."""
    result = session.execute(
        update(PageRow)
        .where(PageRow.escalation_id == escalation_id, PageRow.status == "pending")
        .values(status="cancelled", finished_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def live_in_round(session: Session, escalation_id: str, round_: int) -> int:
    """Pages of one round that went or may still go."""
    query = select(func.count()).where(
        PageRow.escalation_id == escalation_id,
        PageRow.round == round_,
        PageRow.status.in_(LIVE_STATUSES),
    )
    return int(session.scalar(query) or 0)


def pages_for_escalation(session: Session, escalation_id: str) -> list[Page]:
    """Every page of an escalation, in the order they were made."""
    query = select(PageRow).where(PageRow.escalation_id == escalation_id).order_by(PageRow.id)
    return [Page.from_row(row) for row in session.scalars(query)]
