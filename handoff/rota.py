"""The on-call rota: the order in which safeguarding leads are paged (contacts encrypted).

The pager reads `on_call`; admins keep the order with the other functions (each audited).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff import audit
from handoff.errors import NotFound
from handoff.models import RotaEntryRow, UserRow
from handoff.staff_errors import InvalidInput
from handoff.users import SAFEGUARDING_LEAD
from youthlink.crypto import Cipher

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
TELEGRAM_CHAT = re.compile(r"^-?\d{1,20}$")


class RotaEntryNotFound(NotFound):
    """No such rota entry."""


@dataclass(frozen=True)
class RotaEntry:
    """One place on the rota, with its contacts decrypted."""

    id: int
    user_id: int
    username: str
    position: int
    active: bool
    user_active: bool
    phone: str | None = field(default=None, repr=False)
    telegram_chat: str | None = field(default=None, repr=False)

    @property
    def pageable(self) -> bool:
        """Whether the pager will use this entry."""
        return self.active and self.user_active and bool(self.phone or self.telegram_chat)


def mask(value: str | None) -> str:
    """A contact with all but its last three characters hidden, for lists."""
    if not value:
        return "—"
    return "•" * max(0, len(value) - 3) + value[-3:]


def normalise_phone(value: str) -> str | None:
    """A UK or international number as E.164 (+44…), None if empty; InvalidInput if bad."""
    compact = re.sub(r"[\s()-]", "", value)
    if not compact:
        return None
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    elif compact.startswith("07") and len(compact) == 11:
        compact = "+44" + compact[1:]
    if not E164.match(compact):
        raise InvalidInput("a phone number must be a UK mobile (07…) or international (+…)")
    return compact


def normalise_chat(value: str) -> str | None:
    """A Telegram chat id, None if empty; InvalidInput if bad."""
    compact = value.strip()
    if not compact:
        return None
    if not TELEGRAM_CHAT.match(compact):
        raise InvalidInput("a Telegram chat id is a number")
    return compact


def _entries(session: Session) -> list[tuple[RotaEntryRow, UserRow]]:
    rows = session.execute(
        select(RotaEntryRow, UserRow)
        .join(UserRow, UserRow.id == RotaEntryRow.user_id)
        .order_by(RotaEntryRow.position, RotaEntryRow.id)
    )
    return [(entry, user) for entry, user in rows]


def list_entries(session: Session, cipher: Cipher) -> list[RotaEntry]:
    """The whole rota in order, contacts decrypted (callers audit who looked)."""
    return [
        RotaEntry(
            id=entry.id,
            user_id=entry.user_id,
            username=user.username,
            position=entry.position,
            active=entry.active,
            user_active=user.active and user.role == SAFEGUARDING_LEAD,
            phone=cipher.decrypt(entry.phone_encrypted),
            telegram_chat=cipher.decrypt(entry.telegram_chat_encrypted),
        )
        for entry, user in _entries(session)
    ]


def on_call(session: Session, cipher: Cipher) -> list[RotaEntry]:
    """Who to page, first first: active entries of active safeguarding leads with a contact."""
    return [entry for entry in list_entries(session, cipher) if entry.pageable]


def _renumber(session: Session) -> None:
    for position, (entry, _) in enumerate(_entries(session), start=1):
        entry.position = position


def _record(
    session: Session, actor: str, action: str, entry_id: int, source: str | None, now: datetime
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        record_type="rota_entry",
        record_id=str(entry_id),
        source=source,
        now=now,
    )


def add_entry(
    session: Session,
    cipher: Cipher,
    user_id: int,
    *,
    phone: str,
    telegram_chat: str,
    actor: str,
    source: str | None = None,
    now: datetime | None = None,
) -> int:
    """Put a safeguarding lead at the end of the rota; the new entry's id."""
    user = session.get(UserRow, user_id)
    if user is None or not user.active or user.role != SAFEGUARDING_LEAD:
        raise InvalidInput("only an active safeguarding lead can be on the rota")
    number, chat = normalise_phone(phone), normalise_chat(telegram_chat)
    if number is None and chat is None:
        raise InvalidInput("give a phone number, a Telegram chat id, or both")
    now = now or datetime.now(UTC)
    last = session.scalar(select(RotaEntryRow.position).order_by(RotaEntryRow.position.desc()))
    row = RotaEntryRow(
        user_id=user_id,
        position=(last or 0) + 1,
        phone_encrypted=cipher.encrypt(number),
        telegram_chat_encrypted=cipher.encrypt(chat),
        active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    _record(session, actor, "rota.entry_added", row.id, source, now)
    return row.id


def _row(session: Session, entry_id: int) -> RotaEntryRow:
    row = session.get(RotaEntryRow, entry_id)
    if row is None:
        raise RotaEntryNotFound()
    return row


def move(
    session: Session,
    entry_id: int,
    step: int,
    *,
    actor: str,
    source: str | None = None,
    now: datetime | None = None,
) -> None:
    """Move an entry one place earlier (step -1) or later (+1)."""
    if step not in (-1, 1):
        raise InvalidInput("move one place at a time")
    _row(session, entry_id)
    ordered = [entry for entry, _ in _entries(session)]
    index = next(i for i, entry in enumerate(ordered) if entry.id == entry_id)
    other = index + step
    if not 0 <= other < len(ordered):
        return
    ordered[index], ordered[other] = ordered[other], ordered[index]
    now = now or datetime.now(UTC)
    for position, entry in enumerate(ordered, start=1):
        entry.position = position
        entry.updated_at = now
    session.flush()
    _record(
        session, actor, "rota.moved_up" if step < 0 else "rota.moved_down", entry_id, source, now
    )


def set_active(
    session: Session,
    entry_id: int,
    active: bool,
    *,
    actor: str,
    source: str | None = None,
    now: datetime | None = None,
) -> None:
    """Take an entry off paging for a while, or put it back."""
    row = _row(session, entry_id)
    now = now or datetime.now(UTC)
    row.active, row.updated_at = active, now
    action = "rota.entry_activated" if active else "rota.entry_paused"
    _record(session, actor, action, entry_id, source, now)


def remove(
    session: Session,
    entry_id: int,
    *,
    actor: str,
    source: str | None = None,
    now: datetime | None = None,
) -> None:
    """Take an entry off the rota (its contacts are deleted with it)."""
    row = _row(session, entry_id)
    session.delete(row)
    session.flush()
    _renumber(session)
    _record(session, actor, "rota.entry_removed", entry_id, source, now or datetime.now(UTC))
