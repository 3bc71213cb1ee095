"""Staff accounts: argon2 hashes, one-time passwords, lockout, roles, sessions and the commands
the lead wires into the CLI."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from handoff import audit, commands, staff_sessions, users
from handoff.models import StaffSessionRow, UserRow
from handoff.staff_errors import AccountLocked, InvalidInput, LoginFailed
from handoff.staff_sessions import SessionPolicy
from handoff.users import LockoutPolicy
from tests.handoff.dashboard_support import MONDAY_10AM, PASSWORD, make_user
from tests.handoff.store import Sessions
from youthlink.config import Settings


def login(sessions: Sessions, username: str, password: str, **kw: object) -> users.User:
    """Sign in the way the dashboard does: failures are committed too."""
    with sessions.begin() as session:
        try:
            return users.authenticate(session, username, password, **kw)  # type: ignore[arg-type]
        except LoginFailed as exc:
            failure = exc
    raise failure


def test_a_new_user_gets_a_one_time_password_they_must_replace(sessions: Sessions) -> None:
    with sessions.begin() as session:
        user, one_time = users.create_user(session, "Sam.K", "link_worker", actor="system")
    assert user.username == "sam.k"
    assert user.must_change_password
    assert len(one_time) >= 16
    signed = login(sessions, "sam.k", one_time)
    assert signed.must_change_password
    with sessions.begin() as session:
        users.change_password(session, user.id, one_time, PASSWORD)
    assert not login(sessions, "sam.k", PASSWORD).must_change_password
    with pytest.raises(LoginFailed):
        login(sessions, "sam.k", one_time)


def test_passwords_are_stored_as_argon2_hashes_only(sessions: Sessions) -> None:
    make_user(sessions, "hash.check", "link_worker")
    with sessions.begin() as session:
        stored = session.scalar(select(UserRow.password_hash))
    assert stored is not None and stored.startswith("$argon2id$")
    assert PASSWORD not in stored


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short", "at least"), ("x" * 300, "at most"), ("my name is pat.lee ok", "username")],
)
def test_weak_passwords_are_refused(sessions: Sessions, password: str, problem: str) -> None:
    with sessions.begin() as session, pytest.raises(InvalidInput, match=problem):
        users.create_user(session, "pat.lee", "link_worker", actor="system", password=password)


@pytest.mark.parametrize("username", ["", "a", "Has Space", "../etc", "x" * 65, "émilie"])
def test_usernames_are_short_plain_codes(sessions: Sessions, username: str) -> None:
    with sessions.begin() as session, pytest.raises(InvalidInput):
        users.create_user(session, username, "link_worker", actor="system")


def test_repeated_failures_lock_the_account_for_a_while(sessions: Sessions) -> None:
    user = make_user(sessions, "lock.me", "link_worker")
    policy = LockoutPolicy(max_failures=3, lock_for=timedelta(minutes=15))
    for _ in range(2):
        with pytest.raises(LoginFailed) as failed:
            login(sessions, "lock.me", "wrong password here", policy=policy, now=MONDAY_10AM)
        assert not isinstance(failed.value, AccountLocked)
    with pytest.raises(AccountLocked):
        login(sessions, "lock.me", "wrong password here", policy=policy, now=MONDAY_10AM)
    # Locked: even the right password is refused until the time is up.
    with pytest.raises(AccountLocked):
        login(sessions, "lock.me", PASSWORD, policy=policy, now=MONDAY_10AM + timedelta(minutes=14))
    signed = login(
        sessions, "lock.me", PASSWORD, policy=policy, now=MONDAY_10AM + timedelta(minutes=16)
    )
    assert signed.id == user.id
    with sessions.begin() as session:
        actions = [e.action for e in audit.events_for(session, "user", str(user.id))]
    assert actions.count("login.failed") == 3
    assert actions[-1] == "login.succeeded"


def test_a_reset_unlocks_and_ends_sessions(sessions: Sessions) -> None:
    user = make_user(sessions, "reset.me", "link_worker")
    policy = LockoutPolicy(max_failures=1)
    with pytest.raises(AccountLocked):
        login(sessions, "reset.me", "wrong password here", policy=policy)
    with sessions.begin() as session:
        token = staff_sessions.open_session(session, user.id)
        new_password = users.reset_password(session, user.id, actor="user:99")
    with sessions.begin() as session:
        assert staff_sessions.resolve(session, token, SessionPolicy()) is None
    assert login(sessions, "reset.me", new_password).must_change_password


def test_unknown_and_inactive_users_fail_alike(sessions: Sessions) -> None:
    user = make_user(sessions, "gone.soon", "link_worker")
    admin = make_user(sessions, "the.admin", "admin")
    with sessions.begin() as session:
        users.set_active(session, user.id, False, actor=admin.actor)
    for name in ("gone.soon", "never.existed"):
        with pytest.raises(LoginFailed) as failed:
            login(sessions, name, PASSWORD)
        assert str(failed.value) == "That username and password do not match an active account."


def test_the_last_admin_cannot_be_removed(sessions: Sessions) -> None:
    admin = make_user(sessions, "only.admin", "admin")
    with sessions.begin() as session, pytest.raises(InvalidInput, match="last active admin"):
        users.set_role(session, admin.id, "link_worker", actor=admin.actor)
    with sessions.begin() as session, pytest.raises(InvalidInput, match="last active admin"):
        users.set_active(session, admin.id, False, actor=admin.actor)
    second = make_user(sessions, "second.admin", "admin")
    with sessions.begin() as session:
        users.set_role(session, admin.id, "safeguarding_lead", actor=second.actor)
    with sessions.begin() as session:
        assert users.get_user(session, admin.id).role == "safeguarding_lead"


def test_a_role_change_ends_the_users_sessions(sessions: Sessions) -> None:
    user = make_user(sessions, "role.change", "link_worker")
    with sessions.begin() as session:
        token = staff_sessions.open_session(session, user.id)
        users.set_role(session, user.id, "safeguarding_lead", actor="user:1")
    with sessions.begin() as session:
        assert staff_sessions.resolve(session, token, SessionPolicy()) is None
        actions = [e.action for e in audit.events_for(session, "user", str(user.id))]
    assert actions == ["user.created", "user.role_changed"]


def test_sessions_end_after_idle_time_and_lifetime(sessions: Sessions) -> None:
    user = make_user(sessions, "idle.user", "link_worker")
    policy = SessionPolicy(idle=timedelta(minutes=30), lifetime=timedelta(hours=2))
    with sessions.begin() as session:
        token = staff_sessions.open_session(session, user.id, now=MONDAY_10AM)
        stored = session.scalars(select(StaffSessionRow.token_hash)).all()
    assert stored == [staff_sessions.token_hash(token)]  # the token itself is never stored
    at = MONDAY_10AM
    for _ in range(4):  # active every 29 minutes: kept alive
        at += timedelta(minutes=29)
        with sessions.begin() as session:
            assert staff_sessions.resolve(session, token, policy, now=at) is not None
    with sessions.begin() as session:  # but never past its lifetime
        assert (
            staff_sessions.resolve(
                session, token, policy, now=MONDAY_10AM + timedelta(hours=2, minutes=1)
            )
            is None
        )
    with sessions.begin() as session:
        other = staff_sessions.open_session(session, user.id, now=MONDAY_10AM)
    with sessions.begin() as session:
        assert (
            staff_sessions.resolve(session, other, policy, now=MONDAY_10AM + timedelta(minutes=31))
            is None
        )
        assert session.scalars(select(StaffSessionRow)).all() == []


def test_ensure_admin_creates_the_first_admin_once(sessions: Sessions) -> None:
    with sessions.begin() as session:
        created = users.ensure_admin(session)
    assert created is not None
    admin, password = created
    assert (admin.username, admin.role, admin.must_change_password) == ("admin", "admin", True)
    assert login(sessions, "admin", password).id == admin.id
    with sessions.begin() as session:
        assert users.ensure_admin(session) is None


def test_the_cli_commands(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert commands.ensure_admin(settings) == 0
    first = capsys.readouterr().out
    assert "admin" in first and "one-time password" in first
    assert commands.ensure_admin(settings) == 0
    assert "already" in capsys.readouterr().out
    assert commands.add_user(settings, "lena.lead", "safeguarding_lead") == 0
    assert "lena.lead" in capsys.readouterr().out
    assert commands.add_user(settings, "lena.lead", "safeguarding_lead") == 1
    assert "taken" in capsys.readouterr().err
    assert commands.verify_audit(settings) == 0
    report = capsys.readouterr().out
    assert "2 rows" in report and "intact" in report
