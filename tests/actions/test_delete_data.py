"""DELETE: the handoff API withdraws the referral and the tracker events are erased for good.

The tracker store is real (a temporary SQLite file, encrypted), opened by the action from the
environment as in production, next to a second store instance playing the Rasa server: the
turn that asked for the deletion is saved by "Rasa" afterwards, as Rasa does at the end of
every turn, and must not bring the erased events back.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
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
    deserialise_events,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import routing, tracker_erasure
from actions.settings import ActionSettings
from actions.tracker_erasure import TrackerErasure
from bot.tracker_store import EncryptedTrackerStore
from tests.actions.support import FakeHandoff, fake_handoff, tracker_from_json
from youthlink.crypto import Cipher, new_key

pytestmark = [pytest.mark.unit, pytest.mark.rasa]

REPO = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(str(REPO / "bot" / "domain"))
TOKEN = "service-token-for-tests"
SENDER = "conv-5e1d0a"
OTHER = "conv-99aa01"
NAME = "Zephyrine"
OWN_WORDS = "my quokka worries keep me up at night"


@pytest.fixture
def environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The action server's environment: its tracker database and keys, as Rasa's."""
    values = {
        "YOUTHLINK_TRACKER_DB_URL": f"sqlite:///{tmp_path / 'tracker.db'}",
        "YOUTHLINK_ENCRYPTION_KEYS": new_key(),
        "YOUTHLINK_HASH_KEY": secrets.token_urlsafe(16),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> Iterator[list[Any]]:
    """The action server's erasure, opening its store from the environment; the stores opened."""
    stores: list[EncryptedTrackerStore] = []

    def open_store() -> EncryptedTrackerStore:
        store = tracker_erasure._store_from_environment()
        stores.append(store)
        return store

    erasure = TrackerErasure(open_store)
    monkeypatch.setattr(tracker_erasure, "current", lambda: erasure)
    yield stores
    erasure.close()


@pytest.fixture
def handoff(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHandoff]:
    with fake_handoff() as server:
        settings = ActionSettings(server.url, TOKEN, retry_delays=(0.05, 0.05))
        monkeypatch.setattr(routing, "current", lambda: settings)
        yield server


@pytest.fixture
def rasa_store(environ: dict[str, str]) -> Iterator[EncryptedTrackerStore]:
    """The Rasa server's own store on the same database."""
    store = EncryptedTrackerStore(domain=DOMAIN, environ=environ)
    yield store
    store.close()


async def earlier_turns(store: EncryptedTrackerStore, sender: str) -> None:
    """A conversation in which they gave their name and said what is going on."""
    tracker = store.init_tracker(sender)
    for event in (
        ActionExecuted(ACTION_SESSION_START_NAME),
        SessionStarted(),
        ActionExecuted(ACTION_LISTEN_NAME),
        UserUttered(f"call me {NAME}", intent={"name": "inform", "confidence": 0.9}),
        SlotSet("preferred_name", NAME),
        SlotSet("stage", "in_progress"),
        BotUttered(f"Thanks {NAME}. What's been going on?"),
        ActionExecuted(ACTION_LISTEN_NAME),
        UserUttered(OWN_WORDS, intent={"name": "inform", "confidence": 0.8}),
        SlotSet("concerns", OWN_WORDS),
        ActionExecuted(ACTION_LISTEN_NAME),
    ):
        tracker.update(event)
    await store.save(tracker)


async def turn(
    store: EncryptedTrackerStore, sender: str, text: str, intent: str, *events: Event
) -> DialogueStateTracker:
    """One message as Rasa handles it: load, add the turn's events, save at the end."""
    tracker = await store.retrieve(sender) or store.init_tracker(sender)
    tracker.update(UserUttered(text, intent={"name": intent, "confidence": 1.0}))
    for event in events:
        tracker.update(event)
    await store.save(tracker)
    return tracker


async def confirm_delete(
    store: EncryptedTrackerStore, sender: str
) -> tuple[DialogueStateTracker, list[dict[str, Any]]]:
    """They said DELETE, then YES: the form ends, the action runs, the reply; saved at the end."""
    await turn(
        store, sender, "delete", "delete_data",
        ActionExecuted("delete_form"), ActiveLoop("delete_form"),
        SlotSet("requested_slot", "delete_confirm"), BotUttered("Are you sure?"),
        ActionExecuted(ACTION_LISTEN_NAME),
    )  # fmt: skip
    tracker = await store.retrieve(sender)
    assert tracker is not None
    for event in (
        UserUttered("yes", intent={"name": "affirm", "confidence": 0.97}),
        ActionExecuted("delete_form"),
        SlotSet("delete_confirm", True),
        SlotSet("requested_slot", None),
        ActiveLoop(None),
    ):
        tracker.update(event)
    # What the action server receives, and what Rasa makes of its answer (as RemoteAction does).
    state = tracker.current_state(EventVerbosity.ALL)
    returned = await routing.ActionDeleteData().run(
        CollectingDispatcher(), Tracker.from_dict(state), {}
    )
    tracker.update(ActionExecuted("action_delete_data"))
    tracker.update_with_events(deserialise_events(returned), DOMAIN)
    if tracker.get_slot("outcome") == "deleted":
        tracker.update(ActionExecuted("utter_deleted"))
        tracker.update(BotUttered("Done. I've deleted our chat, your answers and your referral."))
    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
    await store.save(tracker)
    return tracker, returned


def stored_texts(store: EncryptedTrackerStore, environ: dict[str, str], sender: str) -> list[str]:
    """Every stored event of the conversation, decrypted: what the database really holds."""
    cipher = Cipher.from_keys([environ["YOUTHLINK_ENCRYPTION_KEYS"]], environ["YOUTHLINK_HASH_KEY"])
    with store.engine.connect() as conn:
        tokens = conn.execute(
            sa.text("SELECT data_encrypted FROM tracker_events WHERE sender_key = :key"),
            {"key": store.sender_key(sender)},
        ).scalars()
        return [str(cipher.decrypt(token)) for token in tokens]


async def test_delete_erases_the_tracker_and_the_end_of_turn_save_writes_nothing_back(
    handoff: FakeHandoff,
    opened: list[EncryptedTrackerStore],
    rasa_store: EncryptedTrackerStore,
    environ: dict[str, str],
) -> None:
    await earlier_turns(rasa_store, SENDER)
    await earlier_turns(rasa_store, OTHER)
    other_before = stored_texts(rasa_store, environ, OTHER)
    assert any(NAME in text for text in stored_texts(rasa_store, environ, SENDER))

    _, returned = await confirm_delete(rasa_store, SENDER)

    assert [(r["method"], r["path"]) for r in handoff.requests] == [
        ("DELETE", f"/api/conversations/{SENDER}/draft")
    ]
    assert returned[0]["event"] == "reset_slots"
    assert returned[-1] == {**returned[-1], "name": "outcome", "value": "deleted"}
    stored = [json.loads(text) for text in stored_texts(rasa_store, environ, SENDER)]
    # Only what came after the erasure: the reset, the outcome, the confirmation.
    assert [e["event"] for e in stored] == [
        "action", "reset_slots", "slot", "action", "bot", "action",
    ]  # fmt: skip
    everything = json.dumps(stored)
    for said in (NAME, OWN_WORDS, "call me", '"yes"', "delete_confirm", "Are you sure"):
        assert said not in everything, said
    assert stored_texts(rasa_store, environ, OTHER) == other_before
    assert len(opened) == 1  # opened from the environment, on the first DELETE

    # The next message starts from nothing, and the erased words never come back.
    after = await turn(rasa_store, SENDER, "hi", "greet", ActionExecuted("utter_greet"))
    assert after.get_slot("preferred_name") is None and after.get_slot("concerns") is None
    assert after.get_slot("stage") is None
    reloaded = await rasa_store.retrieve_full_tracker(SENDER)
    assert reloaded is not None
    assert [e.text for e in reloaded.events if isinstance(e, UserUttered)] == ["hi"]
    assert not any(NAME in text for text in stored_texts(rasa_store, environ, SENDER))


async def test_delete_works_after_the_referral_was_sent(
    handoff: FakeHandoff,
    opened: list[EncryptedTrackerStore],
    rasa_store: EncryptedTrackerStore,
    environ: dict[str, str],
) -> None:
    await earlier_turns(rasa_store, SENDER)
    await turn(
        rasa_store, SENDER, "yes", "affirm",
        SlotSet("referral_id", "r-1"), SlotSet("stage", "sent"), SlotSet("outcome", "sent"),
        ActionExecuted("utter_referral_sent"), ActionExecuted(ACTION_LISTEN_NAME),
    )  # fmt: skip

    tracker, _ = await confirm_delete(rasa_store, SENDER)

    assert tracker.get_slot("outcome") == "deleted"
    assert tracker.get_slot("stage") is None and tracker.get_slot("referral_id") is None
    assert [r["method"] for r in handoff.requests] == ["DELETE"]
    assert not any(
        NAME in text or "r-1" in text for text in stored_texts(rasa_store, environ, SENDER)
    )


async def test_the_store_is_opened_once_per_process(
    handoff: FakeHandoff, opened: list[EncryptedTrackerStore], rasa_store: EncryptedTrackerStore
) -> None:
    for sender in (SENDER, OTHER):
        await earlier_turns(rasa_store, sender)
        tracker, _ = await confirm_delete(rasa_store, sender)
        assert tracker.get_slot("outcome") == "deleted"
    assert len(opened) == 1


async def test_not_confirmed_touches_nothing(
    handoff: FakeHandoff, opened: list[EncryptedTrackerStore]
) -> None:
    tracker = tracker_from_json("referral_ready", slots={"delete_confirm": False})
    events = await routing.ActionDeleteData().run(CollectingDispatcher(), tracker, {})
    assert handoff.requests == [] and opened == []
    assert {e["name"]: e["value"] for e in events} == {
        "delete_confirm": None,
        "outcome": "kept_resume",
    }


async def test_handoff_failing_says_so_and_erases_nothing(
    handoff: FakeHandoff,
    opened: list[EncryptedTrackerStore],
    rasa_store: EncryptedTrackerStore,
    environ: dict[str, str],
) -> None:
    handoff.replies += [(500, None)] * 3
    await earlier_turns(rasa_store, SENDER)

    tracker, returned = await confirm_delete(rasa_store, SENDER)

    assert len(handoff.requests) == 3
    assert {e["name"]: e["value"] for e in returned} == {
        "delete_confirm": None,
        "outcome": "delete_failed",
    }
    assert tracker.get_slot("preferred_name") == NAME  # kept: they can text DELETE again
    assert any(NAME in text for text in stored_texts(rasa_store, environ, SENDER))
    assert opened == []


async def test_a_tracker_store_that_cannot_be_opened_is_told_honestly(
    handoff: FakeHandoff, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("YOUTHLINK_ENCRYPTION_KEYS", raising=False)
    erasure = TrackerErasure(tracker_erasure._store_from_environment)
    monkeypatch.setattr(tracker_erasure, "current", lambda: erasure)
    tracker = tracker_from_json("referral_ready", slots={"delete_confirm": True})

    events = await routing.ActionDeleteData().run(CollectingDispatcher(), tracker, {})

    assert {e["name"]: e["value"] for e in events} == {
        "delete_confirm": None,
        "outcome": "delete_failed",
    }
    # The handoff API was asked first; asking again later is safe (nothing there is done).
    assert [r["method"] for r in handoff.requests] == ["DELETE"]
