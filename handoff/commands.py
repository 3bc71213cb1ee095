"""Administration commands for the `youthlink` CLI: add users, create the first admin, verify
the audit chain. Each takes the settings, prints for the operator and returns an exit status."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy.orm import Session

from handoff import audit, users
from handoff.errors import HandoffError
from youthlink.config import Settings
from youthlink.db import make_engine, make_sessionmaker

T = TypeVar("T")


@contextmanager
def _transaction(settings: Settings, *, migrate: bool) -> Iterator[Session]:
    if migrate:
        from youthlink.migrations import upgrade

        upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


def _run(settings: Settings, work: Callable[[Session], T], *, migrate: bool) -> T:
    with _transaction(settings, migrate=migrate) as session:
        return work(session)


def add_user(settings: Settings, username: str, role: str) -> int:
    """`youthlink users add USERNAME --role ROLE`: prints the one-time password once."""
    try:
        user, password = _run(
            settings,
            lambda s: users.create_user(s, username, role, actor=audit.SYSTEM),
            migrate=True,
        )
    except HandoffError as exc:
        print(f"could not add the user: {exc}", file=sys.stderr)
        return 1
    print(f"added {user.username} ({user.role_name})")
    print(f"one-time password (shown once; they choose their own at first sign-in): {password}")
    return 0


def ensure_admin(settings: Settings, username: str = "admin") -> int:
    """`youthlink users ensure-admin`: the first admin, only when there is no user at all."""
    created = _run(settings, lambda s: users.ensure_admin(s, username), migrate=True)
    if created is None:
        print("users exist already: nothing to do")
        return 0
    admin, password = created
    print(f"created the first admin: {admin.username}")
    print(f"one-time password (shown once; choose your own at first sign-in): {password}")
    return 0


def verify_audit(settings: Settings) -> int:
    """`youthlink audit verify`: 0 when the chain is intact, 1 with the first broken row."""
    result = _run(settings, audit.verify, migrate=False)
    if result.ok:
        print(f"audit log intact: {result.checked} rows; head hash {result.head_hash}")
        return 0
    print(
        f"audit log BROKEN at row {result.broken_id}: {result.reason} "
        f"({result.checked} rows before it check out)",
        file=sys.stderr,
    )
    return 1
