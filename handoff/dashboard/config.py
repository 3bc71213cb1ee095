"""The dashboard's settings: cookies, sessions, sign-in limits and the queue's rules."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from handoff.queue import DEFAULT_TARGETS, QueuePolicy
from handoff.staff_sessions import SessionPolicy
from handoff.users import LockoutPolicy
from handoff.workhours import WorkingHours
from youthlink.config import Settings
from youthlink.errors import ConfigurationError

# Optional settings, read from `Settings.extra` (environment variables YOUTHLINK_X_*).
COOKIE_SECURE = "YOUTHLINK_X_COOKIE_SECURE"
SESSION_IDLE_MINUTES = "YOUTHLINK_X_SESSION_IDLE_MINUTES"
CASELOAD_CAP = "YOUTHLINK_X_CASELOAD_CAP"
CLAIM_EXPIRY_MINUTES = "YOUTHLINK_X_CLAIM_EXPIRY_MINUTES"
TARGET_HOURS = {
    "urgent": "YOUTHLINK_X_TARGET_URGENT_HOURS",
    "priority": "YOUTHLINK_X_TARGET_PRIORITY_HOURS",
    "routine": "YOUTHLINK_X_TARGET_ROUTINE_HOURS",
}
BANK_HOLIDAYS = "YOUTHLINK_X_BANK_HOLIDAYS"


@dataclass(frozen=True)
class LoginRateLimit:
    """Sign-in attempts allowed from one address within a window (before any lockout)."""

    attempts: int = 20
    window: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class DashboardConfig:
    """Everything the dashboard needs to know beyond the shared settings."""

    cookie_secure: bool = True
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    login_rate: LoginRateLimit = field(default_factory=LoginRateLimit)
    queue: QueuePolicy = field(default_factory=QueuePolicy)
    per_page: int = 25

    @property
    def session_cookie(self) -> str:
        """`__Host-` cookies are only accepted over HTTPS, from this host, for every path."""
        return "__Host-yl_session" if self.cookie_secure else "yl_session"

    @property
    def login_cookie(self) -> str:
        """The cookie that carries the sign-in form's CSRF secret."""
        return "__Host-yl_login" if self.cookie_secure else "yl_login"

    @property
    def flash_cookie(self) -> str:
        """The cookie that carries one message to the next page."""
        return "__Host-yl_flash" if self.cookie_secure else "yl_flash"

    @classmethod
    def from_settings(cls, settings: Settings) -> DashboardConfig:
        """Defaults, adjusted by `YOUTHLINK_X_*` values; production always uses secure cookies."""
        extra = settings.extra
        secure_default = settings.env == "production" or settings.public_url.startswith("https:")
        secure = _flag(extra, COOKIE_SECURE, secure_default)
        if settings.env == "production" and not secure:
            raise ConfigurationError("production needs secure cookies (HTTPS)")
        targets = dict(DEFAULT_TARGETS)
        for priority, name in TARGET_HOURS.items():
            hours = _number(extra, name, None)
            if hours is not None:
                targets[priority] = timedelta(hours=hours)
        holidays = _dates(extra, BANK_HOLIDAYS)
        queue = QueuePolicy(
            targets=targets,
            hours=WorkingHours(holidays=holidays),
            claim_expiry=timedelta(minutes=_number(extra, CLAIM_EXPIRY_MINUTES, 240) or 240),
            caseload_cap=int(_number(extra, CASELOAD_CAP, 15) or 0),
        )
        idle = _number(extra, SESSION_IDLE_MINUTES, 30) or 30
        return cls(
            cookie_secure=secure,
            sessions=SessionPolicy(idle=timedelta(minutes=idle)),
            queue=queue,
        )

    def replace(self, **changes: object) -> DashboardConfig:
        """A copy with some settings changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _flag(extra: Mapping[str, str], name: str, default: bool) -> bool:
    value = extra.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} must be true or false")


def _number(extra: Mapping[str, str], name: str, default: float | None) -> float | None:
    value = extra.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a number") from exc
    if number < 0:
        raise ConfigurationError(f"{name} must not be negative")
    return number


def _dates(extra: Mapping[str, str], name: str) -> frozenset[date]:
    try:
        return frozenset(
            date.fromisoformat(day.strip()) for day in extra.get(name, "").split(",") if day.strip()
        )
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be dates like 2026-12-25, comma-separated") from exc
