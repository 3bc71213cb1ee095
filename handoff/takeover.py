"""A link worker talks with a young person: who may, what is audited, and what the page shows.

The gateway (`channels/`) holds the conversation and sends the messages (see
`handoff.gateway_client`); the dashboard reads the conversation from the gateway's tables in
the shared database, as `handoff.conversation` does for escalations.

Who may: a safeguarding lead, on any referral; a link worker, on a referral they hold
(claimed or contacted). A link worker whose case was closed or withdrawn while they had the
conversation may still open it and hand it back, so it is not left without the bot. Every
view, takeover, message and hand-back is audited against the referral, with ids and codes
only: never the words.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from handoff import audit
from handoff.errors import ReferralNotFound
from handoff.models import ReferralRow
from handoff.queue import HELD, Staff
from handoff.referrals import decrypt_record
from handoff.staff_errors import Forbidden
from handoff.users import LINK_WORKER
from youthlink.crypto import Cipher
from youthlink.errors import DecryptionError

log = logging.getLogger(__name__)

VIEWED = "conversation.viewed"
TAKEN_OVER = "conversation.taken_over"
MESSAGE_SENT = "conversation.message_sent"
HANDED_BACK = "conversation.handed_back"

YOUNG_PERSON = "young_person"
ASSISTANT = "assistant"
WORKER = "worker"
LINES_SHOWN = 100
_USER_REF = re.compile(r"^user:(\d{1,12})$")
_DELIVERY = {"pending": "sending", "processing": "sending", "sent": "sent", "failed": "not_sent"}


@dataclass(frozen=True)
class Case:
    """The referral a worker talks about, and the conversation it came from."""

    referral_id: str
    conversation_id: str
    channel: str
    status: str
    owner_id: int | None
    may_talk: bool = True


@dataclass(frozen=True)
class Line:
    """One message in the conversation, decrypted, either way."""

    row_id: int
    at: datetime
    speaker: str
    kind: str
    text: str = field(repr=False)
    status: str = "received"
    escalated: bool = False
    severity: int | None = None
    worker_id: int | None = None
    error: str | None = None

    @property
    def anchor(self) -> str:
        """The line's id on the page."""
        return f"{'in' if self.speaker == YOUNG_PERSON else 'out'}-{self.row_id}"


@dataclass(frozen=True)
class ConversationView:
    """What the conversation page shows."""

    conversation_id: str
    channel: str
    paused: bool
    opted_out: bool
    pending_event: str | None
    pending_error: str | None
    lines: tuple[Line, ...] = field(repr=False)
    earlier: bool = False

    @property
    def handing_back(self) -> bool:
        """Handed back, but Rasa has not resumed yet (their messages still come here)."""
        return self.pending_event == "resume"


def may_talk(staff: Staff, row: ReferralRow) -> bool:
    """Leads may talk with any young person; a link worker with those whose case they hold."""
    if staff.is_lead:
        return True
    return staff.role == LINK_WORKER and row.owner_id == staff.user_id and row.status in HELD


def may_hand_back(staff: Staff, row: ReferralRow) -> bool:
    """Whoever may talk, and the worker whose case it was (closed or withdrawn since)."""
    return may_talk(staff, row) or (staff.role == LINK_WORKER and row.owner_id == staff.user_id)


def open_case(session: Session, staff: Staff, referral_id: str, *, to_talk: bool = True) -> Case:
    """The case, if this member of staff may talk with the young person (or, with
    `to_talk=False`, read the conversation and hand it back); else Forbidden."""
    if not staff.works_cases:
        raise Forbidden()
    row = session.get(ReferralRow, referral_id)
    if row is None:
        raise ReferralNotFound()
    talk = may_talk(staff, row)
    if not (talk if to_talk else may_hand_back(staff, row)):
        raise Forbidden()
    return Case(row.referral_id, row.conversation_id, row.channel, row.status, row.owner_id, talk)


def safe_to_contact(session: Session, cipher: Cipher, referral_id: str) -> bool | None:
    """What the young person said about being contacted this way (None when not asked)."""
    row = session.get(ReferralRow, referral_id)
    if row is None:
        return None
    contact = decrypt_record(cipher, row).get("contact") or {}
    value = contact.get("safe_to_contact") if isinstance(contact, dict) else None
    return value if isinstance(value, bool) else None


