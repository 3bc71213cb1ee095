"""The encrypted tracker store: Rasa sees its usual trackers, the database sees only tokens."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import (
    InMemoryTrackerStore,
    SQLTrackerStore,
    TrackerStore,
)
from rasa.shared.core import events as rasa_events
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from bot.event_cache import deserialise_events
from bot.tracker_store import EncryptedTrackerStore, TrackerStoreError, first_unstored, main
from youthlink.crypto import new_key
from youthlink.errors import ConfigurationError, DecryptionError

pytestmark = pytest.mark.rasa

REPO = Path(__file__).resolve().parents[2]
HASH_KEY = "test-hash-key"
PHONE = "+447700900123"
NAME = "Zephyrine"
SENTINEL_TEXT = f"{PHONE} my name is {NAME}"
# Opaque like the gateway's conversation ids, but recognisable if it ever lands in the database.
SENDER = "conv-SENDERSENTINEL-0001"
KEY = new_key()
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc).timestamp()

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, affirm, share_concern, share_name]
slots:
  preferred_name:
    type: text
    influence_conversation: false
    mappings: [{type: custom}]
  concerns:
    type: list
    influence_conversation: false
    mappings: [{type: custom}]
forms:
  referral_form:
    required_slots: [preferred_name]
responses:
  utter_greet: [{text: "hi"}]
  utter_ask_interests: [{text: "what do you enjoy?"}]
actions: [action_submit_referral]
"""
)


# --- backends ---------------------------------------------------------------------------------


