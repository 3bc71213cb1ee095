"""Tracker copies and the walk over a tracker's applied events, without work that changes nothing.

Rasa works a conversation's state out from its events again and again for one message: it copies
the tracker before every action by replaying each event into a new one; it walks all the events
to find those not undone ("applied") when the turn starts, before every prediction and every time
it looks for the last event of a kind; and each new tracker copies every slot with `copy.copy`,
which goes through the pickle protocol. Under 16 clients this was about a fifth of the Rasa
server's CPU (docs/benchmarks.md). Installed by `bot.speedups`, each giving the same result:

- `Slot.__copy__`: the shallow copy `copy.copy` made (a new object with the same attributes),
  made directly;
- `DialogueStateTracker.applied_events`: the walk is a left fold over the events, each step
  depending only on the list so far and on the names of the loops found anywhere in the events.
  So a tracker keeps its last result with the events it came from, and when those are still its
  first events, object for object, and no new loop name has appeared, the walk goes on from
  there over the new events only;
- `DialogueStateTracker.copy`: a tracker's state is, by Rasa's own rule, what replaying its events
  gives (see `DialogueStateTracker.__init__`), so the copy takes the state (the same events and
  objects; its own slots, latest action and active loop) instead of replaying every event into a new
  tracker. Subclasses and trackers with attributes this module does not know keep Rasa's copy;
- `FormAction._temporary_tracker` (twice a form turn): Rasa builds it by replaying the
  conversation's events, then a few more, into a new tracker; it is the same as a copy with the
  few more added, when the conversation has not been restarted (the replay starts after the
  latest restart) and its slots are the domain's.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Iterable
from itertools import islice
from operator import is_
from typing import Any

from rasa.core.actions.forms import FormAction
from rasa.shared.constants import DEFAULT_SENDER_ID
from rasa.shared.core.constants import REQUESTED_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.slots import Slot
from rasa.shared.core.trackers import DialogueStateTracker

_original_applied_events = DialogueStateTracker.applied_events
_original_copy = DialogueStateTracker.copy
_original_temporary_tracker = FormAction._temporary_tracker

# Where a tracker keeps its last walk: (the events it came from, the loop names, the result).
_MEMO = "_youthlink_applied_events"

# What the walk does with an event, by the event's class (as the original's `isinstance` tests).
_OTHER, _RESTART, _SESSION_START, _ACTION_REVERTED, _UTTERANCE_REVERTED, _ACTION = range(6)
_RESETS = (_RESTART, _SESSION_START)
_kinds: dict[type, int] = {}

# Every attribute `DialogueStateTracker.__init__` sets: a tracker with any other is copied by Rasa.
_KNOWN_ATTRIBUTES = frozenset(
    [
        "_max_event_history", "events", "sender_id", "slots", "sender_source", "is_rule_tracker",
        "_paused", "followup_action", "latest_action", "latest_message", "latest_bot_utterance",
        "active_loop", "model_id", "assistant_id", _MEMO,
    ]
)  # fmt: skip


def _kind(cls: type) -> int:
    kind = _kinds.get(cls)
    if kind is None:
        if issubclass(cls, Restarted):
            kind = _RESTART
        elif issubclass(cls, SessionStarted):
            kind = _SESSION_START
        elif issubclass(cls, ActionReverted):
            kind = _ACTION_REVERTED
        elif issubclass(cls, UserUtteranceReverted):
            kind = _UTTERANCE_REVERTED
        elif issubclass(cls, ActionExecuted):
            kind = _ACTION
        else:
            kind = _OTHER
        _kinds[cls] = kind
    return kind


def _loop_names(events: Iterable[Event]) -> frozenset[str]:
    return frozenset(e.name for e in events if isinstance(e, ActiveLoop) and e.name)


def _walk(
    tracker: DialogueStateTracker,
    events: Iterable[Event],
    loop_names: frozenset[str],
    applied: list[Event],
) -> list[Event]:
    """The original's loop, from `applied` on (which it may change)."""
    for event in events:
        kind = _kind(type(event))
        if kind in _RESETS:
            applied = []
        elif kind == _ACTION_REVERTED:
            tracker._undo_till_previous(ActionExecuted, applied)
        elif kind == _UTTERANCE_REVERTED:
            tracker._undo_till_previous(UserUttered, applied)
            tracker._undo_till_previous(ActionExecuted, applied)
        elif (
            kind == _ACTION
            and event.action_name in loop_names
            and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            tracker._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)
    return applied