def record(
    session: Session,
    staff: Staff,
    action: str,
    case: Case,
    now: datetime,
    detail: audit.Detail | None = None,
) -> None:
    """Audit one action on the conversation (last in the transaction).

    Talking with the young person is working the case: the holder's claim does not expire
    while they do.
    """
    if action != VIEWED and case.owner_id == staff.user_id:
        session.execute(
            update(ReferralRow)
            .where(ReferralRow.referral_id == case.referral_id)
            .values(touched_at=now)
            .execution_options(synchronize_session=False)
        )
    audit.record(
        session,
        actor=staff.actor,
        action=action,
        record_type="referral",
        record_id=case.referral_id,
        source=staff.source,
        detail=detail or {},
        now=now,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _decrypt(cipher: Cipher, value: bytes) -> str | None:
    try:
        return cipher.decrypt(value)
    except DecryptionError:
        return None


def _body(cipher: Cipher, value: bytes) -> dict[str, Any]:
    try:
        data = json.loads(_decrypt(cipher, value) or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _worker_id(ref: Any) -> int | None:
    found = _USER_REF.match(ref) if isinstance(ref, str) else None
    return int(found.group(1)) if found else None


def read_conversation(
    session: Session, cipher: Cipher, conversation_id: str, *, limit: int = LINES_SHOWN
) -> ConversationView | None:
    """The latest messages both ways, oldest first, and whether the bot is paused; None when
    the gateway's tables cannot be read here."""
    try:
        tables = importlib.import_module("channels.tables")
        controls = importlib.import_module("channels.rasa_control")
    except ImportError:
        return None
    conversations, inbox, outbox = tables.ConversationRow, tables.InboxRow, tables.OutboxRow
    try:
        with session.begin_nested():
            conversation = session.get(conversations, conversation_id)
            if conversation is None:
                return None
            pending = session.get(controls.RasaControlRow, conversation_id)
            received = session.scalars(
                select(inbox)
                .where(inbox.conversation_id == conversation_id)
                .order_by(inbox.id.desc())
                .limit(limit + 1)
            ).all()
            sent = session.scalars(
                select(outbox)
                .where(outbox.conversation_id == conversation_id, outbox.kind != "page")
                .order_by(outbox.id.desc())
                .limit(limit + 1)
            ).all()
            lines = [
                Line(
                    row_id=m.id,
                    at=_aware(m.received_at),
                    speaker=YOUNG_PERSON,
                    kind="message",
                    text=_decrypt(cipher, m.text_encrypted) or "",
                    escalated=bool(m.escalated),
                    severity=m.severity,
                )
                for m in received
            ]
            for m in sent:
                body = _body(cipher, m.body_encrypted)
                text = body.get("text") or body.get("Body") or ""
                lines.append(
                    Line(
                        row_id=m.id,
                        at=_aware(m.created_at),
                        speaker=WORKER if m.kind == WORKER else ASSISTANT,
                        kind=m.kind,
                        text=text if isinstance(text, str) else "",
                        status=_DELIVERY.get(m.status, m.status),
                        worker_id=_worker_id(body.get("worker_ref")),
                        error=getattr(m, "error", None),
                    )
                )
            opted_out = bool(conversation.opted_out) or (
                getattr(conversation, "opt_out_inbox_id", None) is not None
            )
            view_pending = (pending.event, pending.last_error) if pending else (None, None)
    except (SQLAlchemyError, AttributeError) as exc:
        log.warning("conversation unavailable: %s", type(exc).__name__)
        return None
    # By time; on a tie the young person's message first, then in the order stored.
    lines.sort(key=lambda line: (line.at, line.speaker != YOUNG_PERSON, line.row_id))
    return ConversationView(
        conversation_id=conversation_id,
        channel=conversation.channel,
        paused=bool(conversation.paused),
        opted_out=opted_out,
        pending_event=view_pending[0],
        pending_error=view_pending[1],
        lines=tuple(lines[-limit:]),
        earlier=len(lines) > limit,
    )