def _postgres_admin_url() -> str:
    return "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_available() -> str | None:
    """None if PostgreSQL answers on 127.0.0.1:5432, else why not."""
    try:
        engine = sa.create_engine(_postgres_admin_url(), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure means: not usable here
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.engine.Engine]:
    reason = _postgres_available()
    if reason is not None:
        message = f"PostgreSQL not reachable on 127.0.0.1:5432 ({reason})"
        if os.environ.get("YOUTHLINK_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    engine = sa.create_engine(_postgres_admin_url(), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'tracker.db'}"
        return
    admin: sa.engine.Engine = request.getfixturevalue("postgres_admin")
    name = f"yl_test_tracker_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


StoreFactory = Callable[..., EncryptedTrackerStore]


@pytest.fixture
def make_store(db_url: str) -> Iterator[StoreFactory]:
    """Opens stores on the test database; closes them all afterwards."""
    opened: list[EncryptedTrackerStore] = []
    default_keys = [new_key()]

    def factory(keys: list[str] | None = None, **kwargs: Any) -> EncryptedTrackerStore:
        store = EncryptedTrackerStore(
            domain=DOMAIN,
            host=db_url,
            encryption_keys=keys if keys is not None else default_keys,
            hash_key=HASH_KEY,
            environ={},
            **kwargs,
        )
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


# --- conversations ----------------------------------------------------------------------------


def first_session(t: float = T0) -> list[list[Event]]:
    """Turns of a first session; each inner list is saved in one go, as Rasa does per message."""
    return [
        [
            ActionExecuted(ACTION_SESSION_START_NAME, timestamp=t),
            SessionStarted(timestamp=t + 0.5),
            ActionExecuted(ACTION_LISTEN_NAME, timestamp=t + 1),
        ],
        [
            UserUttered(
                SENTINEL_TEXT,
                intent={"name": "share_name", "confidence": 0.91},
                entities=[{"entity": "name", "value": NAME, "start": 25, "end": 34}],
                timestamp=t + 2,
                input_channel="rest",
                metadata={"channel": "sms"},
            ),
            SlotSet("preferred_name", NAME, timestamp=t + 3),
            ActiveLoop("referral_form", timestamp=t + 4),
            ActionExecuted("utter_greet", policy="RulePolicy", confidence=1.0, timestamp=t + 5),
            BotUttered(
                f"Thanks {NAME}! What do you enjoy?",
                {"buttons": [{"title": "Sport", "payload": "/affirm"}]},
                {"utter_action": "utter_ask_interests"},
                timestamp=t + 6,
            ),
            ActionExecuted(ACTION_LISTEN_NAME, timestamp=t + 7),
        ],
        [
            UserUttered(
                "yeah football",
                intent={"name": "affirm", "confidence": 0.88},
                timestamp=t + 8,
            ),
            SlotSet("concerns", ["low_mood", "loneliness"], timestamp=t + 9),
            ActiveLoop(None, timestamp=t + 10),
            ActionExecuted("action_submit_referral", timestamp=t + 11),
            ActionExecuted(ACTION_LISTEN_NAME, timestamp=t + 12),
        ],
    ]


def second_session(t: float = T0 + 7200) -> list[list[Event]]:
    """A later session of the same conversation (Rasa starts one after the session expiry)."""
    return [
        [
            ActionExecuted(ACTION_SESSION_START_NAME, timestamp=t),
            SessionStarted(timestamp=t + 0.5),
            ActionExecuted(ACTION_LISTEN_NAME, timestamp=t + 1),
            UserUttered("hi again", intent={"name": "greet", "confidence": 0.99}, timestamp=t + 2),
            ActionExecuted("utter_greet", timestamp=t + 3),
            BotUttered("hi", timestamp=t + 4),
            ActionExecuted(ACTION_LISTEN_NAME, timestamp=t + 5),
        ]
    ]


async def play(store: TrackerStore, sender: str, turns: list[list[Event]]) -> None:
    """Like Rasa per message: load the latest session, add the turn's events, save."""
    for turn in turns:
        tracker = await store.retrieve(sender)
        if tracker is None:
            tracker = store.init_tracker(sender)
        for event in turn:
            tracker.update(event)
        await store.save(tracker)


def dump(tracker: DialogueStateTracker | None) -> dict[str, Any]:
    assert tracker is not None
    return {
        "sender": tracker.sender_id,
        "events": [event.as_dict() for event in tracker.events],
        "slots": tracker.current_slot_values(),
        "active_loop": tracker.active_loop_name,
        "latest_text": tracker.latest_message.text if tracker.latest_message else None,
    }


def raw_rows(store: EncryptedTrackerStore) -> list[bytes]:
    """Every stored value of both tables, as bytes."""
    out: list[bytes] = []
    with store.engine.connect() as conn:
        for table in ("tracker_events", "tracker_conversations"):
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                for value in row:
                    if isinstance(value, (bytes, bytearray, memoryview)):
                        out.append(bytes(value))
                    elif value is not None:
                        out.append(str(value).encode("utf-8"))
    return out


def event_rows(store: EncryptedTrackerStore) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                sa.text(
                    "SELECT id, type_name, intent_name, action_name, data_encrypted "
                    "FROM tracker_events ORDER BY id"
                )
            )
        ]


# --- Rasa sees what its own stores give ---------------------------------------------------------


async def test_round_trip_matches_rasas_in_memory_store(make_store: StoreFactory) -> None:
    store = make_store()
    reference = InMemoryTrackerStore(DOMAIN)
    for target in (store, reference):
        await play(target, SENDER, first_session())

    assert dump(await store.retrieve_full_tracker(SENDER)) == dump(
        await reference.retrieve_full_tracker(SENDER)
    )
    ours = dump(await store.retrieve(SENDER))
    theirs = dump(await reference.retrieve(SENDER))
    # Like Rasa's SQL store, the latest session starts at `session_started`; the in-memory
    # store also keeps the `action_session_start` just before it. Nothing else differs.
    assert theirs["events"][0]["name"] == ACTION_SESSION_START_NAME
    assert {**ours, "events": ours["events"]} == {**theirs, "events": theirs["events"][1:]}
    assert ours["slots"]["preferred_name"] == NAME
    assert ours["slots"]["concerns"] == ["low_mood", "loneliness"]
    assert ours["latest_text"] == "yeah football"
    assert await store.retrieve("someone-else") is None
    assert list(await store.keys()) == [SENDER]
    assert await store.exists(SENDER) and not await store.exists("someone-else")


