"""Tracker copies and applied events give what Rasa's own replay gives (`bot.tracker_replay`)."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from rasa.core.actions.forms import FormAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    Event,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.slots import Slot
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_replay import (
    _MEMO,
    _copy_slot,
    _original_applied_events,
    _original_copy,
    _original_temporary_tracker,
    applied_events,
    copy_tracker,
    temporary_tracker,
)
from tests.bot import stories


@pytest.fixture(scope="module")
def domain_and_stories() -> tuple[Domain, list[list[Event]]]:
    """The domain, and the events of every rule and test story the bot is trained and tested on."""
    return stories.domain_and_stories()


def random_events(domain: Domain, rng: random.Random, count: int) -> list[Event]:
    """Events of every kind the walk treats apart: reverts, restarts, loops in and out."""
    loops = ["referral_form", "delete_form", "other_form"]
    slot_names = [slot.name for slot in domain.slots]
    makers = [
        lambda: ActionExecuted("action_listen"),
        lambda: UserUttered("hi", {"name": rng.choice(["greet", "skip", "affirm"])}),
        lambda: ActionExecuted(rng.choice(loops)),
        lambda: ActiveLoop(rng.choice([*loops, None])),
        lambda: ActionExecuted(rng.choice(["utter_ask_age", "action_help", "utter_greet"])),
        lambda: SlotSet(rng.choice(slot_names), rng.choice([None, "x", 3, ["a", "b"]])),
        lambda: LoopInterrupted(rng.choice([True, False])),
        lambda: ActionExecutionRejected(rng.choice(loops)),
        lambda: BotUttered("hello"),
        lambda: ActionReverted(),
        lambda: UserUtteranceReverted(),
        lambda: Restarted(),
        lambda: SessionStarted(),
    ]
    weights = [8, 8, 6, 3, 5, 6, 2, 1, 4, 1, 1, 0.3, 0.3]
    return [rng.choices(makers, weights)[0]() for _ in range(count)]


def event_sequences(domain: Domain, stories: list[list[Event]]) -> list[list[Event]]:
    rng = random.Random(20261129)
    return stories + [random_events(domain, rng, rng.randint(1, 80)) for _ in range(300)]


def grown(domain: Domain, events: list[Event]) -> list[DialogueStateTracker]:
    """A tracker after each event, built up one event at a time as the server does."""
    tracker = DialogueStateTracker("replay-test", domain.slots)
    found = []
    for event in events:
        tracker.update(copy.deepcopy(event))
        events_so_far = list(tracker.events)
        found.append(DialogueStateTracker.from_events("replay-test", events_so_far, domain.slots))
    return found


def assert_same_state(fast: DialogueStateTracker, replayed: DialogueStateTracker) -> None:
    ours, theirs = dict(vars(fast)), dict(vars(replayed))
    ours.pop(_MEMO, None)
    theirs.pop(_MEMO, None)
    assert ours.keys() == theirs.keys()
    assert list(ours.pop("events")) == list(theirs.pop("events"))
    assert ours.pop("slots").keys() == theirs["slots"].keys()
    for name, slot in fast.slots.items():
        assert type(slot) is type(replayed.slots[name])
        assert vars(slot) == vars(replayed.slots[name]), name
    theirs.pop("slots")
    assert ours == theirs


def test_applied_events_are_the_same_walked_whole_or_from_the_last_walk(
    domain_and_stories: tuple[Domain, list[list[Event]]],
) -> None:
    domain, stories = domain_and_stories
    compared = continued = 0
    for events in event_sequences(domain, stories):
        tracker = DialogueStateTracker("replay-test", domain.slots)
        for event in events:
            tracker.update(event)
            had_memo = _MEMO in vars(tracker)
            found = applied_events(tracker)
            expected = _original_applied_events(tracker)
            # The same event objects, in the same order.
            assert len(found) == len(expected) and all(map(lambda a, b: a is b, found, expected))
            compared += 1
            continued += had_memo
        # Asked again with nothing new: the same, and a list of its own each time.
        again = applied_events(tracker)
        assert again == _original_applied_events(tracker)
        again.clear()
        assert applied_events(tracker) == _original_applied_events(tracker)
    assert compared > 10_000 and continued > compared * 0.9


def test_a_tracker_whose_first_events_changed_is_walked_whole(
    domain_and_stories: tuple[Domain, list[list[Event]]],
) -> None:
    domain, stories = domain_and_stories
    events = max(stories, key=len)
    tracker = DialogueStateTracker.from_events("replay-test", events, domain.slots)
    applied_events(tracker)
    tracker.events.popleft()
    tracker.events.appendleft(ActionReverted())
    expected = _original_applied_events(tracker)
    assert applied_events(tracker) == expected
    assert len(expected) != len(_original_applied_events(
        DialogueStateTracker.from_events("replay-test", events, domain.slots)
    ))  # fmt: skip


def test_a_copy_has_the_state_replaying_its_events_gives(
    domain_and_stories: tuple[Domain, list[list[Event]]],
) -> None:
    domain, stories = domain_and_stories
    compared = 0
    for events in event_sequences(domain, stories)[::3]:
        for tracker in grown(domain, events):
            tracker.model_id = "a-model"
            tracker.sender_source = "somewhere"
            assert_same_state(copy_tracker(tracker), _original_copy(tracker))
            compared += 1
    assert compared > 3_000


def test_a_copy_changes_apart_from_its_original(
    domain_and_stories: tuple[Domain, list[list[Event]]],
) -> None:
    domain, stories = domain_and_stories
    events = [e for e in max(stories, key=len) if not isinstance(e, ActiveLoop)]
    tracker = DialogueStateTracker.from_events("replay-test", events, domain.slots)
    tracker.update(ActiveLoop("referral_form"))
    tracker.update(ActionExecuted("referral_form"))
    before = _original_copy(tracker)
    duplicate = copy_tracker(tracker)
    for event in [
        SlotSet("preferred_name", "Sam"), LoopInterrupted(True),
        ActionExecutionRejected("referral_form"), ActionExecuted("action_listen"),
        UserUttered("hi", {"name": "greet"}),
    ]:  # fmt: skip
        duplicate.update(event)
    assert duplicate.slots["preferred_name"].value == "Sam"
    assert duplicate.active_loop is not None and duplicate.active_loop.rejected
    assert_same_state(tracker, before)


def test_trackers_this_module_does_not_know_are_copied_by_replay(
    domain_and_stories: tuple[Domain, list[list[Event]]],
) -> None:
    domain, stories = domain_and_stories
    tracker = DialogueStateTracker.from_events("replay-test", stories[0], domain.slots)
    extra: Any = tracker
    extra.something_new = 1
    duplicate = copy_tracker(tracker)
    assert not hasattr(duplicate, "something_new")  # Rasa's replay does not carry it either
    assert_same_state(duplicate, _original_copy(tracker))


def test_a_slot_copy_is_what_copy_copy_made(domain_and_stories: tuple[Domain, Any]) -> None:
    domain, _ = domain_and_stories
    for slot in domain.slots:
        slot.value = ["kept", "by reference"]
        made: Slot = _copy_slot(slot)
        assert made is not slot and type(made) is type(slot)
        assert vars(made) == vars(slot)
        assert made.value is slot.value  # shallow, as `copy.copy` through the pickle protocol
        made.reset()
        assert slot.value == ["kept", "by reference"]


def test_a_forms_temporary_tracker_is_what_rasa_builds(
    domain_and_stories: tuple[Domain, list[list[Event]]],
) -> None:
    domain, stories = domain_and_stories
    form = FormAction("referral_form", None)
    compared = restarted = 0
    for events in event_sequences(domain, stories)[1::3]:
        for tracker in grown(domain, events):
            extra: list[Event] = [SlotSet("age", 15), SlotSet("requested_slot", "preferred_name")]
            ours = temporary_tracker(form, tracker, extra, domain)
            assert_same_state(ours, _original_temporary_tracker(form, tracker, extra, domain))
            compared += 1
            restarted += any(isinstance(e, Restarted) for e in tracker.events)
    assert compared > 3_000 and restarted > 100  # both ways are compared
