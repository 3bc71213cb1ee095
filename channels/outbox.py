"""The outbox: replies rendered for their channel, encrypted, sent in order and retried."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from channels.messages import Outbound
from channels.tables import CRISIS, FAILED, HOLDING, PENDING, PROCESSING, REPLY, SENT, OutboxRow
from youthlink.crypto import Cipher


@dataclass(frozen=True)
class OutboxItem:
    """A queued message, decrypted."""

    id: int
    conversation_id: str
    channel: str
    kind: str
    status: str
    attempts: int
    body: Mapping[str, Any]
    in_reply_to: int | None

    @classmethod
    def from_row(cls, row: OutboxRow, cipher: Cipher) -> OutboxItem:
        """Decrypt a row into an item."""
        return cls(
            id=row.id,
            conversation_id=row.conversation_id,
            channel=row.channel,
            kind=row.kind,
            status=row.status,
            attempts=row.attempts,
            body=json.loads(cipher.decrypt(row.body_encrypted) or "{}"),
            in_reply_to=row.in_reply_to,
        )


def enqueue(
    session: Session,
    cipher: Cipher,
    *,
    conversation_id: str,
    channel: str,
    outbound: Outbound,
    kind: str,
    in_reply_to: int | None,
    now: datetime,
) -> int:
    """Queue one rendered message; returns its outbox id."""
    row = OutboxRow(
        conversation_id=conversation_id,
        channel=channel,
        body_encrypted=cipher.encrypt(json.dumps(dict(outbound.body), ensure_ascii=False)),
        kind=kind,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        in_reply_to=in_reply_to,
    )
    session.add(row)
    session.flush()
    return row.id


def has_reply(session: Session, inbox_id: int) -> bool:
    """True when the dialogue's answer to this message is already queued."""
    return bool(
        session.scalar(
            select(exists().where(OutboxRow.in_reply_to == inbox_id, OutboxRow.kind == REPLY))
        )
    )


def holding_outstanding(session: Session, conversation_id: str) -> bool:
    """True when a holding reply went out and no real reply has followed it yet."""
    last_reply = (
        select(func.coalesce(func.max(OutboxRow.id), 0))
        .where(OutboxRow.conversation_id == conversation_id, OutboxRow.kind == REPLY)
        .scalar_subquery()
    )
    return bool(
        session.scalar(
            select(
                exists().where(
                    OutboxRow.conversation_id == conversation_id,
                    OutboxRow.kind == HOLDING,
                    OutboxRow.id > last_reply,
                )
            )
        )
    )


def replies_for(session: Session, cipher: Cipher, inbox_id: int) -> list[OutboxItem]:
    """Everything queued in answer to one message, crisis replies first."""
    rows = session.scalars(
        select(OutboxRow)
        .where(OutboxRow.in_reply_to == inbox_id)
        .order_by(case((OutboxRow.kind == CRISIS, 0), else_=1), OutboxRow.id)
    ).all()
    return [OutboxItem.from_row(row, cipher) for row in rows]


def messages_after(
    session: Session, cipher: Cipher, conversation_id: str, after_id: int, limit: int = 100
) -> list[OutboxItem]:
    """The conversation's queued messages with ids after `after_id`, oldest first."""
    rows = session.scalars(
        select(OutboxRow)
        .where(OutboxRow.conversation_id == conversation_id, OutboxRow.id > after_id)
        .order_by(OutboxRow.id)
        .limit(limit)
    ).all()
    return [OutboxItem.from_row(row, cipher) for row in rows]


def claim_next(session: Session, now: datetime, lease: timedelta) -> int | None:
    """Claim the next message to send, keeping each conversation's messages in order."""
    candidate = aliased(OutboxRow, name="candidate")
    earlier = aliased(OutboxRow, name="earlier")
    blocked = (
        exists()
        .where(
            earlier.conversation_id == candidate.conversation_id,
            earlier.id < candidate.id,
            earlier.status.in_((PENDING, PROCESSING)),
        )
        .correlate(candidate)
    )
    next_id = (
        select(candidate.id)
        .where(
            candidate.status.in_((PENDING, PROCESSING)),
            candidate.next_attempt_at <= now,
            ~blocked,
        )
        .order_by(candidate.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=candidate)
        .scalar_subquery()
    )
    return session.scalar(
        update(OutboxRow)
        .where(OutboxRow.id == next_id)
        .values(status=PROCESSING, next_attempt_at=now + lease)
        .returning(OutboxRow.id)
        .execution_options(synchronize_session=False)
    )


def get_item(session: Session, cipher: Cipher, outbox_id: int) -> OutboxItem | None:
    """One outbox item, decrypted, or None."""
    row = session.get(OutboxRow, outbox_id)
    return None if row is None else OutboxItem.from_row(row, cipher)


def mark_sent(session: Session, outbox_id: int, provider_message_id: str, now: datetime) -> None:
    """The provider accepted the message."""
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == outbox_id)
        .values(status=SENT, provider_message_id=provider_message_id, sent_at=now)
        .execution_options(synchronize_session=False)
    )


def mark_retry(session: Session, outbox_id: int, attempts: int, next_attempt_at: datetime) -> None:
    """Sending failed; try again later."""
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == outbox_id)
        .values(status=PENDING, attempts=attempts, next_attempt_at=next_attempt_at)
        .execution_options(synchronize_session=False)
    )


def mark_failed(session: Session, outbox_id: int, attempts: int) -> None:
    """Give up sending this message."""
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == outbox_id)
        .values(status=FAILED, attempts=attempts)
        .execution_options(synchronize_session=False)
    )


def release_claims(session: Session, now: datetime) -> int:
    """Return every `processing` row to `pending` (a restarted single-process gateway)."""
    result = session.execute(
        update(OutboxRow)
        .where(OutboxRow.status == PROCESSING)
        .values(status=PENDING, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
