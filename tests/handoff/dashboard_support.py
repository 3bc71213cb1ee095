"""Helpers for the queue, audit, users and dashboard tests: staff, a movable clock, clients."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from handoff import referrals, staff_sessions, users
from handoff.api import create_app
from handoff.conversation import ConversationReader
from handoff.dashboard import DashboardConfig
from handoff.dashboard.rulecheck import RuleCheck, subprocess_rule_check
from handoff.dashboard.web import Dashboard
from handoff.models import ReferralRow
from handoff.queue import QueuePolicy, Staff
from handoff.users import User
from tests.support.referrals import make_referral
from youthlink.config import Settings
from youthlink.crypto import Cipher

PASSWORD = "correct horse battery staple"
# Monday 1 December 2025, 10:00 in London (GMT): inside working hours.
MONDAY_10AM = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Clock:
    """A clock the tests move by hand."""

    def __init__(self, now: datetime = MONDAY_10AM) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass(frozen=True)
class Crew:
    """One of each kind of staff (passwords set, no change required)."""

    worker: User
    other_worker: User
    lead: User
    admin: User

    def staff(self, name: str) -> Staff:
        user: User = getattr(self, name)
        return Staff(user.id, user.role, "127.0.0.1")


def make_user(sessions: sessionmaker[Session], username: str, role: str, **kw: Any) -> User:
    with sessions.begin() as session:
        user, _ = users.create_user(
            session, username, role, actor="system", password=PASSWORD, **kw
        )
    return user


def make_crew(sessions: sessionmaker[Session]) -> Crew:
    return Crew(
        worker=make_user(sessions, "wren.worker", "link_worker"),
        other_worker=make_user(sessions, "otto.worker", "link_worker"),
        lead=make_user(sessions, "lena.lead", "safeguarding_lead"),
        admin=make_user(sessions, "ada.admin", "admin"),
    )


def add_referral(
    sessions: sessionmaker[Session],
    cipher: Cipher,
    *,
    conversation_id: str | None = None,
    priority: str = "routine",
    created_at: datetime | None = None,
    **overrides: Any,
) -> str:
    """Store a finished referral; optionally backdate it."""
    import uuid

    record = make_referral(
        conversation_id or f"c_{uuid.uuid4().hex[:12]}", priority=priority, **overrides
    )
    with sessions.begin() as session:
        referral_id = referrals.submit_referral(session, cipher, record, now=created_at)
    return referral_id


def status_of(sessions: sessionmaker[Session], referral_id: str) -> ReferralRow:
    with sessions.begin() as session:
        row = session.get(ReferralRow, referral_id)
        assert row is not None
        session.expunge(row)
        return row


def fake_rule_check(
    passed: bool = True, output: str = "42 rules, 314 examples: all passed"
) -> RuleCheck:
    """A rule check that runs a real child process printing a fixed report."""
    code = f"import sys; print({output!r}); sys.exit({0 if passed else 1})"
    return subprocess_rule_check([sys.executable, "-c", code], timeout=30)


def make_app(
    settings: Settings,
    engine: Engine,
    clock: Clock,
    *,
    config: DashboardConfig | None = None,
    reader: ConversationReader | None = None,
    rule_check: RuleCheck | None = None,
) -> FastAPI:
    config = config or DashboardConfig(cookie_secure=False, queue=QueuePolicy())
    app = create_app(
        settings,
        engine=engine,
        dashboard=config,
        conversation_reader=reader,
        rule_check=rule_check or fake_rule_check(),
    )
    dashboard_state(app).clock = clock
    return app


def dashboard_state(app: FastAPI) -> Dashboard:
    """The state of the dashboard mounted at "/" of the handoff app."""
    for route in app.routes:
        sub = getattr(route, "app", None)
        state = getattr(getattr(sub, "state", None), "dashboard", None)
        if isinstance(state, Dashboard):
            return state
    raise AssertionError("no dashboard mounted")


def signed_in(
    client: TestClient, sessions: sessionmaker[Session], user: User, now: datetime
) -> TestClient:
    """Give the client a session for `user` (without going through the sign-in form)."""
    with sessions.begin() as session:
        token = staff_sessions.open_session(session, user.id, now=now)
    client.cookies.set("yl_session", token)
    return client


def csrf_from(client: TestClient, path: str = "/account/password") -> str:
    """The CSRF token a page of the signed-in session carries."""
    response = client.get(path)
    found = CSRF.search(response.text)
    assert found, f"no CSRF token on {path} ({response.status_code})"
    return found.group(1)


@dataclass
class DashboardEnv:
    """A migrated SQLite database with staff, and the handoff app with its dashboard."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    cipher: Cipher
    crew: Crew
    clock: Clock
    app: FastAPI

    def client(self, who: str | None = None, *, base_url: str = "http://testserver") -> TestClient:
        client = TestClient(self.app, base_url=base_url, follow_redirects=False)
        if who is not None:
            signed_in(client, self.sessions, getattr(self.crew, who), self.clock.now)
        return client


def make_env(
    url: str,
    *,
    config: DashboardConfig | None = None,
    reader: ConversationReader | None = None,
    rule_check: RuleCheck | None = None,
) -> DashboardEnv:
    from tests.support.db import fresh_settings
    from youthlink.db import make_engine, make_sessionmaker

    settings = fresh_settings(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
    clock = Clock()
    app = make_app(settings, engine, clock, config=config, reader=reader, rule_check=rule_check)
    return DashboardEnv(settings, engine, sessions, cipher, make_crew(sessions), clock, app)
