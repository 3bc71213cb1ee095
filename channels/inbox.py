"""The inbox: every message is stored (encrypted) before anything else, then claimed in order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Exists,
    Select,
    Table,
    bindparam,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from channels.claims import claim, claim_statement
from channels.conversations import ensure_conversation
from channels.database import Executor
from channels.driver import on_driver
from channels.messages import InboundMessage
from channels.tables import DONE, FAILED, PENDING, PROCESSING, ConversationRow, InboxRow
from youthlink.crypto import Cipher


@dataclass(frozen=True)
class InboxItem:
    """A stored message, decrypted, as the pipeline works with it."""

    id: int
    conversation_id: str
    channel: str
    text: str
    status: str
    attempts: int
    received_at: datetime
    screened: bool
    severity: int | None
    categories: tuple[str, ...]
    rule_ids: tuple[str, ...]
    escalated: bool
    escalation_id: str | None
    ruleset_version: str | None = None

    @classmethod
    def from_row(cls, row: InboxRow, cipher: Cipher) -> InboxItem:
        """Decrypt a row into an item."""
        return cls(
            id=row.id,
            conversation_id=row.conversation_id,
            channel=row.channel,
            text=cipher.decrypt(row.text_encrypted) or "",
            status=row.status,
            attempts=row.attempts,
            received_at=row.received_at,
            screened=row.screened,
            severity=row.severity,
            categories=tuple(json.loads(row.categories or "[]")),
            rule_ids=tuple(json.loads(row.rule_ids or "[]")),
            escalated=row.escalated,
            escalation_id=row.escalation_id,
            ruleset_version=row.ruleset_version,
        )


@dataclass(frozen=True)
class Screened:
    """What the screen found, as the inbox records it (ids and numbers only)."""

    severity: int | None
    categories: tuple[str, ...]
    rule_ids: tuple[str, ...]
    ruleset_version: str | None


@dataclass(frozen=True)
class Stored:
    """Where an inbound message went: its inbox row and whether it was new.

    `row` and `conversation` are the ORM rows of a message stored in this transaction; holding
    them keeps later lookups in the same transaction from reading them back.
    """

    inbox_id: int
    conversation_id: str
    created: bool
    row: InboxRow | None = field(default=None, compare=False, repr=False)
    conversation: ConversationRow | None = field(default=None, compare=False, repr=False)


def find_stored(session: Executor, message: InboundMessage) -> Stored | None:
    """The message as already stored, when this provider id was received before."""
    existing = session.execute(
        _FIND_STORED, {"channel": message.channel, "provider_id": message.provider_message_id}
    ).first()
    if existing is None:
        return None
    return Stored(inbox_id=existing.id, conversation_id=existing.conversation_id, created=False)


def store_inbound(
    session: Session, cipher: Cipher, message: InboundMessage, now: datetime
) -> Stored:
    """Store a message in the inbox, or find it if this provider id was already received."""
    existing = find_stored(session, message)
    if existing is not None:
        return existing
    conversation = ensure_conversation(session, cipher, message.channel, message.address, now)
    conversation_id = conversation.conversation_id
    row = InboxRow(
        conversation_id=conversation_id,
        channel=message.channel,
        provider_message_id=message.provider_message_id,
        text_encrypted=cipher.encrypt(message.text),
        media_kind=message.media_kind,
        received_at=now,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        screened=False,
        escalated=False,
    )
    session.add(row)
    session.flush()
    return Stored(row.id, conversation_id, True, row=row, conversation=conversation)


def store_claimed(
    session: Executor,
    cipher: Cipher,
    message: InboundMessage,
    conversation_id: str,
    verdict: Screened,
    now: datetime,
    lease_until: datetime,
) -> InboxItem:
    """Store a message already screened (not escalated) and claimed for relay, in one statement."""
    values = {
        "conversation_id": conversation_id,
        "channel": message.channel,
        "provider_message_id": message.provider_message_id,
        "text_encrypted": cipher.encrypt(message.text),
        "media_kind": message.media_kind,
        "received_at": now,
        "status": PROCESSING,
        "attempts": 0,
        "next_attempt_at": lease_until,
        "screened": True,
        "severity": verdict.severity,
        "categories": json.dumps(list(verdict.categories)),
        "rule_ids": json.dumps(list(verdict.rule_ids)),
        "ruleset_version": verdict.ruleset_version,
        "escalated": False,
    }
    inbox_id = int(session.execute(_INSERT, values).scalar_one())
    return InboxItem(
        id=inbox_id,
        conversation_id=conversation_id,
        channel=message.channel,
        text=message.text,
        status=PROCESSING,
        attempts=0,
        received_at=now,
        screened=True,
        severity=verdict.severity,
        categories=tuple(verdict.categories),
        rule_ids=tuple(verdict.rule_ids),
        escalated=False,
        escalation_id=None,
        ruleset_version=verdict.ruleset_version,
    )


def get_item(session: Session, cipher: Cipher, inbox_id: int) -> InboxItem | None:
    """One inbox item, decrypted, or None."""
    row = session.get(InboxRow, inbox_id)
    return None if row is None else InboxItem.from_row(row, cipher)


def recent_texts(
    db: Executor,
    cipher: Cipher,
    conversation_id: str,
    before_id: int | None,
    limit: int = 6,
) -> list[str]:
    """The young person's previous messages in this conversation, oldest first (all stored so
    far when `before_id` is None)."""
    params: dict[str, object] = {"conversation_id": conversation_id, "limit": limit}
    if before_id is not None:
        params["before_id"] = before_id
    statement = _RECENT if before_id is None else _RECENT_BEFORE
    rows = db.execute(statement, params).scalars().all()
    return [cipher.decrypt(token) or "" for token in reversed(rows)]


def claim_unscreened(session: Session) -> InboxRow | None:
    """Lock the oldest message not yet screened (any conversation: screening never waits)."""
    return session.scalars(
        select(InboxRow)
        .where(InboxRow.screened.is_(False))
        .order_by(InboxRow.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()


def save_verdict(
    row: InboxRow,
    *,
    severity: int | None,
    categories: Sequence[str],
    rule_ids: Sequence[str],
    ruleset_version: str | None,
    escalated: bool,
) -> None:
    """Record the screen's verdict (severity and ids only; nothing personal) on the row."""
    row.screened = True
    row.severity = severity
    row.categories = json.dumps(list(categories))
    row.rule_ids = json.dumps(list(rule_ids))
    row.ruleset_version = ruleset_version
    row.escalated = escalated