async def test_sessions_behave_exactly_like_rasas_sql_store(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    store = make_store()
    sql = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa-sql.db"))
    in_memory = InMemoryTrackerStore(DOMAIN)
    for target in (store, sql, in_memory):
        await play(target, SENDER, first_session() + second_session())

    latest = dump(await store.retrieve(SENDER))
    assert latest == dump(await sql.retrieve(SENDER))
    assert latest["events"][0]["event"] == "session_started"
    assert all(e.get("text") != SENTINEL_TEXT for e in latest["events"])

    full = dump(await store.retrieve_full_tracker(SENDER))
    assert full == dump(await sql.retrieve_full_tracker(SENDER))
    assert full == dump(await in_memory.retrieve_full_tracker(SENDER))
    assert sum(e["event"] == "session_started" for e in full["events"]) == 2


async def test_writes_are_append_only_and_never_duplicate(make_store: StoreFactory) -> None:
    store = make_store()
    await play(store, SENDER, first_session())
    before = event_rows(store)
    full = await store.retrieve_full_tracker(SENDER)
    assert full is not None and len(before) == len(full.events)

    # Saving a freshly loaded tracker again adds nothing; new events are appended after.
    await play(store, SENDER, [[]])
    assert event_rows(store) == before
    await play(store, SENDER, second_session())
    after = event_rows(store)
    assert after[: len(before)] == before
    ids = [row[0] for row in after]
    assert ids == sorted(set(ids))
    assert len(after) == len(before) + len(second_session()[0])


async def test_concurrent_saves_of_one_conversation_store_each_event_once(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    others = [f"conv-{i}" for i in range(4)]
    errors: list[BaseException] = []
    await play(store, SENDER, first_session()[:1])
    expected = [e.as_dict() for e in first_session()[0]]
    for round_number, turn in enumerate(first_session()[1:] + second_session()):
        expected += [e.as_dict() for e in turn]
        tracker = await store.retrieve(SENDER)
        assert tracker is not None
        for event in turn:
            tracker.update(event)
        # The same tracker saved by eight threads at once, beside other conversations' saves.
        senders: list[str | None] = [None] * 8 + (others if round_number == 0 else [])
        start = threading.Barrier(len(senders))

        def save(
            sender: str | None,
            tracker: DialogueStateTracker = tracker,
            start: threading.Barrier = start,
        ) -> None:
            try:
                start.wait()
                if sender is None:
                    asyncio.run(store.save(tracker))
                else:
                    asyncio.run(play(store, sender, first_session()))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=save, args=(sender,)) for sender in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert dump(await store.retrieve_full_tracker(SENDER))["events"] == expected

    for sender in others:
        other = await store.retrieve_full_tracker(sender)
        assert other is not None and len(other.events) == sum(map(len, first_session()))
    assert sorted(await store.keys()) == sorted([SENDER, *others])


async def test_saving_a_full_tracker_does_not_write_earlier_sessions_twice(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    await play(store, SENDER, first_session() + second_session())
    full = await store.retrieve_full_tracker(SENDER)
    assert full is not None
    stored = len(event_rows(store))
    full.update(UserUttered("one more thing", timestamp=T0 + 9000))

    await store.save(full)

    assert len(event_rows(store)) == stored + 1
    after = dump(await store.retrieve_full_tracker(SENDER))
    assert after["events"] == [e.as_dict() for e in full.events]


@pytest.mark.unit
def test_first_unstored_counts_from_the_stored_session_start() -> None:
    earlier = [
        ActionExecuted(ACTION_LISTEN_NAME, timestamp=1.0),
        UserUttered("a", timestamp=2.0),
    ]
    # Rasa may stamp `action_session_start` and `session_started` alike.
    session = [
        ActionExecuted(ACTION_SESSION_START_NAME, timestamp=10.0),
        SessionStarted(timestamp=10.0),
        ActionExecuted(ACTION_LISTEN_NAME, timestamp=11.0),
    ]
    new = [UserUttered("b", timestamp=12.0)]

    assert first_unstored(earlier + new, None, 2) == 2  # no session stored: all count
    assert first_unstored(session + new, 10.0, 3) == 3  # loaded with `retrieve`, as Rasa does
    assert first_unstored(earlier + session + new, 10.0, 3) == 5  # holds an earlier session
    assert first_unstored(earlier + new, 10.0, 1) == 1  # no such session: Rasa's rule


# --- decrypted events kept in memory -----------------------------------------------------------


def count_decrypts(store: EncryptedTrackerStore) -> list[int]:
    """Counts the tokens the store decrypts from now on (one element per token)."""
    calls: list[int] = []
    decrypt = store._decrypt

    def counting(token: bytes) -> str:
        calls.append(1)
        return decrypt(token)

    store._decrypt = counting  # type: ignore[method-assign]
    return calls


async def test_a_turn_decrypts_only_events_it_has_not_seen(make_store: StoreFactory) -> None:
    store = make_store()
    await play(store, SENDER, first_session())
    decrypted = count_decrypts(store)

    warm = dump(await store.retrieve(SENDER))
    await play(store, SENDER, second_session())
    after_turn = dump(await store.retrieve(SENDER))

    # What this process wrote or read before needs no decrypting; a cold store decrypts all.
    assert decrypted == []
    cold = make_store()
    cold_decrypted = count_decrypts(cold)
    assert dump(await cold.retrieve(SENDER)) == after_turn
    assert len(cold_decrypted) == len(after_turn["events"])
    assert warm["latest_text"] == "yeah football" and after_turn["latest_text"] == "hi again"


async def test_each_event_is_read_from_its_json_once(
    make_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Later turns reuse the events read before; they are the events a cold read gives, never
    the objects the turn that saved them held."""
    import bot.tracker_store as module

    reads: list[dict[str, Any]] = []
    original = module.deserialise_event

    def counting(data: dict[str, Any]) -> Event | None:
        reads.append(data)
        return original(data)

    monkeypatch.setattr(module, "deserialise_event", counting)
    store = make_store()
    turns = first_session()
    await play(store, SENDER, turns)
    reads.clear()
    first = await store.retrieve(SENDER)
    # Only the last turn's events are new here: play() read the earlier ones before that turn.
    assert first is not None and len(reads) == len(turns[-1]) < len(first.events)
    held = {id(event) for turn in turns for event in turn}
    assert not any(id(event) in held for event in first.events)
    second = await store.retrieve(SENDER)
    assert second is not None and len(reads) == len(turns[-1])  # none read again
    reads.clear()
    cold = await make_store().retrieve(SENDER)
    assert cold is not None and len(reads) == len(cold.events)
    assert [(type(e), e.as_dict()) for e in second.events] == [
        (type(e), e.as_dict()) for e in cold.events
    ]
    assert dump(second) == dump(cold)

    # A new turn's events are read once, from what was stored.
    later = second_session()
    await play(store, SENDER, later)
    reads.clear()
    after = await store.retrieve(SENDER)
    # The new session's events were all saved after the last read (the latest session starts
    # at its `session_started`, so its `action_session_start` is not read).
    assert after is not None and len(reads) == len(after.events) == len(later[-1]) - 1
    assert dump(after) == dump(await make_store().retrieve(SENDER))


async def test_the_cache_never_hides_what_another_process_changed(
    make_store: StoreFactory,
) -> None:
    ours, theirs = make_store(), make_store()  # two processes on one database
    await play(ours, SENDER, first_session())
    assert dump(await ours.retrieve(SENDER))["latest_text"] == "yeah football"

    await play(theirs, SENDER, second_session())  # the next turn went to the other process
    assert dump(await ours.retrieve(SENDER)) == dump(await theirs.retrieve(SENDER))

    await theirs.delete(SENDER)  # e.g. `python -m bot.tracker_store delete`
    assert await ours.retrieve(SENDER) is None
    assert await ours.retrieve_full_tracker(SENDER) is None

    # Written again after the erasure: only the new events, never an erased one from memory.
    later = time.time() + 60
    await play(theirs, SENDER, second_session(later))
    after = dump(await ours.retrieve_full_tracker(SENDER))
    assert after == dump(await theirs.retrieve_full_tracker(SENDER))
    assert [e["timestamp"] for e in after["events"]] == [
        e.timestamp for e in second_session(later)[0]
    ]
    assert SENTINEL_TEXT not in str(after) and NAME not in str(after)
    assert SENDER in await ours.keys()  # the sender id stored again, encrypted, with the events


async def test_erasure_and_purge_drop_the_cached_events(make_store: StoreFactory) -> None:
    store = make_store()
    await play(store, SENDER, first_session())
    await play(store, "conv-keep", second_session(time.time()))
    cached = store.cache.get(store.sender_key(SENDER))
    assert any(SENTINEL_TEXT in text for text in cached.values())

    await store.delete(SENDER)
    assert store.cache.get(store.sender_key(SENDER)) == {}
    await play(store, "conv-old", first_session())
    await store.retrieve("conv-old")
    store.purge(datetime.fromtimestamp(T0 + 3600, tz=timezone.utc))
    assert store.cache.get(store.sender_key("conv-old")) == {}
    assert store.cache.get(store.sender_key("conv-keep")) != {}


async def test_the_cache_holds_a_bounded_number_of_conversations(
    make_store: StoreFactory,
) -> None:
    bounded, off = make_store(cache_conversations=2), make_store(cache_conversations=0)
    senders = [f"conv-{i}" for i in range(5)]
    for sender in senders:
        await play(bounded, sender, first_session())
    assert len(bounded.cache) == 2
    assert len(off.cache) == 0
    for sender in senders:
        expected = dump(await bounded.retrieve(sender))
        assert dump(await off.retrieve(sender)) == expected
        assert expected["slots"]["preferred_name"] == NAME
    assert len(bounded.cache) == 2 and len(off.cache) == 0


@pytest.mark.unit
def test_events_are_read_as_rasa_reads_them() -> None:
    serialised = [e.as_dict() for turn in first_session() + second_session() for e in turn]
    serialised += [
        {"event": "form", "name": "referral_form", "timestamp": T0},  # a legacy event
        {"event": "topic", "topic": "old", "timestamp": T0},  # dropped by Rasa too
        {"no": "event"},
    ]
    ours = [(type(e), e.as_dict()) for e in deserialise_events(serialised)]
    theirs = [(type(e), e.as_dict()) for e in rasa_events.deserialise_events(serialised)]
    assert ours == theirs
    assert len(ours) == len(serialised) - 2
    with pytest.raises(ValueError):
        deserialise_events([{"event": "no_such_event"}])


# --- what the database holds ------------------------------------------------------------------


async def test_nothing_personal_is_stored_readable(make_store: StoreFactory) -> None:
    store = make_store(clear_names=["affirm", "utter_*"])
    await play(store, SENDER, first_session())
    assert dump(await store.retrieve(SENDER))["latest_text"] == "yeah football"
    full = dump(await store.retrieve_full_tracker(SENDER))["events"]
    assert next(e.get("text") for e in full if e["event"] == "user") == SENTINEL_TEXT

    stored = b"\n".join(raw_rows(store))
    for secret in (NAME, PHONE, PHONE.lstrip("+"), "my name is", SENDER, "share_name"):
        assert secret.lower().encode() not in stored.lower(), secret
    # The allow-listed and built-in names are the only readable ones.
    names = {(row[1], row[2], row[3]) for row in event_rows(store)}
    assert ("user", "affirm", None) in names
    assert ("user", None, None) in names  # share_name: says what the young person told us
    assert ("action", None, "utter_greet") in names
    assert ("action", None, ACTION_LISTEN_NAME) in names
    assert ("action", None, "action_submit_referral") not in names
    assert ("slot", None, None) in names  # preferred_name is not allow-listed


@pytest.mark.unit
async def test_sqlite_file_bytes_never_contain_the_message(tmp_path: Path) -> None:
    folder = tmp_path / "not-yet-created"
    store = EncryptedTrackerStore(
        domain=DOMAIN,
        host=f"sqlite:///{folder / 'tracker.db'}",
        encryption_keys=new_key(),
        hash_key=HASH_KEY,
        environ={},
    )
    try:
        await play(store, SENDER, first_session())
        full = dump(await store.retrieve_full_tracker(SENDER))["events"]
        assert next(e.get("text") for e in full if e["event"] == "user") == SENTINEL_TEXT
        files = sorted(folder.iterdir())
        raw = b"".join(path.read_bytes() for path in files).lower()
    finally:
        store.close()
    assert any(path.name == "tracker.db" for path in files)
    assert ACTION_LISTEN_NAME.encode() in raw  # the files were read and hold the events
    for secret in (NAME, PHONE, PHONE.lstrip("+"), "my name is", SENDER):
        assert secret.lower().encode() not in raw, secret
        assert secret.lower().encode("utf-16-le") not in raw, secret


# --- erasure and retention --------------------------------------------------------------------


async def test_delete_erases_one_conversation(make_store: StoreFactory) -> None:
    store = make_store()
    await play(store, SENDER, first_session())
    await play(store, "conv-keep", first_session())
    kept = dump(await store.retrieve_full_tracker("conv-keep"))

    deleted = await store.delete(SENDER)

    assert deleted == sum(map(len, first_session()))
    assert await store.retrieve(SENDER) is None
    assert await store.retrieve_full_tracker(SENDER) is None
    assert not await store.exists(SENDER)
    assert list(await store.keys()) == ["conv-keep"]
    assert dump(await store.retrieve_full_tracker("conv-keep")) == kept
    assert await store.delete("never-seen") == 0


async def test_a_tracker_loaded_before_delete_cannot_write_erased_events_back(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    await play(store, SENDER, first_session())
    in_flight = await store.retrieve(SENDER)  # the turn in which the young person said DELETE
    assert in_flight is not None
    in_flight.update(UserUttered("DELETE", intent={"name": "delete_data"}, timestamp=T0 + 13))

    store.delete_conversation(SENDER, now=T0 + 14)
    in_flight.update(BotUttered("Done, it's all deleted.", timestamp=T0 + 15))
    await store.save(in_flight)

    after = dump(await store.retrieve_full_tracker(SENDER))
    assert after["events"] == [BotUttered("Done, it's all deleted.", timestamp=T0 + 15).as_dict()]
    assert NAME.encode() not in b"".join(raw_rows(store))

    # The conversation can carry on normally afterwards.
    await play(store, SENDER, second_session())
    latest = await store.retrieve(SENDER)
    assert latest is not None and latest.latest_message.text == "hi again"


async def test_rasa_forgets_the_erased_events_at_the_end_of_the_delete_turn(
    make_store: StoreFactory,
) -> None:
    rasa, actions = make_store(), make_store()  # two processes on one database
    await play(rasa, SENDER, first_session())
    in_flight = await rasa.retrieve(SENDER)  # the turn in which the young person said DELETE
    assert in_flight is not None
    key = rasa.sender_key(SENDER)
    assert any(NAME in text for text in rasa.cache.get(key).values())
    in_flight.update(UserUttered("DELETE", intent={"name": "delete_data"}, timestamp=T0 + 13))

    actions.delete_conversation(SENDER, now=T0 + 14)  # the action server erases
    in_flight.update(BotUttered("Done, it's all deleted.", timestamp=T0 + 15))
    await rasa.save(in_flight)  # Rasa saves the turn

    held = list(rasa.cache.get(key).values())
    assert [json.loads(text)["text"] for text in held] == ["Done, it's all deleted."]
    assert not any(NAME in text or SENTINEL_TEXT in text for text in held)
    # Later turns still use (and add to) the cache as usual.
    await play(rasa, SENDER, second_session())
    assert len(rasa.cache.get(key)) > 1


async def test_purge_removes_only_conversations_idle_since_before(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    await play(store, "conv-old", first_session(T0))  # last event at T0 + 12 s
    recent = T0 + 86400
    await play(store, "conv-recent", first_session(recent))
    store.delete_conversation("conv-erased", now=T0)  # a tombstone is purged like the rest

    # A naive date is UTC: one second before the old conversation's last event keeps it.
    assert store.purge(datetime(2024, 6, 1, 12, 0, 11)) == 0
    assert await store.exists("conv-old")

    purged = store.purge(datetime(2024, 6, 1, 12, 0, 13))

    assert purged == sum(map(len, first_session()))
    assert await store.retrieve_full_tracker("conv-old") is None
    assert list(await store.keys()) == ["conv-recent"]
    assert (await store.retrieve("conv-recent")) is not None
    with store.engine.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM tracker_conversations")).scalar_one()
    assert left == 1


# --- key rotation -----------------------------------------------------------------------------


async def test_rotation_leaves_everything_readable_with_only_the_new_key(
    make_store: StoreFactory,
) -> None:
    old, new = new_key(), new_key()
    writer = make_store([old])
    await play(writer, SENDER, first_session() + second_session())
    await play(writer, "conv-2", first_session())
    expected = dump(await writer.retrieve_full_tracker(SENDER))
    stored = len(event_rows(writer)) + 2  # events + the two conversations' sender ids

    rotating = make_store([new, old])
    seen: list[tuple[int, int]] = []
    assert rotating.rotate(batch_size=7, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (stored, stored)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert rotating.rotate(batch_size=7) == 0  # re-running is safe and finds nothing to do

    only_new = make_store([new])
    assert dump(await only_new.retrieve_full_tracker(SENDER)) == expected
    assert sorted(await only_new.keys()) == sorted([SENDER, "conv-2"])
    with pytest.raises(DecryptionError):
        await make_store([old]).retrieve(SENDER)


async def test_interrupted_rotation_resumes(make_store: StoreFactory) -> None:
    old, new = new_key(), new_key()
    await play(make_store([old]), SENDER, first_session())
    total = len(event_rows(make_store([old]))) + 1
    rotating = make_store([new, old])

    def stop_after_first_batch(done: int, _total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotating.rotate(batch_size=4, progress=stop_after_first_batch)
    assert rotating.rotate(batch_size=4) == total - 4

    assert dump(await make_store([new]).retrieve_full_tracker(SENDER))["slots"] == {
        "preferred_name": NAME,
        "concerns": ["low_mood", "loneliness"],
        "requested_slot": None,
        "session_started_metadata": None,
    }


# --- loaded by Rasa from endpoints.yml ------------------------------------------------------------


async def test_rasa_loads_it_from_an_endpoint_config(db_url: str) -> None:
    config = EndpointConfig(
        type="bot.tracker_store.EncryptedTrackerStore",
        url=db_url,
        encryption_keys=f"{new_key()},{new_key()}",
        hash_key=HASH_KEY,
        clear_names=["affirm"],
    )
    store = TrackerStore.create(config, domain=DOMAIN)
    assert type(store) is EncryptedTrackerStore  # all async: Rasa does not wrap it
    try:
        await play(store, SENDER, first_session())
        assert dump(await store.retrieve(SENDER))["slots"]["preferred_name"] == NAME
        assert ("user", "affirm", None) in {(r[1], r[2], r[3]) for r in event_rows(store)}
    finally:
        store.close()


@pytest.mark.unit
async def test_rasa_loads_it_from_endpoints_yml_with_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        "tracker_store:\n  type: bot.tracker_store.EncryptedTrackerStore\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("YOUTHLINK_ENCRYPTION_KEYS", new_key())
    monkeypatch.setenv("YOUTHLINK_HASH_KEY", HASH_KEY)
    monkeypatch.delenv("YOUTHLINK_TRACKER_DB_URL", raising=False)

    store = TrackerStore.create(read_endpoint_config(str(endpoints), "tracker_store"), DOMAIN)
    assert type(store) is EncryptedTrackerStore
    try:
        await play(store, SENDER, first_session())
    finally:
        store.close()
    assert (tmp_path / "var" / "tracker.db").is_file()  # the default, folder created

    elsewhere = tmp_path / "elsewhere.db"
    monkeypatch.setenv("YOUTHLINK_TRACKER_DB_URL", f"sqlite:///{elsewhere}")
    store = TrackerStore.create(read_endpoint_config(str(endpoints), "tracker_store"), DOMAIN)
    try:
        assert await store.retrieve(SENDER) is None
        await play(store, SENDER, first_session())
    finally:
        store.close()
    assert elsewhere.is_file()


@pytest.mark.unit
@pytest.mark.parametrize(
    ("options", "error"),
    [
        # A missing database driver: Rasa would quietly keep conversations in memory.
        (
            {"url": "postgresql+pg8000://postgres@127.0.0.1/x", "encryption_keys": KEY},
            TrackerStoreError,
        ),
        ({"url": "nosuchdialect://x", "encryption_keys": KEY}, TrackerStoreError),
        ({"url": "sqlite://", "encryption_keys": KEY}, TrackerStoreError),  # lost on restart
        ({"encryption_key": KEY}, TrackerStoreError),  # a typo is not silently ignored
        ({}, ConfigurationError),  # no keys at all
        ({"encryption_keys": "not-a-fernet-key"}, ConfigurationError),
        ({"encryption_keys": KEY, "hash_key": ""}, ConfigurationError),
    ],
)
def test_a_broken_configuration_stops_rasa_instead_of_falling_back_to_memory(
    options: dict[str, Any],
    error: type[Exception],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("YOUTHLINK_ENCRYPTION_KEYS", "YOUTHLINK_HASH_KEY"):
        monkeypatch.delenv(name, raising=False)
    options = {"url": f"sqlite:///{tmp_path / 't.db'}", "hash_key": HASH_KEY, **options}
    config = EndpointConfig(type="bot.tracker_store.EncryptedTrackerStore", **options)
    with pytest.raises(error):
        TrackerStore.create(config, domain=DOMAIN)


# --- command line -----------------------------------------------------------------------------


@pytest.mark.unit
async def test_command_line_rotate_purge_delete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = new_key(), new_key()
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    env = {"YOUTHLINK_TRACKER_DB_URL": url, "YOUTHLINK_HASH_KEY": HASH_KEY}
    writer = EncryptedTrackerStore(domain=DOMAIN, environ={**env, "YOUTHLINK_ENCRYPTION_KEYS": old})
    await play(writer, SENDER, first_session())
    await play(writer, "conv-old", first_session(T0 - 86400 * 400))
    writer.close()
    stored = sum(map(len, first_session())) * 2 + 2

    # The real entry point, as an operator runs it.
    done = subprocess.run(
        [sys.executable, "-m", "bot.tracker_store", "rotate", "--batch-size", "10"],
        cwd=REPO,
        env={
            **os.environ,
            **env,
            "PYTHONPATH": str(REPO),
            "YOUTHLINK_ENCRYPTION_KEYS": f"{new},{old}",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"re-encrypted {stored} values" in done.stdout
    assert f"checked {stored} of {stored}" in done.stderr

    new_env = {**env, "YOUTHLINK_ENCRYPTION_KEYS": new}
    capsys.readouterr()
    assert main(["purge", "--before", "2024-01-01"], new_env) == 0
    assert f"purged {sum(map(len, first_session()))} events" in capsys.readouterr().out
    assert main(["delete", SENDER], new_env) == 0
    assert f"deleted {sum(map(len, first_session()))} events" in capsys.readouterr().out

    reader = EncryptedTrackerStore(domain=DOMAIN, environ=new_env)
    try:
        assert list(await reader.keys()) == []
    finally:
        reader.close()

    assert main(["rotate"], {"YOUTHLINK_TRACKER_DB_URL": url}) == 2
    assert "YOUTHLINK_ENCRYPTION_KEYS" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["purge", "--before", "last tuesday"], new_env)
