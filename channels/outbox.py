"""The outbox: replies rendered for their channel, encrypted, sent in order and retried."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import DateTime, Table, bindparam, case, exists, func, insert, select, update
from sqlalchemy.orm import Session

from channels.claims import claim, claim_statement
from channels.conversations import Conversation
from channels.database import Executor
from channels.driver import on_driver
from channels.messages import Outbound
from channels.tables import (
    CRISIS,
    FAILED,
    HOLDING,
    NOTICE_HELP,
    OPTED_OUT,
    PENDING,
    PROCESSING,
    REPLY,
    SENT,
    OutboxRow,
)
from youthlink.crypto import Cipher

# Crisis replies still go to these channels after STOP (see `refusal`); never to SMS.
CRISIS_AFTER_STOP_CHANNELS = frozenset({"whatsapp", "telegram", "local"})

# Twilio's statuses in the order a message moves through them; a late callback never moves a
# message back (callbacks can arrive out of order).
DELIVERY_RANK = {
    "accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3,
    "delivered": 4, "undelivered": 4, "failed": 4, "read": 5, "canceled": 4,
}  # fmt: skip


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
    notice: str | None = None
    created_at: datetime | None = None

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
            notice=row.notice,
            created_at=row.created_at,
        )


def enqueue(
    session: Executor,
    cipher: Cipher,
    *,
    conversation_id: str,
    channel: str,
    outbound: Outbound,
    kind: str,
    in_reply_to: int | None,
    now: datetime,
    notice: str | None = None,
    status: str = PENDING,
    error: str | None = None,
) -> int:
    """Queue one rendered message; returns its outbox id.

    `notice` marks the gateway's own fixed replies (`channels.tables.NOTICES`). A message that
    is read back rather than sent is queued already settled: `status` SENT (or FAILED with the
    `error` that refused it).
    """
    values = {
        "conversation_id": conversation_id,
        "channel": channel,
        "body_encrypted": cipher.encrypt(json.dumps(dict(outbound.body), ensure_ascii=False)),
        "kind": kind,
        "status": status,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "sent_at": now if status == SENT else None,
        "in_reply_to": in_reply_to,
        "notice": notice,
        "error": error,
    }
    return int(session.execute(_INSERT, values).scalar_one())


_OUTBOX = cast(Table, OutboxRow.__table__)
_INSERT = on_driver(insert(_OUTBOX).returning(_OUTBOX.c.id))
REPLY_QUEUED = exists().where(
    _OUTBOX.c.in_reply_to == bindparam("inbox_id"), _OUTBOX.c.kind == REPLY
)
"""EXISTS: the dialogue's answer to message `:inbox_id` is queued."""
_HAS_REPLY = select(REPLY_QUEUED)


def has_reply(session: Executor, inbox_id: int) -> bool:
    """True when the dialogue's answer to this message is already queued."""
    return bool(session.execute(_HAS_REPLY, {"inbox_id": inbox_id}).scalar())


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


_CLAIM = claim_statement(OutboxRow.__table__)


def claim_next(session: Session, now: datetime, lease: timedelta) -> int | None:
    """Claim the next message to send, keeping each conversation's messages in order."""
    return claim(session, _CLAIM, now, lease)


def get_item(session: Session, cipher: Cipher, outbox_id: int) -> OutboxItem | None:
    """One outbox item, decrypted, or None."""
    row = session.get(OutboxRow, outbox_id)
    return None if row is None else OutboxItem.from_row(row, cipher)


_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("outbox_id"))
    .values(
        status=SENT,
        provider_message_id=bindparam("provider_id"),
        sent_at=bindparam("now", type_=DateTime(timezone=True)),
    )
)


def mark_sent(session: Session, outbox_id: int, provider_message_id: str, now: datetime) -> None:
    """The provider accepted the message."""
    session.execute(
        _MARK_SENT, {"outbox_id": outbox_id, "provider_id": provider_message_id, "now": now}
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


def refusal(item: OutboxItem, conversation: Conversation | None) -> str | None:
    """Why this message must not be sent now (`OPTED_OUT`), or None when it may go.

    After the young person said STOP nothing more goes to them (replies, holding replies,
    link workers' messages, pages), with three exceptions:
    - the reply to the STOP message itself (the confirmation carriers expect);
    - the answer to HELP, which carriers expect to work even after STOP;
    - crisis replies on WhatsApp and Telegram, where no carrier rule forbids them and the
      young person has just written something that needs one. Never on SMS: carriers forbid
      it and Twilio refuses it (error 21610) anyway. The escalation is recorded and the
      safeguarding lead paged either way.
    """
    if conversation is None or not conversation.stopped:
        return None
    stop_id = conversation.opt_out_inbox_id
    if item.kind == REPLY and item.in_reply_to is not None and item.in_reply_to == stop_id:
        return None
    if item.notice == NOTICE_HELP:
        return None
    if item.kind == CRISIS and item.channel in CRISIS_AFTER_STOP_CHANNELS:
        return None
    return OPTED_OUT


def mark_undeliverable(
    session: Session, outbox_id: int, attempts: int, error: str, now: datetime
) -> None:
    """Give up on this message for a reason (`OPTED_OUT`, a provider's refusal code)."""
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == outbox_id)
        .values(status=FAILED, attempts=attempts, error=error[:64], next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )


def mark_attempt_failed(
    session: Session, outbox_id: int, attempts: int, next_attempt_at: datetime, error: str
) -> None:
    """Sending failed for now (recorded by code); try again at `next_attempt_at`."""
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == outbox_id)
        .values(
            status=PENDING, attempts=attempts, next_attempt_at=next_attempt_at, error=error[:64]
        )
        .execution_options(synchronize_session=False)
    )


def record_delivery_status(
    session: Session,
    channels: tuple[str, ...],
    provider_message_id: str,
    status: str,
    error: str | None,
    now: datetime,
) -> str | None:
    """Record what the provider later said about a sent message; its conversation id or None.

    A status earlier in a message's life than the one recorded is ignored.
    """
    row = session.scalars(
        select(OutboxRow).where(
            OutboxRow.provider_message_id == provider_message_id, OutboxRow.channel.in_(channels)
        )
    ).first()
    if row is None:
        return None
    status = status.strip().lower()[:20]
    known = DELIVERY_RANK.get(row.delivery_status or "", -1)
    if DELIVERY_RANK.get(status, 0) >= known:
        row.delivery_status = status
        row.delivery_updated_at = now
        if error:
            row.error = error[:64]
    return row.conversation_id
