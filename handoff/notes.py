"""Notes and contact attempts on a referral; the text of both is stored encrypted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handoff.models import ContactAttemptRow, NoteRow
from handoff.staff_errors import InvalidInput
from youthlink.crypto import Cipher

MAX_NOTE = 5000
ATTEMPT_METHODS = {
    "phone_call": "Phone call",
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "email": "Email",
    "in_person": "In person",
    "other": "Other",
}
ATTEMPT_RESULTS = {
    "reached": "Reached them",
    "no_answer": "No answer",
    "left_message": "Left a message",
    "message_sent": "Sent a message",
    "wrong_number": "Wrong number",
}
REACHED = "reached"


@dataclass(frozen=True)
class Note:
    """A note a member of staff wrote on a referral."""

    id: int
    referral_id: str
    author_id: int
    created_at: datetime
    text: str = field(repr=False)


@dataclass(frozen=True)
class ContactAttempt:
    """One attempt to reach the young person."""

    id: int
    referral_id: str
    author_id: int
    attempted_at: datetime
    method: str
    result: str
    note: str | None = field(default=None, repr=False)

    @property
    def reached(self) -> bool:
        """Whether the young person was reached."""
        return self.result == REACHED


def check_text(value: str, *, required: bool) -> str | None:
    """Staff's free text, trimmed; None when empty and not required."""
    value = value.strip()
    if not value:
        if required:
            raise InvalidInput("write something first")
        return None
    if len(value) > MAX_NOTE:
        raise InvalidInput(f"a note has at most {MAX_NOTE} characters")
    return value


def add_note(
    session: Session, cipher: Cipher, referral_id: str, author_id: int, text: str, now: datetime
) -> Note:
    """Store a note (the caller checks who may write it)."""
    checked = check_text(text, required=True)
    token = cipher.encrypt(checked)
    assert checked is not None and token is not None
    row = NoteRow(
        referral_id=referral_id, author_id=author_id, created_at=now, text_encrypted=token
    )
    session.add(row)
    session.flush()
    return Note(row.id, referral_id, author_id, now, checked)


def notes_for(session: Session, cipher: Cipher, referral_id: str) -> list[Note]:
    """A referral's notes, oldest first, decrypted."""
    rows = session.scalars(
        select(NoteRow).where(NoteRow.referral_id == referral_id).order_by(NoteRow.id)
    )
    return [
        Note(r.id, r.referral_id, r.author_id, r.created_at, cipher.decrypt(r.text_encrypted) or "")
        for r in rows
    ]


def add_attempt(
    session: Session,
    cipher: Cipher,
    referral_id: str,
    author_id: int,
    *,
    method: str,
    result: str,
    note: str,
    now: datetime,
) -> ContactAttempt:
    """Store a contact attempt (the caller checks who may record it)."""
    if method not in ATTEMPT_METHODS:
        raise InvalidInput(f"method must be one of {', '.join(ATTEMPT_METHODS)}")
    if result not in ATTEMPT_RESULTS:
        raise InvalidInput(f"result must be one of {', '.join(ATTEMPT_RESULTS)}")
    checked = check_text(note, required=False)
    row = ContactAttemptRow(
        referral_id=referral_id,
        author_id=author_id,
        attempted_at=now,
        method=method,
        result=result,
        note_encrypted=cipher.encrypt(checked),
    )
    session.add(row)
    session.flush()
    return ContactAttempt(row.id, referral_id, author_id, now, method, result, checked)


def attempts_for(session: Session, cipher: Cipher, referral_id: str) -> list[ContactAttempt]:
    """A referral's contact attempts, oldest first, decrypted."""
    rows = session.scalars(
        select(ContactAttemptRow)
        .where(ContactAttemptRow.referral_id == referral_id)
        .order_by(ContactAttemptRow.id)
    )
    return [
        ContactAttempt(
            r.id,
            r.referral_id,
            r.author_id,
            r.attempted_at,
            r.method,
            r.result,
            cipher.decrypt(r.note_encrypted),
        )
        for r in rows
    ]


def unanswered_attempts(session: Session, referral_id: str) -> int:
    """How many attempts did not reach the young person."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(ContactAttemptRow)
            .where(
                ContactAttemptRow.referral_id == referral_id, ContactAttemptRow.result != REACHED
            )
        )
        or 0
    )