def applied_events(self: DialogueStateTracker) -> list[Event]:
    """`DialogueStateTracker.applied_events`, going on from the last walk where it can."""
    events = self.events
    memo = self.__dict__.get(_MEMO)
    if memo is not None:
        seen, loop_names, applied = memo
        if len(seen) <= len(events) and all(map(is_, seen, events)):
            new = list(islice(events, len(seen), None))
            if not new:
                return list(applied)
            if _loop_names(new) <= loop_names:
                applied = _walk(self, new, loop_names, list(applied))
                self.__dict__[_MEMO] = (tuple(events), loop_names, applied)
                return list(applied)
    loop_names = _loop_names(events)
    applied = _walk(self, events, loop_names, [])
    self.__dict__[_MEMO] = (tuple(events), loop_names, applied)
    return list(applied)


def copy_tracker(self: DialogueStateTracker) -> DialogueStateTracker:
    """`DialogueStateTracker.copy`: the state taken over rather than replayed."""
    slots = self.slots
    if (
        type(self) is not DialogueStateTracker
        or type(slots) is not dict
        or not _KNOWN_ATTRIBUTES.issuperset(self.__dict__)
    ):
        return _original_copy(self)
    new: DialogueStateTracker = object.__new__(DialogueStateTracker)
    new.__dict__.update(self.__dict__)
    new.__dict__.update(
        events=deque(self.events, self._max_event_history),
        sender_id=self.sender_id or DEFAULT_SENDER_ID,
        slots={name: _copy_slot(slot) for name, slot in slots.items()},
        sender_source=None,
        # The replay builds these anew, and later events change them in place.
        latest_action=dict(self.latest_action) if self.latest_action is not None else None,
        active_loop=copy.copy(self.active_loop),
        model_id=None,
        assistant_id=None,
    )
    return new


def temporary_tracker(
    self: FormAction,
    current_tracker: DialogueStateTracker,
    additional_events: list[Event],
    domain: Domain,
) -> DialogueStateTracker:
    """`FormAction._temporary_tracker`: a copy with the form's events added, where the same."""
    if not _copies_as_domain(current_tracker, domain):
        return _original_temporary_tracker(self, current_tracker, additional_events, domain)
    tracker = copy_tracker(current_tracker)
    # As Rasa's: the slot being asked for, then the form's execution, then the new events.
    tracker.update(SlotSet(REQUESTED_SLOT, self.get_slot_to_fill(current_tracker)))
    tracker.update(ActionExecuted(self.name()))
    for event in additional_events:
        tracker.update(event)
    return tracker


def _copies_as_domain(tracker: DialogueStateTracker, domain: Domain) -> bool:
    """Whether a copy of the tracker is what replaying its events with the domain's slots gives."""
    if (
        type(tracker) is not DialogueStateTracker
        or not tracker.sender_id
        or tracker.is_rule_tracker
        or tracker._max_event_history is not None
        or any(_kind(type(event)) == _RESTART for event in tracker.events)
    ):
        return False
    slots = tracker.slots
    return len(slots) == len(domain.slots) and all(
        type(slots.get(slot.name)) is type(slot) for slot in domain.slots
    )


def _copy_slot(self: Slot) -> Slot:
    cls: Any = type(self)
    new: Slot = cls.__new__(cls)
    new.__dict__.update(self.__dict__)
    return new


def install() -> None:
    """Replace Rasa's slot and tracker copies, applied events and form trackers (idempotent)."""
    Slot.__copy__ = _copy_slot  # type: ignore[attr-defined]
    DialogueStateTracker.applied_events = applied_events  # type: ignore[method-assign]
    DialogueStateTracker.copy = copy_tracker  # type: ignore[method-assign]
    FormAction._temporary_tracker = temporary_tracker  # type: ignore[method-assign]
