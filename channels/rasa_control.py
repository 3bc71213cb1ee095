"""Telling Rasa to pause or resume a conversation, and remembering what it has not yet heard.

While a link worker talks to a young person the gateway's own `conversations.paused` flag
decides what is relayed: paused conversations are screened but never reach Rasa. Rasa is told
as well (a `pause` or `resume` event through its token-protected HTTP API), so the dialogue
stays quiet if it is reached some other way and carries on afterwards.

What Rasa has not acknowledged yet is kept in `rasa_controls`: one row per conversation with
the latest event wanted, retried with backoff until Rasa takes it. A hand-back is complete
(the conversation unpaused) only once Rasa has taken the `resume`: a paused Rasa answers
nothing, so relaying to it earlier would leave the young person without replies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

import httpx
from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from channels.database import as_utc
from channels.errors import RasaUnavailable
from channels.tables import ConversationRow
from youthlink.db import Base

PAUSE = "pause"
RESUME = "resume"
EVENTS = (PAUSE, RESUME)

CONTROL_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
"""Appending one event is quick; a Rasa that does not answer soon is retried later."""


class ControlFailed(RasaUnavailable):
    """Rasa did not take the pause or resume event; it will be retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Rasa did not take the event ({reason})")
        self.reason = reason


class RasaControlRow(Base):
    """The event Rasa still has to take for one conversation (deleted once it has)."""

    __tablename__ = "rasa_controls"
    __table_args__ = (
        CheckConstraint("event IN ('pause', 'resume')", name="event"),
        Index("ix_rasa_controls_due", "next_attempt_at"),
    )

    conversation_id: Mapped[str] = mapped_column(
        String(40),
        ForeignKey("conversations.conversation_id", ondelete="CASCADE"),
        primary_key=True,
    )
    event: Mapped[str] = mapped_column(String(10))
    # Bumped whenever a new event is wanted: a result for an older one is not applied.
    seq: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # While someone is sending it: no second sender until then (keeps events in order).
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Why the last attempt failed: "unreachable", "timeout", "http_500". Codes only.
    last_error: Mapped[str | None] = mapped_column(String(64), default=None)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Claimed:
    """One event claimed for sending."""

    conversation_id: str
    event: str
    seq: int
    attempts: int


@dataclass(frozen=True)
class Pending:
    """An event Rasa has not taken yet, as status pages show it."""

    event: str
    attempts: int
    last_error: str | None
    requested_at: datetime


class RasaControl:
    """Appends `pause` / `resume` events to a conversation through Rasa's HTTP API."""

    def __init__(self, base_url: str, token: str, client: httpx.AsyncClient) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._client = client

    async def send(self, conversation_id: str, event: str) -> None:
        """`POST /conversations/{id}/tracker/events?token=…`; raise `ControlFailed` unless 2xx."""
        if event not in EVENTS:
            raise ValueError(f"not a control event: {event}")
        url = f"{self._base}/conversations/{quote(conversation_id, safe='')}/tracker/events"
        # The tracker comes back in the answer; nothing of it is needed, so ask for no events.
        params = {"include_events": "NONE"}
        if self._token:
            params["token"] = self._token
        try:
            response = await self._client.post(url, params=params, json={"event": event})
        except httpx.TimeoutException as exc:
            raise ControlFailed("timeout") from exc
        except httpx.HTTPError as exc:
            raise ControlFailed("unreachable") from exc
        if not 200 <= response.status_code < 300:
            raise ControlFailed(f"http_{response.status_code}")


def want(
    session: Session, conversation_id: str, event: str, now: datetime, lease: timedelta
) -> Claimed | None:
    """Record that Rasa should take `event` next, replacing any older one; claimed for the
    caller to send at once, unless an older event is being sent right now (then the retry
    loop sends this one as soon as that has finished).

    Call with the conversation's row locked, so two requests cannot both create the row.
    """
    if event not in EVENTS:
        raise ValueError(f"not a control event: {event}")
    row = session.get(RasaControlRow, conversation_id, with_for_update=True)
    if row is None:
        row = RasaControlRow(
            conversation_id=conversation_id,
            event=event,
            seq=0,
            attempts=0,
            next_attempt_at=now,
            requested_at=now,
        )
        session.add(row)
    row.event = event
    row.seq += 1
    row.attempts = 0
    row.next_attempt_at = now
    row.last_error = None
    row.requested_at = now
    if row.lease_until is not None and as_utc(row.lease_until) > now:
        session.flush()
        return None
    row.lease_until = now + lease
    session.flush()
    return Claimed(conversation_id, event, row.seq, 0)


def _lease_free(now: datetime) -> ColumnElement[bool]:
    return or_(RasaControlRow.lease_until.is_(None), RasaControlRow.lease_until < now)


def _claim(
    session: Session, which: ColumnElement[bool], now: datetime, lease: timedelta
) -> Claimed | None:
    found = session.execute(
        update(RasaControlRow)
        .where(which, _lease_free(now))
        .values(lease_until=now + lease)
        .returning(
            RasaControlRow.conversation_id,
            RasaControlRow.event,
            RasaControlRow.seq,
            RasaControlRow.attempts,
        )
        .execution_options(synchronize_session=False)
    ).first()
    if found is None:
        return None
    return Claimed(found[0], found[1], found[2], found[3])


def claim_due(session: Session, now: datetime, lease: timedelta) -> Claimed | None:
    """Claim the event whose retry is due soonest, or None."""
    next_id = (
        select(RasaControlRow.conversation_id)
        .where(RasaControlRow.next_attempt_at <= now, _lease_free(now))
        .order_by(RasaControlRow.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return _claim(session, RasaControlRow.conversation_id == next_id, now, lease)


def taken(session: Session, claimed: Claimed) -> bool:
    """Rasa took the claimed event: forget it, and end the pause if it was a resume.

    False when a newer event was wanted meanwhile (that one is still to be sent).
    """
    row = session.get(
        RasaControlRow,
        claimed.conversation_id,
        with_for_update=True,
        populate_existing=True,
    )
    if row is None:
        return False
    if row.seq != claimed.seq:
        row.lease_until = None
        return False
    if row.event == RESUME:
        session.execute(
            update(ConversationRow)
            .where(ConversationRow.conversation_id == claimed.conversation_id)
            .values(paused=False)
            .execution_options(synchronize_session=False)
        )
    session.delete(row)
    return True


def not_taken(session: Session, claimed: Claimed, reason: str, retry_at: datetime) -> None:
    """Sending failed: try again at `retry_at` (unless a newer event is wanted already)."""
    row = session.get(
        RasaControlRow,
        claimed.conversation_id,
        with_for_update=True,
        populate_existing=True,
    )
    if row is None:
        return
    row.lease_until = None
    if row.seq == claimed.seq:
        row.attempts = claimed.attempts + 1
        row.next_attempt_at = retry_at
        row.last_error = reason[:64]


def pending(session: Session, conversation_id: str) -> Pending | None:
    """The event Rasa has not taken yet for this conversation, or None."""
    row = session.get(RasaControlRow, conversation_id, populate_existing=True)
    if row is None:
        return None
    return Pending(row.event, row.attempts, row.last_error, row.requested_at)


def release_leases(session: Session) -> int:
    """After a restart of a single-process gateway: nothing it was sending is in flight now."""
    result = session.execute(
        update(RasaControlRow)
        .where(RasaControlRow.lease_until.is_not(None))
        .values(lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
