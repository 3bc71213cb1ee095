"""Rasa tracker store that keeps every conversation event encrypted at rest.

Loaded by Rasa from `endpoints.yml` (`type: bot.tracker_store.EncryptedTrackerStore`). It
behaves like Rasa's `SQLTrackerStore` (same session handling, append-only writes) but each event
is stored as a MultiFernet token and the sender id only as a keyed hash. Maintenance commands:
`python -m bot.tracker_store rotate|purge --before ISO_DATE|delete SENDER`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fnmatch
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SerializedTrackerAsText, TrackerStore, create_engine_kwargs
from rasa.shared.core.constants import (
    DEFAULT_ACTION_NAMES,
    DEFAULT_INTENTS,
    REQUESTED_SLOT,
    SESSION_START_METADATA_SLOT,
)
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, ProgrammingError

from bot.event_cache import EventCache, deserialise_event, token_key
from youthlink.crypto import Cipher
from youthlink.errors import ConfigurationError, DecryptionError

logger = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///var/tracker.db"
DEFAULT_CACHE_CONVERSATIONS = 256
SENDER_HASH_PURPOSE = "rasa-tracker"

# Names Rasa itself defines: they say nothing about what a young person wrote.
BUILTIN_CLEAR_NAMES = frozenset(
    [*DEFAULT_ACTION_NAMES, *DEFAULT_INTENTS, REQUESTED_SLOT, SESSION_START_METADATA_SLOT]
)

metadata = sa.MetaData()

conversations = sa.Table(
    "tracker_conversations",
    metadata,
    sa.Column("sender_key", sa.String(64), primary_key=True),
    sa.Column("sender_encrypted", sa.LargeBinary, nullable=True),
    sa.Column("last_event_at", sa.Float, nullable=False),
    # Set by an erasure: events stamped at or before it are never stored again.
    sa.Column("erased_at", sa.Float, nullable=True),
    sa.Index("ix_tracker_conversations_last_event_at", "last_event_at"),
)

events = sa.Table(
    "tracker_events",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("sender_key", sa.String(64), nullable=False),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data_encrypted", sa.LargeBinary, nullable=False),
    sa.Index("ix_tracker_events_sender_key_id", "sender_key", "id"),
)

Progress = Callable[[int, int], None]

# The statements run every turn, built once (building them cost more than running them).
_KEY = sa.bindparam("key", type_=sa.String(64))
_SESSION_START = (
    sa.select(sa.func.max(events.c.timestamp))
    .where(events.c.sender_key == _KEY, events.c.type_name == SessionStarted.type_name)
    .scalar_subquery()
)
_IN_LATEST_SESSION = sa.or_(events.c.timestamp >= _SESSION_START, _SESSION_START.is_(None))


def _event_query(all_sessions: bool, *columns: Any) -> Any:
    """Events of one conversation (`key`) in insertion order, like Rasa's SQL store's.

    Without `all_sessions`, only events stamped at or after the latest `SessionStarted`
    (or all events if there is none).
    """
    query = sa.select(*columns).where(events.c.sender_key == _KEY)
    if not all_sessions:
        query = query.where(_IN_LATEST_SESSION)
    return query.order_by(events.c.id)


_TOKENS = {flag: _event_query(flag, events.c.data_encrypted) for flag in (False, True)}
# The latest session's start and how many of its events are stored, in one round trip.
_STORED = sa.select(
    _SESSION_START,
    sa.select(sa.func.count(events.c.id))
    .where(events.c.sender_key == _KEY, _IN_LATEST_SESSION)
    .scalar_subquery(),
)
_LOCK = (
    conversations.update()
    .where(conversations.c.sender_key == _KEY)
    .values(last_event_at=conversations.c.last_event_at)
)
_TOUCH = (
    conversations.update()
    .where(conversations.c.sender_key == _KEY)
    .values(last_event_at=sa.bindparam("newest", type_=sa.Float))
)
_TOUCH_AND_NAME = _TOUCH.values(sender_encrypted=sa.bindparam("sender", type_=sa.LargeBinary))
_CONVERSATION_STATE = sa.select(
    conversations.c.erased_at,
    conversations.c.last_event_at,
    conversations.c.sender_encrypted.is_not(None),
).where(conversations.c.sender_key == _KEY)


class TrackerStoreError(ConfigurationError):
    """The encrypted tracker store could not be set up."""


@dataclass(frozen=True)
class TrackerStoreSettings:
    """Where events go, the keys that protect them, and which names may stay readable."""

    url: str
    encryption_keys: tuple[str, ...]
    hash_key: str
    clear_names: tuple[str, ...] = ()

    @classmethod
    def resolve(
        cls,
        environ: Mapping[str, str],
        url: str | None = None,
        encryption_keys: str | Sequence[str] | None = None,
        hash_key: str | None = None,
        clear_names: Sequence[str] | None = None,
    ) -> TrackerStoreSettings:
        """Explicit values (from `endpoints.yml`) win; anything missing comes from `environ`."""
        keys = encryption_keys
        if keys is None:
            keys = environ.get("YOUTHLINK_ENCRYPTION_KEYS", "")
        if isinstance(keys, str):
            keys = keys.split(",")
        if isinstance(clear_names, str):
            clear_names = [clear_names]
        return cls(
            url=(url or environ.get("YOUTHLINK_TRACKER_DB_URL", "").strip() or DEFAULT_URL),
            encryption_keys=tuple(k.strip() for k in keys if k and k.strip()),
            hash_key=(
                hash_key if hash_key is not None else environ.get("YOUTHLINK_HASH_KEY", "")
            ).strip(),
            clear_names=tuple(clear_names or ()),
        )


@dataclass(frozen=True)
class NamePolicy:
    """Decides which intent/action/slot names are also stored in clear columns for analytics.

    Intent names classify what the young person said (a topic intent can reveal a disclosure),
    so only Rasa's own names and names the deployment lists (shell patterns) stay readable.
    """

    patterns: tuple[str, ...] = ()

    def clear(self, name: str | None) -> str | None:
        """The name if it may be stored readable, else None."""
        if not name:
            return None
        if name in BUILTIN_CLEAR_NAMES:
            return name
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns):
            return name
        return None


def make_engine(url: str) -> Engine:
    """An engine for `url`: a SQLite file (folder created, WAL, secure delete) or PostgreSQL.

    Bound values are kept out of error messages, which Rasa logs.
    """
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(
            url, pool_pre_ping=True, hide_parameters=True, **create_engine_kwargs(url)
        )
    database = parsed.database or ""
    if database in ("", ":memory:") or "mode=memory" in url:
        raise TrackerStoreError(
            "an in-memory SQLite tracker database would lose every conversation on restart;"
            " give a file, e.g. sqlite:///var/tracker.db"
        )
    if not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # A small pool of connections shared by the worker threads (each used by one thread at a
    # time): opening a connection per save, as SQLAlchemy 1.4's default NullPool does, doubled
    # the latency of a turn under load.
    engine = sa.create_engine(
        url,
        hide_parameters=True,
        poolclass=sa.pool.QueuePool,
        pool_size=4,
        max_overflow=4,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @sa_event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        # With WAL, NORMAL is durable against application crashes and never corrupts the file;
        # only a power cut can lose the last few commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Overwrite deleted rows, so an erased conversation leaves no tokens in free pages.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    return engine


def _names_of(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Intent and action (or slot/loop) name of an event, read as Rasa's SQL store does."""
    parse_data = data.get("parse_data") or {}
    intent = (parse_data.get("intent") or {}).get("name")
    action = data.get("name")
    return (
        intent if isinstance(intent, str) else None,
        action if isinstance(action, str) else None,
    )


