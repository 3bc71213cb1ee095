"""Dashboard sign-in sessions, kept server-side so they can be ended at once.

The browser holds a random token; the database holds only its SHA-256. A session ends after
an idle time, after an absolute lifetime, at sign-out, or when the user is deactivated,
changes role or has their password reset.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from handoff.models import StaffSessionRow, UserRow
from handoff.users import User

# Writing last-seen on every request would be a write per page: once a minute is enough.
_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lives without activity, and at most."""

    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)


def token_hash(token: str) -> str:
    """What the database stores for a session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(session: Session, user_id: int, *, now: datetime | None = None) -> str:
    """Start a session for the user; return the token for the cookie."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSessionRow(
            token_hash=token_hash(token), user_id=user_id, created_at=now, last_seen_at=now
        )
    )
    session.flush()
    return token


def resolve(
    session: Session, token: str, policy: SessionPolicy, *, now: datetime | None = None
) -> User | None:
    """The signed-in active user for this token, or None (expired sessions are removed)."""
    if not token or len(token) > 128:
        return None
    now = now or datetime.now(UTC)
    row = session.get(StaffSessionRow, token_hash(token))
    if row is None:
        return None
    user = session.get(UserRow, row.user_id)
    expired = now - row.last_seen_at > policy.idle or now - row.created_at > policy.lifetime
    if user is None or not user.active or expired:
        session.delete(row)
        session.flush()
        return None
    if now - row.last_seen_at >= _TOUCH_EVERY:
        row.last_seen_at = now
    return User.from_row(user)


def end_session(session: Session, token: str) -> None:
    """Sign out: forget this session."""
    session.execute(delete(StaffSessionRow).where(StaffSessionRow.token_hash == token_hash(token)))


def purge_expired(session: Session, policy: SessionPolicy, *, now: datetime | None = None) -> int:
    """Delete sessions past their idle time or lifetime; return how many."""
    now = now or datetime.now(UTC)
    result = session.execute(
        delete(StaffSessionRow).where(
            (StaffSessionRow.last_seen_at < now - policy.idle)
            | (StaffSessionRow.created_at < now - policy.lifetime)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
