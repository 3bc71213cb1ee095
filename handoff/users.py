"""Staff accounts: roles, argon2 password hashes, one-time passwords and sign-in lockout."""

from __future__ import annotations

import functools
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from handoff import audit
from handoff.models import ROLES, StaffSessionRow, UserRow
from handoff.staff_errors import AccountLocked, InvalidInput, LoginFailed, UserNotFound

log = logging.getLogger(__name__)

LINK_WORKER = "link_worker"
SAFEGUARDING_LEAD = "safeguarding_lead"
ADMIN = "admin"
ROLE_NAMES = {
    LINK_WORKER: "Link worker",
    SAFEGUARDING_LEAD: "Safeguarding lead",
    ADMIN: "Admin",
}
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 256


@dataclass(frozen=True)
class LockoutPolicy:
    """How many failed sign-ins lock an account, and for how long."""

    max_failures: int = 5
    lock_for: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class User:
    """A member of staff as the dashboard sees them (never the password hash)."""

    id: int
    username: str
    role: str
    active: bool
    must_change_password: bool
    caseload_cap: int | None
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def from_row(cls, row: UserRow) -> User:
        """From a stored row."""
        return cls(
            id=row.id,
            username=row.username,
            role=row.role,
            active=row.active,
            must_change_password=row.must_change_password,
            caseload_cap=row.caseload_cap,
            locked_until=row.locked_until,
            created_at=row.created_at,
            last_login_at=row.last_login_at,
        )

    @property
    def actor(self) -> str:
        """This user's actor code in the audit log."""
        return audit.user_actor(self.id)

    @property
    def role_name(self) -> str:
        """The role as people say it."""
        return ROLE_NAMES.get(self.role, self.role)

    def is_locked(self, now: datetime) -> bool:
        """Whether sign-in is refused for now after repeated failures."""
        return self.locked_until is not None and self.locked_until > now


def _hasher() -> PasswordHasher:
    return PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Verified against when the username is unknown, so a miss costs as long as a wrong one.
    return _hasher().hash(secrets.token_urlsafe(16))


def one_time_password() -> str:
    """A random password to hand over once (the user must change it at first sign-in)."""
    return secrets.token_urlsafe(15)


def check_username(username: str) -> str:
    """The username, normalised, or InvalidInput."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise InvalidInput(
            "a username is 2 to 64 characters: lower-case letters, digits, dot, dash, underscore"
        )
    return username


def check_role(role: str) -> str:
    """The role, or InvalidInput."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    return role


def check_password(password: str, username: str) -> None:
    """Refuse passwords that are too short, too long or the username itself."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"a password has at most {MAX_PASSWORD} characters")
    if username and username.lower() in password.lower():
        raise InvalidInput("a password must not contain the username")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _row(session: Session, user_id: int) -> UserRow:
    row = session.get(UserRow, user_id)
    if row is None:
        raise UserNotFound()
    return row


def get_user(session: Session, user_id: int) -> User:
    """One user."""
    return User.from_row(_row(session, user_id))


def find_user(session: Session, username: str) -> User | None:
    """The user with this username, or None."""
    row = session.scalar(select(UserRow).where(UserRow.username == username.strip().lower()))
    return None if row is None else User.from_row(row)


def list_users(session: Session) -> list[User]:
    """Every user, active first, then by username."""
    rows = session.scalars(select(UserRow).order_by(UserRow.active.desc(), UserRow.username))
    return [User.from_row(r) for r in rows]


def usernames(session: Session) -> dict[int, str]:
    """Every user's username by id (for showing who holds a case)."""
    return {
        user_id: name for user_id, name in session.execute(select(UserRow.id, UserRow.username))
    }


def create_user(
    session: Session,
    username: str,
    role: str,
    *,
    actor: str,
    password: str | None = None,
    caseload_cap: int | None = None,
    source: str | None = None,
    now: datetime | None = None,
) -> tuple[User, str]:
    """Add a user; return them and their password (one-time unless `password` was given)."""
    username = check_username(username)
    role = check_role(role)
    if caseload_cap is not None and not 0 <= caseload_cap <= 500:
        raise InvalidInput("a caseload cap is between 0 and 500")
    if find_user(session, username) is not None:
        raise InvalidInput("that username is taken")
    chosen = password is not None
    if password is None:
        password = one_time_password()
    else:
        check_password(password, username)
    now = now or _utcnow()
    row = UserRow(
        username=username,
        role=role,
        password_hash=_hasher().hash(password),
        active=True,
        must_change_password=not chosen,
        failed_logins=0,
        caseload_cap=caseload_cap,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.created",
        record_type="user",
        record_id=str(row.id),
        source=source,
        detail={"role": role},
        now=now,
    )
    log.info("user %d created (%s)", row.id, role)
    return User.from_row(row), password


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    policy: LockoutPolicy = LockoutPolicy(),
    source: str | None = None,
    now: datetime | None = None,
) -> User:
    """The active user with this username and password; counts failures and locks out.

    The caller must commit even when this raises, so failures are counted.
    """
    now = now or _utcnow()
    row = session.scalar(
        select(UserRow).where(UserRow.username == username.strip().lower()).with_for_update()
    )
    if row is None or not row.active:
        _verify(_dummy_hash(), password)
        raise LoginFailed()
    if row.locked_until is not None and row.locked_until > now:
        _verify(_dummy_hash(), password)
        raise AccountLocked()
    if not _verify(row.password_hash, password):
        row.failed_logins += 1
        detail: dict[str, str | int] = {"failures": row.failed_logins}
        if row.failed_logins >= policy.max_failures:
            row.locked_until = now + policy.lock_for
            row.failed_logins = 0
            detail["locked"] = "yes"
        audit.record(
            session,
            actor=audit.user_actor(row.id),
            action="login.failed",
            record_type="user",
            record_id=str(row.id),
            source=source,
            detail=detail,
            now=now,
        )
        if row.locked_until is not None and row.locked_until > now:
            raise AccountLocked()
        raise LoginFailed()
    row.failed_logins = 0
    row.locked_until = None
    row.last_login_at = now
    if _hasher().check_needs_rehash(row.password_hash):
        row.password_hash = _hasher().hash(password)
    audit.record(
        session,
        actor=audit.user_actor(row.id),
        action="login.succeeded",
        record_type="user",
        record_id=str(row.id),
        source=source,
        now=now,
    )
    return User.from_row(row)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def change_password(
    session: Session,
    user_id: int,
    current: str,
    new: str,
    *,
    source: str | None = None,
    now: datetime | None = None,
) -> None:
    """The user sets their own password (the current one is checked)."""
    row = _row(session, user_id)
    if not _verify(row.password_hash, current):
        raise InvalidInput("the current password is not right")
    check_password(new, row.username)
    if _verify(row.password_hash, new):
        raise InvalidInput("choose a password different from the current one")
    now = now or _utcnow()
    row.password_hash = _hasher().hash(new)
    row.must_change_password = False
    row.updated_at = now
    audit.record(
        session,
        actor=audit.user_actor(user_id),
        action="user.password_changed",
        record_type="user",
        record_id=str(user_id),
        source=source,
        now=now,
    )