def unrecorded_escalations(session: Session, limit: int = 10) -> list[int]:
    """Ids of escalated messages whose escalation is not recorded yet."""
    return list(
        session.scalars(
            select(InboxRow.id)
            .where(InboxRow.escalated.is_(True), InboxRow.escalation_id.is_(None))
            .order_by(InboxRow.id)
            .limit(limit)
        ).all()
    )


_CLAIM = claim_statement(InboxRow.__table__, lambda row: row.c.screened.is_(True))


def claim_next(session: Session, now: datetime, lease: timedelta) -> int | None:
    """Claim the next screened message to relay, keeping each conversation in order.

    One statement: a message is claimable when it is pending and due (or its claim's lease has
    expired) and no earlier message of its conversation is still pending or processing. On
    PostgreSQL `FOR UPDATE SKIP LOCKED` lets replicas claim different rows at once.
    """
    return claim(session, _CLAIM, now, lease)


def release_claims(session: Session, now: datetime) -> int:
    """Return every `processing` row to `pending` (a restarted single-process gateway)."""
    result = session.execute(
        update(InboxRow)
        .where(InboxRow.status == PROCESSING)
        .values(status=PENDING, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


_INBOX = cast(Table, InboxRow.__table__)
_INSERT = on_driver(insert(_INBOX).returning(_INBOX.c.id))
_FIND_STORED = select(_INBOX.c.id, _INBOX.c.conversation_id).where(
    _INBOX.c.channel == bindparam("channel"),
    _INBOX.c.provider_message_id == bindparam("provider_id"),
)
_MARK_DONE = on_driver(
    update(_INBOX)
    .where(_INBOX.c.id == bindparam("inbox_id"))
    .values(status=DONE, processed_at=bindparam("now", type_=DateTime(timezone=True)))
)


def mark_done(session: Executor, inbox_id: int, now: datetime) -> None:
    """The message has been answered (or needs no answer)."""
    session.execute(_MARK_DONE, {"inbox_id": inbox_id, "now": now})


def defer(session: Session, inbox_id: int, attempts: int, next_attempt_at: datetime) -> None:
    """Put the message back to be retried later."""
    session.execute(
        update(InboxRow)
        .where(InboxRow.id == inbox_id)
        .values(status=PENDING, attempts=attempts, next_attempt_at=next_attempt_at)
        .execution_options(synchronize_session=False)
    )


def mark_failed(session: Session, inbox_id: int, attempts: int, now: datetime) -> None:
    """Give up on relaying the message (it stays in the inbox for people to see)."""
    session.execute(
        update(InboxRow)
        .where(InboxRow.id == inbox_id)
        .values(status=FAILED, attempts=attempts, processed_at=now)
        .execution_options(synchronize_session=False)
    )


def waiting(position: ColumnElement[bool] | None = None) -> Exists:
    """EXISTS: a message of conversation `:conversation_id` (at `position`, if given) is still
    waiting or being relayed."""
    # Two comparisons rather than IN: an IN list is re-rendered into the SQL on every execution.
    conditions = [
        _INBOX.c.conversation_id == bindparam("conversation_id"),
        or_(_INBOX.c.status == PENDING, _INBOX.c.status == PROCESSING),
    ]
    if position is not None:
        conditions.insert(1, position)
    return exists().where(*conditions)


def _recent(before: bool) -> Select[Any]:
    # Built once, like every statement of the short path: SQLAlchemy then computes its cache
    # key once rather than on every message.
    query = select(_INBOX.c.text_encrypted).where(
        _INBOX.c.conversation_id == bindparam("conversation_id")
    )
    if before:
        query = query.where(_INBOX.c.id < bindparam("before_id"))
    return query.order_by(_INBOX.c.id.desc()).limit(bindparam("limit"))


_RECENT = on_driver(_recent(before=False))
_RECENT_BEFORE = on_driver(_recent(before=True))
_UNFINISHED_BEFORE = select(waiting(_INBOX.c.id < bindparam("inbox_id")))


def has_unfinished_before(session: Session, conversation_id: str, inbox_id: int) -> bool:
    """True when an earlier message of the conversation is still waiting or being relayed."""
    params = {"conversation_id": conversation_id, "inbox_id": inbox_id}
    return bool(session.execute(_UNFINISHED_BEFORE, params).scalar())


def has_deferred_before(session: Session, conversation_id: str, inbox_id: int) -> bool:
    """True when an earlier message of the conversation is waiting to be retried."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    InboxRow.conversation_id == conversation_id,
                    InboxRow.id < inbox_id,
                    InboxRow.status.in_((PENDING, PROCESSING)),
                    InboxRow.attempts > 0,
                )
            )
        )
    )
