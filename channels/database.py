"""Running short units of database work from async code without stalling the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TypeAlias, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from channels.driver import DriverConnection
from youthlink.db import SQLITE_BUSY_TIMEOUT_MS, make_sessionmaker

T = TypeVar("T")

# How long a unit of work run on the event loop may wait for another process's write to
# SQLite before it is run in a worker thread instead (where it waits as long as it must).
INLINE_BUSY_TIMEOUT_MS = 20
# How long it may wait (without blocking the event loop) for a worker thread of this process to
# finish its unit of work before it is run in a worker thread itself.
INLINE_LOCK_WAIT_SECONDS = 0.05

# What the statements built once (Core) run on: an ORM session, or a bare connection where a
# hot path has no use for the ORM's bookkeeping (on SQLite's event-loop path, one that runs the
# statements registered with `channels.driver` on the driver itself).
Core: TypeAlias = Connection | DriverConnection
Executor: TypeAlias = Session | Core


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A stored time as aware UTC (SQLite hands times back naive)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _set_busy_timeout(connection: Connection, milliseconds: int) -> None:
    raw = connection.connection.dbapi_connection
    assert raw is not None
    raw.execute(f"PRAGMA busy_timeout={milliseconds}")


class Database:
    """Runs one transaction per call in a worker thread.

    On SQLite every unit of work is serialised in this process: SQLite has one writer at a
    time, and queueing here is cheaper and clearer than lock-timeout retries.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._sessions = make_sessionmaker(engine)
        self._lock = threading.Lock() if self.is_sqlite else None
        # The event loop's own SQLite connection (`run_core_soon`), kept out of the pool with its
        # short busy wait: a pool checkout, a reset on return and two PRAGMAs each time cost
        # about a tenth of a short transaction.
        self._inline: DriverConnection | None = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        guard = self._lock if self._lock is not None else contextlib.nullcontext()
        with guard, self._sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A bare connection in a transaction (no ORM session), serialised as `transaction`."""
        guard = self._lock if self._lock is not None else contextlib.nullcontext()
        with guard, self.engine.begin() as connection:
            yield connection

    def call_core(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn(connection)` in one transaction without an ORM session (blocking)."""
        with self.connection() as connection:
            return fn(connection)

    async def run_core(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn(connection)` in one transaction in a worker thread."""
        return await asyncio.to_thread(self.call_core, fn)

    async def run_core_soon(self, fn: Callable[[Core], T]) -> T:
        """`run_core` for a short unit of work on a hot path.

        On SQLite a transaction of a few statements takes less time than handing it to a worker
        thread and back (two thread switches: a fifth of the gateway's CPU per message). So when
        nothing else in this process is using the database it runs at once, on the event loop,
        with SQLite's busy wait cut to a few milliseconds. While a worker thread of this process
        holds the database it waits without blocking the event loop, then runs; if that takes
        too long, or another process holds SQLite's write lock past the short busy wait (it is
        rolled back then), it runs in a worker thread as usual: the event loop never blocks on
        a lock. `fn` may therefore run twice, the first time rolled back. On the event loop `fn`
        gets a `DriverConnection`, elsewhere a plain `Connection`. On PostgreSQL (network round
        trips) it always runs in a worker thread.
        """
        if self._lock is None or not await self._acquire_soon():
            return await self.run_core(fn)
        try:
            driver = self._inline_connection()
            try:
                with driver.connection.begin():
                    return fn(driver)
            finally:
                if driver.connection.invalidated:
                    self._close_inline()
        except OperationalError as exc:
            if "locked" not in str(exc.orig):
                raise
        finally:
            self._lock.release()
        return await self.run_core(fn)

    def _inline_connection(self) -> DriverConnection:
        if self._inline is None:
            connection = self.engine.connect()
            _set_busy_timeout(connection, INLINE_BUSY_TIMEOUT_MS)
            self._inline = DriverConnection(connection)
        return self._inline

    def _close_inline(self) -> None:
        driver, self._inline = self._inline, None
        if driver is not None:
            connection = driver.connection
            if not connection.invalidated:
                # Back to the pool with the busy wait every other user of the pool expects.
                _set_busy_timeout(connection, SQLITE_BUSY_TIMEOUT_MS)
            connection.close()

    def close(self) -> None:
        """Give back the event loop's own connection (before the engine is disposed)."""
        if self._lock is None:
            return
        with self._lock:
            self._close_inline()

    async def _acquire_soon(self) -> bool:
        # This process's lock without blocking the event loop: polled every millisecond while a
        # worker thread holds it, for a while. Handing every unit that finds it taken to a thread
        # instead kept it taken by threads under load, and so sent nearly all of them there.
        assert self._lock is not None
        deadline = time.monotonic() + INLINE_LOCK_WAIT_SECONDS
        while not self._lock.acquire(blocking=False):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.001)
        return True

    def call(self, fn: Callable[[Session], T]) -> T:
        """Run `fn(session)` in one transaction (blocking)."""
        with self.transaction() as session:
            return fn(session)

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Run `fn(session)` in one transaction in a worker thread."""
        return await asyncio.to_thread(self.call, fn)