def reset_password(
    session: Session,
    user_id: int,
    *,
    actor: str,
    source: str | None = None,
    now: datetime | None = None,
) -> str:
    """Give the user a new one-time password, unlock them and end their sessions."""
    row = _row(session, user_id)
    now = now or _utcnow()
    password = one_time_password()
    row.password_hash = _hasher().hash(password)
    row.must_change_password = True
    row.failed_logins = 0
    row.locked_until = None
    row.updated_at = now
    _end_sessions(session, user_id)
    audit.record(
        session,
        actor=actor,
        action="user.password_reset",
        record_type="user",
        record_id=str(user_id),
        source=source,
        now=now,
    )
    return password


def _active_admins(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(UserRow)
            .where(UserRow.role == ADMIN, UserRow.active.is_(True))
        )
        or 0
    )


def set_role(
    session: Session,
    user_id: int,
    role: str,
    *,
    actor: str,
    source: str | None = None,
    now: datetime | None = None,
) -> User:
    """Change a user's role (never leaving the service without an active admin)."""
    role = check_role(role)
    row = _row(session, user_id)
    if row.role == role:
        return User.from_row(row)
    if row.role == ADMIN and row.active and _active_admins(session) <= 1:
        raise InvalidInput("this is the last active admin: make someone else admin first")
    previous, row.role = row.role, role
    now = now or _utcnow()
    row.updated_at = now
    # A change of role takes effect at once: existing sessions carried the old one.
    _end_sessions(session, user_id)
    audit.record(
        session,
        actor=actor,
        action="user.role_changed",
        record_type="user",
        record_id=str(user_id),
        source=source,
        detail={"from": previous, "to": role},
        now=now,
    )
    return User.from_row(row)


def set_caseload_cap(
    session: Session,
    user_id: int,
    cap: int | None,
    *,
    actor: str,
    source: str | None = None,
    now: datetime | None = None,
) -> User:
    """Set (or clear, with None) a user's own caseload cap."""
    if cap is not None and not 0 <= cap <= 500:
        raise InvalidInput("a caseload cap is between 0 and 500")
    row = _row(session, user_id)
    row.caseload_cap = cap
    now = now or _utcnow()
    row.updated_at = now
    audit.record(
        session,
        actor=actor,
        action="user.cap_changed",
        record_type="user",
        record_id=str(user_id),
        source=source,
        detail={"cap": cap},
        now=now,
    )
    return User.from_row(row)


def set_active(
    session: Session,
    user_id: int,
    active: bool,
    *,
    actor: str,
    source: str | None = None,
    now: datetime | None = None,
) -> User:
    """Deactivate (ending every session) or reactivate a user."""
    row = _row(session, user_id)
    if row.active == active:
        return User.from_row(row)
    if not active and row.role == ADMIN and _active_admins(session) <= 1:
        raise InvalidInput("this is the last active admin: make someone else admin first")
    row.active = active
    now = now or _utcnow()
    row.updated_at = now
    if not active:
        _end_sessions(session, user_id)
    audit.record(
        session,
        actor=actor,
        action="user.activated" if active else "user.deactivated",
        record_type="user",
        record_id=str(user_id),
        source=source,
        now=now,
    )
    return User.from_row(row)


def _end_sessions(session: Session, user_id: int) -> None:
    session.execute(delete(StaffSessionRow).where(StaffSessionRow.user_id == user_id))


def ensure_admin(
    session: Session, username: str = "admin", *, now: datetime | None = None
) -> tuple[User, str] | None:
    """Create the first admin when there is no user at all; return it and its one-time
    password (to be shown once), or None when users exist already."""
    if session.scalar(select(func.count()).select_from(UserRow)):
        return None
    return create_user(session, username, ADMIN, actor=audit.SYSTEM, now=now)
