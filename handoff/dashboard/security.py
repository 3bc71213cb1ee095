"""CSRF tokens, the sign-in rate limit, one-page messages and the headers every page gets."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

# No scripts at all; styles only from this site; never framed; forms only post back here.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Pages show personal data: never keep them in a browser or proxy cache.
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
FLASH_MAX_AGE = 120


def csrf_token(secret: bytes, purpose: str, binding: str) -> str:
    """A form token bound to one session (or one sign-in form) and signed with the secret."""
    message = f"{purpose}:{binding}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def csrf_matches(secret: bytes, purpose: str, binding: str, given: str) -> bool:
    """Whether a submitted form token is the right one (constant-time)."""
    if not binding or not given:
        return False
    expected = csrf_token(secret, purpose, binding)
    return hmac.compare_digest(expected.encode(), given.encode())


class RateLimiter:
    """At most `attempts` events per key within a sliding window (in memory, per process)."""

    def __init__(self, attempts: int, window: timedelta) -> None:
        self.attempts = attempts
        self.window = window
        self._events: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: datetime) -> bool:
        """Count an event for `key`; False when over the limit (the event is not counted)."""
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and now - events[0] > self.window:
                events.popleft()
            if len(events) >= self.attempts:
                return False
            events.append(now)
            if len(self._events) > 10_000:  # forget idle keys so memory stays bounded
                for stale in [k for k, v in self._events.items() if not v]:
                    del self._events[stale]
            return True


@dataclass(frozen=True)
class Flash:
    """A one-off message for the next page: `kind` is `ok` or `error`."""

    kind: str
    text: str


class FlashSigner:
    """Signs flash messages into a cookie value and reads them back (briefly valid)."""

    def __init__(self, secret: bytes) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="youthlink-flash")

    def dumps(self, flash: Flash) -> str:
        """The cookie value."""
        return self._serializer.dumps([flash.kind, flash.text])

    def loads(self, value: str | None) -> Flash | None:
        """The message, or None if absent, tampered with or stale."""
        if not value:
            return None
        try:
            kind, text = self._serializer.loads(value, max_age=FLASH_MAX_AGE)
        except (BadSignature, ValueError, TypeError):
            return None
        if kind not in ("ok", "error") or not isinstance(text, str):
            return None
        return Flash(kind, text[:500])