def first_unstored(
    tracker_events: Sequence[Event], session_start: float | None, stored: int
) -> int:
    """Index of the first of `tracker_events` not stored yet.

    `stored` events are stored since the latest `SessionStarted` (stamped `session_start`).
    For a tracker loaded with `retrieve` (how Rasa works) this is `stored`, exactly as in
    Rasa's SQL store. If the tracker also holds earlier sessions (loaded with
    `retrieve_full_tracker`, or saved again after a new session began in it), counting starts
    at that `SessionStarted` instead, so earlier sessions are not written twice.
    """
    if session_start is None:
        return stored
    for index in range(len(tracker_events) - 1, -1, -1):
        event = tracker_events[index]
        if isinstance(event, SessionStarted) and event.timestamp == session_start:
            start = index
            # Events just before it stamped no earlier are among the stored ones too.
            while start > 0 and _stamped_at_or_after(tracker_events[start - 1], session_start):
                start -= 1
            return start + stored
    return stored


def _stamped_at_or_after(event: Event, moment: float) -> bool:
    return event.timestamp is not None and event.timestamp >= moment


class EncryptedTrackerStore(TrackerStore, SerializedTrackerAsText):
    """Stores Rasa conversation events encrypted (MultiFernet) in SQLite or PostgreSQL.

    Rows: a keyed hash of the sender id, the event type and timestamp (needed to find the latest
    session and to purge), allow-listed names, and the whole event JSON encrypted.
    """

    def __init__(
        self,
        domain: Any = None,
        host: str | None = None,
        event_broker: Any = None,
        *,
        encryption_keys: str | Sequence[str] | None = None,
        hash_key: str | None = None,
        clear_names: Sequence[str] | None = None,
        connect_attempts: int = 5,
        retry_delay: float = 2.0,
        cache_conversations: int = DEFAULT_CACHE_CONVERSATIONS,
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Configure from explicit kwargs (`endpoints.yml`; `url:` arrives as `host`) or the env.

        This is the entry point: the environment is read here, once.
        """
        unknown = sorted(kwargs)
        if unknown:
            raise TrackerStoreError(
                f"unknown tracker store options in endpoints.yml: {', '.join(unknown)}"
            )
        settings = TrackerStoreSettings.resolve(
            os.environ if environ is None else environ,
            url=host,
            encryption_keys=encryption_keys,
            hash_key=hash_key,
            clear_names=clear_names,
        )
        self.cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
        self._current = Cipher.from_keys(settings.encryption_keys[:1], settings.hash_key)
        self.names = NamePolicy(settings.clear_names)
        self.cache = EventCache(cache_conversations)
        try:
            self.engine = make_engine(settings.url)
        except (ImportError, AttributeError, ArgumentError) as exc:
            # Rasa silently falls back to an in-memory store on ImportError/AttributeError:
            # conversations would vanish on restart, so fail loudly instead.
            raise TrackerStoreError(
                f"cannot open the tracker database ({type(exc).__name__}: {exc})"
            ) from exc
        self._create_tables(max(1, connect_attempts), retry_delay)
        self._write_lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if self.engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )
        super().__init__(domain, event_broker)

    def _create_tables(self, attempts: int, delay: float) -> None:
        for attempt in range(1, attempts + 1):
            try:
                metadata.create_all(self.engine)
                return
            except (OperationalError, IntegrityError, ProgrammingError) as exc:
                # Several Rasa processes may create the tables at once, or the database may
                # still be starting.
                if attempt == attempts:
                    raise
                logger.warning(
                    "tracker database not ready (attempt %d of %d): %s",
                    attempt,
                    attempts,
                    type(exc).__name__,
                )
                time.sleep(delay)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction. On SQLite, this process's writers queue here for the file's one
        write lock: SQLite's own waiting polls with growing sleeps (up to 100 ms each), so a save
        that found another one writing could wait far longer than that write took.
        """
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    def sender_key(self, sender_id: str) -> str:
        """The keyed hash that stands for `sender_id` in the database."""
        return self.cipher.lookup_hash(SENDER_HASH_PURPOSE, sender_id)

    # --- Rasa's TrackerStore API -------------------------------------------------------------

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the tracker's events that are not stored yet, in one transaction."""
        await self.stream_events(tracker)
        added = await asyncio.to_thread(self.save_events, tracker.sender_id, list(tracker.events))
        logger.debug("tracker saved: %d new events", added)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker with the events of the latest conversation session, or None."""
        return await asyncio.to_thread(self._retrieve, sender_id, False)

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        """The tracker with the events of all conversation sessions, or None."""
        return await asyncio.to_thread(self._retrieve, conversation_id, True)

    async def exists(self, conversation_id: str) -> bool:
        """Whether any event is stored for the conversation."""
        return await asyncio.to_thread(self._exists, conversation_id)

    async def keys(self) -> Iterable[str]:
        """The sender ids of every stored conversation."""
        return await asyncio.to_thread(self._keys)

    async def delete(self, sender_id: str) -> int:
        """Erase every stored event of the conversation; returns how many were deleted."""
        return await asyncio.to_thread(self.delete_conversation, sender_id)

    # --- synchronous core (runs in worker threads; each call uses its own connection) --------

    def _retrieve(self, sender_id: str, all_sessions: bool) -> DialogueStateTracker | None:
        key = self.sender_key(sender_id)
        with self.engine.connect() as conn:
            tokens = conn.execute(_TOKENS[all_sessions], {"key": key}).scalars().all()
        if not tokens:
            self.cache.drop([key])
            return None
        cached, parsed = self.cache.get(key), self.cache.parsed(key)
        texts: dict[bytes, str] = {}
        read: dict[bytes, Event] = {}
        found: list[Event] = []
        for token in tokens:
            tag = token_key(token)
            text = cached.get(tag)
            texts[tag] = self._decrypt(token) if text is None else text
            event = parsed.get(tag)
            if event is None:
                event = deserialise_event(json.loads(texts[tag]))
                if event is None:
                    continue  # dropped, as Rasa drops it
            read[tag] = event
            found.append(event)
        self.cache.put(key, texts, read)
        return DialogueStateTracker.from_events(sender_id, found, self.domain.slots)

    def save_events(self, sender_id: str, tracker_events: Sequence[Event]) -> int:
        """Store the events not yet stored for `sender_id`; returns how many were added.

        Like Rasa's SQL store, the stored events of the latest session are a prefix of the
        tracker's events. The conversation row is written first so concurrent saves of one
        conversation queue behind each other (row lock in PostgreSQL, write lock in SQLite).
        """
        if not tracker_events:
            return 0
        key = self.sender_key(sender_id)
        for attempt in range(3):
            try:
                with self._writing() as conn:
                    added, erased = self._append(conn, key, sender_id, tracker_events)
            except IntegrityError:
                # Another process created the conversation row first; now it exists.
                if attempt == 2:
                    raise
                continue
            # Only once committed: what the next turn reads back needs no decrypting.
            if erased:
                # Erased during this turn (DELETE, by the action server): what this process
                # still holds of the conversation goes now, not at its next message.
                self.cache.put(key, added)
            else:
                self.cache.add(key, added)
            return len(added)
        return 0  # pragma: no cover

    def _append(
        self, conn: Connection, key: str, sender_id: str, tracker_events: Sequence[Event]
    ) -> tuple[dict[bytes, str], bool]:
        """Insert the events not stored yet: their texts by `token_key` of their tokens, and
        whether any were left out because the conversation was erased after them."""
        row = self._lock_conversation(conn, key)
        if row is None:
            conn.execute(
                conversations.insert().values(
                    sender_key=key,
                    sender_encrypted=self.cipher.encrypt(sender_id),
                    last_event_at=0.0,
                    erased_at=None,
                )
            )
            erased_at, last_event_at, has_sender = None, 0.0, True
        else:
            erased_at, last_event_at, has_sender = row
        session_start, stored = conn.execute(_STORED, {"key": key}).one()
        rows = []
        added: dict[bytes, str] = {}
        erased = False
        for event in tracker_events[first_unstored(tracker_events, session_start, stored) :]:
            data = event.as_dict()
            timestamp = data.get("timestamp")
            if erased_at is not None and (timestamp is None or timestamp <= erased_at):
                erased = True
                continue
            intent, action = _names_of(data)
            text = json.dumps(data)
            token = self.cipher.encrypt(text)
            assert token is not None
            added[token_key(token)] = text
            rows.append(
                {
                    "sender_key": key,
                    "type_name": event.type_name,
                    "timestamp": timestamp,
                    "intent_name": self.names.clear(intent),
                    "action_name": self.names.clear(action),
                    "data_encrypted": token,
                }
            )
        if rows:
            conn.execute(events.insert(), rows)
            newest = max((r["timestamp"] for r in rows if r["timestamp"] is not None), default=None)
            touched = {"key": key, "newest": max(last_event_at, newest or time.time())}
            if has_sender:
                conn.execute(_TOUCH, touched)
            else:
                conn.execute(_TOUCH_AND_NAME, {**touched, "sender": self.cipher.encrypt(sender_id)})
        return added, erased

    @staticmethod
    def _lock_conversation(conn: Connection, key: str) -> tuple[float | None, float, bool] | None:
        """Take the conversation's write lock; its (erased_at, last_event_at, has_sender)."""
        if not conn.execute(_LOCK, {"key": key}).rowcount:
            return None
        row = conn.execute(_CONVERSATION_STATE, {"key": key}).one()
        return row[0], row[1], bool(row[2])

    def _exists(self, sender_id: str) -> bool:
        key = self.sender_key(sender_id)
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(events.c.id).where(events.c.sender_key == key).limit(1)
            ).first()
        return found is not None

    def _keys(self) -> list[str]:
        has_events = sa.exists().where(events.c.sender_key == conversations.c.sender_key)
        with self.engine.connect() as conn:
            tokens = conn.execute(
                sa.select(conversations.c.sender_encrypted).where(
                    conversations.c.sender_encrypted.is_not(None), has_events
                )
            ).scalars()
            return [self._decrypt(token) for token in tokens]

    def delete_conversation(self, sender_id: str, now: float | None = None) -> int:
        """Erase the conversation's events and sender id; returns how many events were deleted.

        A tombstone (the keyed hash and the erasure time) stays, so a save of a tracker that
        was loaded before the erasure (e.g. the rest of the turn that asked for it) cannot
        write the erased events back. Purge removes tombstones like any old conversation.
        """
        key = self.sender_key(sender_id)
        erased_at = time.time() if now is None else now
        tombstone = {"sender_encrypted": None, "erased_at": erased_at, "last_event_at": erased_at}
        for attempt in range(3):
            try:
                with self._writing() as conn:
                    updated = conn.execute(
                        conversations.update()
                        .where(conversations.c.sender_key == key)
                        .values(**tombstone)
                    ).rowcount
                    if not updated:
                        conn.execute(conversations.insert().values(sender_key=key, **tombstone))
                    deleted = conn.execute(
                        events.delete().where(events.c.sender_key == key)
                    ).rowcount
                self.cache.drop([key])
                logger.info("tracker conversation erased: %d events deleted", deleted)
                return int(deleted)
            except IntegrityError:
                if attempt == 2:
                    raise
        return 0  # pragma: no cover

    def purge(self, before: datetime, batch_size: int = 500) -> int:
        """Delete conversations whose last event is older than `before`; returns events deleted.

        A naive `before` is taken as UTC.
        """
        if before.tzinfo is None:
            before = before.replace(tzinfo=timezone.utc)
        cutoff = before.timestamp()
        deleted_events = purged = 0
        while True:
            with self.engine.connect() as conn:
                keys = list(
                    conn.execute(
                        sa.select(conversations.c.sender_key)
                        .where(conversations.c.last_event_at < cutoff)
                        .order_by(conversations.c.sender_key)
                        .limit(batch_size)
                    ).scalars()
                )
            if not keys:
                break
            for key in keys:
                with self._writing() as conn:
                    # Re-checked under the row's lock: a conversation that just got a new
                    # event is kept.
                    gone = conn.execute(
                        conversations.delete().where(
                            conversations.c.sender_key == key,
                            conversations.c.last_event_at < cutoff,
                        )
                    ).rowcount
                    if gone:
                        purged += 1
                        deleted_events += conn.execute(
                            events.delete().where(events.c.sender_key == key)
                        ).rowcount
                self.cache.drop([key])
        logger.info("tracker purge: %d conversations, %d events deleted", purged, deleted_events)
        return deleted_events

    def rotate(self, batch_size: int = 500, progress: Progress | None = None) -> int:
        """Re-encrypt every stored value not yet under the first key; returns how many.

        Works in batches, each in its own transaction, so it can be stopped and run again:
        values already under the first key are skipped. `progress(checked, total)` is called
        after each batch.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
            total += conn.execute(
                sa.select(sa.func.count())
                .select_from(conversations)
                .where(conversations.c.sender_encrypted.is_not(None))
            ).scalar_one()
        checked = rotated = 0
        for table, id_column, column in (
            (events, events.c.id, events.c.data_encrypted),
            (conversations, conversations.c.sender_key, conversations.c.sender_encrypted),
        ):
            last: Any = None
            while True:
                query = sa.select(id_column, column).where(column.is_not(None))
                if last is not None:
                    query = query.where(id_column > last)
                with self.engine.connect() as conn:
                    batch = conn.execute(query.order_by(id_column).limit(batch_size)).all()
                if not batch:
                    break
                changes = [
                    {"row_id": row_id, "token": self._rotate(token, table.name)}
                    for row_id, token in batch
                    if not self._is_current(token)
                ]
                if changes:
                    with self._writing() as conn:
                        conn.execute(
                            table.update()
                            .where(id_column == sa.bindparam("row_id"))
                            .values({column.name: sa.bindparam("token")}),
                            changes,
                        )
                last = batch[-1][0]
                checked += len(batch)
                rotated += len(changes)
                if progress is not None:
                    progress(checked, total)
        logger.info("tracker rotation: %d of %d values re-encrypted", rotated, checked)
        return rotated

    def _decrypt(self, token: bytes) -> str:
        text = self.cipher.decrypt(token)
        assert text is not None
        return text

    def _is_current(self, token: bytes) -> bool:
        try:
            self._current.decrypt(token)
        except DecryptionError:
            return False
        return True

    def _rotate(self, token: bytes, table_name: str) -> bytes:
        try:
            return self.cipher.rotate(token)
        except DecryptionError as exc:
            raise DecryptionError(
                f"a value in {table_name} cannot be decrypted with any configured key"
            ) from exc


# --- command line -----------------------------------------------------------------------------


def _parse_before(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date: {value!r}") from exc


def _print_progress(checked: int, total: int) -> None:
    print(f"checked {checked} of {total}", file=sys.stderr)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """`python -m bot.tracker_store rotate|purge --before ISO_DATE|delete SENDER`."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.tracker_store",
        description="Maintain the encrypted Rasa tracker store (settings from YOUTHLINK_* env).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    rotate = commands.add_parser("rotate", help="re-encrypt everything under the first key")
    rotate.add_argument("--batch-size", type=int, default=500)
    purge = commands.add_parser("purge", help="delete conversations idle since before a date")
    purge.add_argument("--before", required=True, type=_parse_before, help="e.g. 2025-01-31")
    delete = commands.add_parser("delete", help="erase one conversation's events")
    delete.add_argument("sender", help="the conversation id (Rasa sender id)")
    args = parser.parse_args(argv)

    try:
        store = EncryptedTrackerStore(environ=os.environ if environ is None else environ)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "rotate":
            count = store.rotate(batch_size=args.batch_size, progress=_print_progress)
            print(f"re-encrypted {count} values")
        elif args.command == "purge":
            count = store.purge(args.before)
            print(f"purged {count} events")
        else:
            count = store.delete_conversation(args.sender)
            print(f"deleted {count} events")
    except DecryptionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
