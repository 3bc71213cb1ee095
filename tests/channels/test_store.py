"""The gateway tables: migration, conversation ids, address lookup, claim ordering."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

import channels.tables  # noqa: F401  (registers the tables)
from channels import inbox
from channels.conversations import conversation_id_for, lookup_address
from channels.database import utcnow
from channels.messages import InboundMessage
from channels.tables import InboxRow
from youthlink.crypto import Cipher, new_key
from youthlink.db import Base, make_engine, make_sessionmaker


def store(
    sessions: sessionmaker[Session], cipher: Cipher, address: str, text: str, mid: str
) -> int:
    with sessions.begin() as session:
        stored = inbox.store_inbound(
            session, cipher, InboundMessage("local", address, mid, text), utcnow()
        )
        row = session.get(InboxRow, stored.inbox_id)
        assert row is not None
        row.screened = True
        return stored.inbox_id


def claim(sessions: sessionmaker[Session]) -> int | None:
    with sessions.begin() as session:
        return inbox.claim_next(session, utcnow(), timedelta(minutes=2))


def test_migrations_create_the_gateway_tables_as_modelled(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {"conversations", "inbox", "outbox", "referrals", "escalations"} <= tables
    gateway_tables = {"conversations", "inbox", "outbox"}

    def ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in gateway_tables

    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": ours}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_conversation_ids_are_opaque_and_addresses_come_back(
    sessions: sessionmaker[Session], cipher: Cipher
) -> None:
    inbox_id = store(sessions, cipher, "+447700900123", "hi", "m1")
    with sessions.begin() as session:
        row = session.get(InboxRow, inbox_id)
        assert row is not None
        conversation_id = row.conversation_id
        assert conversation_id == conversation_id_for(cipher, "local", "+447700900123")
        assert "447700900123" not in conversation_id
        assert lookup_address(session, cipher, conversation_id) == ("local", "+447700900123")
        assert lookup_address(session, cipher, "c_unknown") is None
    other = Cipher.from_keys([new_key()], "another deployment's hash key")
    assert conversation_id_for(other, "local", "+447700900123") != conversation_id


def test_claims_keep_each_conversation_in_order(
    sessions: sessionmaker[Session], cipher: Cipher
) -> None:
    x1 = store(sessions, cipher, "x", "x1", "x1")
    x2 = store(sessions, cipher, "x", "x2", "x2")
    y1 = store(sessions, cipher, "y", "y1", "y1")
    assert claim(sessions) == x1
    assert claim(sessions) == y1  # x2 waits for x1
    assert claim(sessions) is None
    with sessions.begin() as session:
        inbox.defer(session, x1, 1, utcnow() + timedelta(minutes=5))
    assert claim(sessions) is None  # x1 deferred: x2 still waits, x1 not due
    with sessions.begin() as session:
        inbox.defer(session, x1, 1, utcnow())
    assert claim(sessions) == x1
    with sessions.begin() as session:
        inbox.mark_done(session, x1, utcnow())
    assert claim(sessions) == x2


def test_expired_claims_are_taken_again(sessions: sessionmaker[Session], cipher: Cipher) -> None:
    x1 = store(sessions, cipher, "x", "x1", "x1")
    with sessions.begin() as session:
        assert inbox.claim_next(session, utcnow(), timedelta(seconds=-1)) == x1
    assert claim(sessions) == x1


@pytest.mark.integration
def test_postgres_skip_locked_claims_other_conversations_meanwhile(pg_url: str) -> None:
    cipher = Cipher.from_keys([new_key()], "hash key")
    engine = make_engine(pg_url)
    sessions = make_sessionmaker(engine)
    try:
        x1 = store(sessions, cipher, "x", "x1", "x1")
        store(sessions, cipher, "x", "x2", "x2")
        y1 = store(sessions, cipher, "y", "y1", "y1")
        holding = sessions()
        holding.begin()
        # First claimer has not committed yet: its row stays locked.
        assert inbox.claim_next(holding, utcnow(), timedelta(minutes=2)) == x1
        result: list[int | None] = []
        thread = threading.Thread(target=lambda: result.append(claim(sessions)))
        thread.start()
        thread.join(timeout=10)
        assert not thread.is_alive(), "a concurrent claim blocked instead of skipping"
        assert result == [y1]  # not x1 (locked) and not x2 (behind x1)
        assert claim(sessions) is None
        holding.commit()
        holding.close()
        with sessions() as session:
            statuses = dict(session.execute(select(InboxRow.id, InboxRow.status)).all())
        assert statuses[x1] == statuses[y1] == "processing"
    finally:
        engine.dispose()
