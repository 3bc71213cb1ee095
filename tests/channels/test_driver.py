"""The short path's statements on the SQLite driver write and read exactly what SQLAlchemy
does, and fail as SQLAlchemy does."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from channels import inbox, outbox
from channels.conversations import (
    conversation_id_for,
    create_conversation,
    read_conversation,
    set_offered,
    touch_conversation,
)
from channels.database import Core
from channels.driver import DriverConnection, DriverResult
from channels.messages import Button, InboundMessage, Outbound
from channels.tables import FAILED, REPLY, SENT, ConversationRow
from channels.turn_state import read_answer_state, read_arrival
from tests.support.db import fresh_settings, sqlite_url_in
from youthlink.crypto import Cipher
from youthlink.db import make_engine
from youthlink.migrations import upgrade

pytestmark = pytest.mark.unit

START = datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)
ADDRESS = "+447700900123"


@pytest.fixture
def cipher() -> Cipher:
    settings = fresh_settings("sqlite://")
    return Cipher.from_keys(settings.encryption_keys, settings.hash_key)


def migrated(directory: Path) -> Engine:
    directory.mkdir()
    url = sqlite_url_in(directory)
    upgrade(url)
    return make_engine(url)


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    pair = migrated(tmp_path / "core"), migrated(tmp_path / "driver")
    yield pair
    for engine in pair:
        engine.dispose()


def in_transaction(engine: Engine, driver: bool, fn: Callable[[Core], Any]) -> Any:
    with engine.connect() as connection, connection.begin():
        return fn(DriverConnection(connection) if driver else connection)


def conversation_turns(cipher: Cipher) -> Callable[[Core], list[Any]]:
    """Two turns of a conversation as the short path runs them; what each step read back."""

    def run(db: Core) -> list[Any]:
        seen: list[Any] = []
        conversation_id = conversation_id_for(cipher, "local", ADDRESS)
        first = InboundMessage("local", ADDRESS, "m1", "hiya 👋 can u help")
        seen.append(read_arrival(db, first, conversation_id))
        create_conversation(db, cipher, "local", ADDRESS, START)
        screened = inbox.Screened(severity=1, categories=("low_mood",), rule_ids=("r1",),
                                  ruleset_version="v3")  # fmt: skip
        item = inbox.store_claimed(
            db, cipher, first, conversation_id, screened, START, START + timedelta(minutes=2)
        )
        seen.append(read_answer_state(db, conversation_id, item.id))
        queued = [
            outbox.enqueue(db, cipher, conversation_id=conversation_id, channel="local",
                           outbound=Outbound({"text": body}), kind=REPLY, in_reply_to=item.id,
                           now=START, status=status, error=error)
            for body, status, error in (("Hi!", SENT, None), ("Ages?", FAILED, "opted_out"))
        ]  # fmt: skip
        seen.append(queued)
        set_offered(db, conversation_id, (Button("Yes", "/affirm"), Button("No", "/deny")))
        inbox.mark_done(db, item.id, START + timedelta(seconds=1))

        later = START + timedelta(days=1, microseconds=7)
        second = InboundMessage("local", ADDRESS, "m2", "football n drawing")
        seen.append(read_arrival(db, second, conversation_id))
        seen.append(read_arrival(db, first, conversation_id))  # a repeat
        seen.append(inbox.recent_texts(db, cipher, conversation_id, None))
        touch_conversation(db, conversation_id, later)
        item2 = inbox.store_claimed(db, cipher, second, conversation_id, screened, later, later)
        seen.append(read_arrival(db, second, conversation_id))
        seen.append(inbox.recent_texts(db, cipher, conversation_id, item2.id))
        seen.append(read_answer_state(db, conversation_id, item.id))
        seen.append(read_conversation(db, conversation_id))
        db.execute(
            update(ConversationRow)
            .where(ConversationRow.conversation_id == conversation_id)
            .values(opted_out=True, opted_out_at=later, opt_out_inbox_id=item2.id)
        )
        seen.append(read_conversation(db, conversation_id))
        return seen

    return run


def table_rows(engine: Engine, table: str) -> list[dict[str, Any]]:
    """Every stored value as SQLite holds it (no SQLAlchemy conversion)."""
    path = engine.url.database
    assert path is not None
    raw = sqlite3.connect(path)
    raw.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in raw.execute(f"SELECT * FROM {table} ORDER BY 1")]
    finally:
        raw.close()


def test_the_driver_writes_and_reads_what_sqlalchemy_does(
    engines: tuple[Engine, Engine], cipher: Cipher
) -> None:
    core_engine, driver_engine = engines
    through_core = in_transaction(core_engine, False, conversation_turns(cipher))
    on_driver = in_transaction(driver_engine, True, conversation_turns(cipher))
    # repr, not ==: True == 1, and a time read back as text would compare unequal only sometimes.
    assert repr(on_driver) == repr(through_core)
    stopped = on_driver[-1]
    assert stopped.opted_out is True and stopped.paused is False
    assert stopped.opted_out_at == datetime(2026, 3, 15, 15, 9, 26, 535904)
    assert through_core[3].waiting is False and through_core[4].stored.inbox_id == 1
    assert through_core[5] == ["hiya 👋 can u help"]

    for table in ("conversations", "inbox", "outbox"):
        core_rows, driver_rows = table_rows(core_engine, table), table_rows(driver_engine, table)
        assert len(driver_rows) == len(core_rows) > 0
        for core_row, driver_row in zip(core_rows, driver_rows, strict=True):
            assert driver_row.keys() == core_row.keys()
            for column, value in core_row.items():
                if column.endswith("_encrypted"):  # a fresh IV each time: compare the plaintext
                    assert cipher.decrypt(driver_row[column]) == cipher.decrypt(value)
                else:
                    assert driver_row[column] == value, (table, column)
    # Times are stored in SQLAlchemy's own format, which every other reader parses.
    assert table_rows(driver_engine, "conversations")[0]["last_seen_at"] == (
        "2026-03-15 15:09:26.535904"
    )


def test_the_driver_runs_only_registered_statements_itself(engines: tuple[Engine, Engine]) -> None:
    engine = engines[0]
    with engine.connect() as connection:
        driver = DriverConnection(connection)
        plain = driver.execute(select(text("41 + 1")))
        assert not isinstance(plain, DriverResult) and plain.scalar_one() == 42
        conversation_id = "c_missing"
        assert isinstance(driver.execute(_read_statement(), {"conversation": conversation_id}),
                          DriverResult)  # fmt: skip
        assert read_conversation(driver, conversation_id) is None


def _read_statement() -> Any:
    from channels.conversations import _READ

    return _READ


def test_a_locked_database_raises_sqlalchemys_error_without_the_values(
    engines: tuple[Engine, Engine], cipher: Cipher
) -> None:
    engine = engines[0]
    path = engine.url.database
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds SQLite's write lock
    try:
        with engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA busy_timeout=10")
            with pytest.raises(OperationalError) as caught, connection.begin():
                create_conversation(connection, cipher, "local", ADDRESS, START)  # plain path
            assert "locked" in str(caught.value.orig)
            with pytest.raises(OperationalError) as caught, connection.begin():
                touch_conversation(DriverConnection(connection), "c_secret_id", START)
            assert "locked" in str(caught.value.orig)
            assert "c_secret_id" not in str(caught.value)
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_results_read_as_sqlalchemys_do(engines: tuple[Engine, Engine]) -> None:
    result = DriverResult([(1, "a"), (2, "b")], -1)
    assert result.first() == (1, "a") and result.scalar() == 1
    assert result.scalars().all() == [1, 2] and list(result) == [(1, "a"), (2, "b")]
    with pytest.raises(ValueError, match="expected one row"):
        result.one()
    empty = DriverResult([], 0)
    assert empty.first() is None and empty.scalar() is None
    assert DriverResult([(7,)], 1).scalar_one() == 7


def test_a_plain_connection_still_works_for_the_same_functions(
    engines: tuple[Engine, Engine], cipher: Cipher
) -> None:
    # The fallback in a worker thread hands the short path a plain connection.
    def run(connection: Connection) -> Any:
        return conversation_turns(cipher)(connection)

    assert in_transaction(engines[0], False, run)[-1].offered == (
        Button("Yes", "/affirm"),
        Button("No", "/deny"),
    )
