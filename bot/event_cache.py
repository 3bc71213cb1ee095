"""Decrypted tracker events of recently active conversations, kept in memory by the Rasa process.

Every turn Rasa loads the conversation's latest session. Decrypting and parsing all of its events
again every turn was a fifth of the Rasa server's CPU time. So the tracker store keeps, per
conversation, the decrypted JSON of each stored token, keyed by the token's own HMAC (unique to
that one encryption), and decrypts only tokens it has not seen. The database stays the truth: the
store still reads the conversation's tokens every turn, so rows added by another process, erased
or re-encrypted are noticed at once, and a cached text can only ever stand for its own token.

It also keeps each event as read from that JSON the first time it was read, so later turns do
not parse it again (parsing was 5% of the Rasa server's CPU). The event is the one a cold read
gives, never the object the turn that wrote it held; trackers share it as Rasa's own tracker
copies share their events, which Rasa does not change once they are in a tracker.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses


def token_key(token: bytes) -> bytes:
    """What a cached text is filed under: the end of the token, which holds its HMAC."""
    return bytes(token[-44:])


class _Entry:
    """One conversation's cached events: JSON texts, and the events read from them so far."""

    __slots__ = ("events", "texts")

    def __init__(self, texts: dict[bytes, str], events: dict[bytes, Event]) -> None:
        self.texts = texts
        self.events = events


class EventCache:
    """The decrypted events (JSON text by `token_key`) of the most recently used conversations,
    with the events read from them.

    Bounded by a number of conversations, least recently used dropped first; 0 keeps nothing.
    Safe to use from several threads.
    """

    def __init__(self, max_conversations: int) -> None:
        self.max_conversations = max(0, max_conversations)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def _entry(self, key: str) -> _Entry | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def get(self, key: str) -> Mapping[bytes, str]:
        """The cached events of a conversation (possibly none), as JSON texts."""
        found = self._entry(key)
        return {} if found is None else found.texts

    def parsed(self, key: str) -> Mapping[bytes, Event]:
        """The cached events of a conversation already read from their JSON."""
        found = self._entry(key)
        return {} if found is None else found.events

    def put(
        self, key: str, texts: Mapping[bytes, str], events: Mapping[bytes, Event] | None = None
    ) -> None:
        """Replace a conversation's cached events (`events`: those read from `texts`)."""
        self._store(key, _Entry(dict(texts), dict(events or {})))

    def add(self, key: str, texts: Mapping[bytes, str]) -> None:
        """Add events just stored to a conversation's cached ones."""
        with self._lock:
            found = self._entries.get(key)
        if found is None:
            self._store(key, _Entry(dict(texts), {}))
        else:
            found.texts.update(texts)

    def _store(self, key: str, entry: _Entry) -> None:
        if not self.max_conversations:
            return
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_conversations:
                self._entries.popitem(last=False)

    def drop(self, keys: Iterable[str]) -> None:
        """Forget these conversations (erased or purged)."""
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


@cache
def _event_classes() -> dict[str, type[Event]]:
    # The first class with a type name wins, as in `Event.resolve_by_type`.
    classes: dict[str, type[Event]] = {}
    for cls in all_subclasses(Event):
        classes.setdefault(cls.type_name, cls)
    return classes


def deserialise_event(data: Mapping[str, Any]) -> Event | None:
    """One event as `rasa.shared.core.events.deserialise_events` reads it, or None where Rasa
    drops it (no event name, or a legacy event that reads as nothing)."""
    name = data.get("event")
    if name is None:
        return None
    cls = _event_classes().get(name)
    event = cls._from_parameters(data) if cls is not None else Event.from_parameters(data)
    return event or None


def deserialise_events(serialised: Sequence[dict[str, Any]]) -> list[Event]:
    """`rasa.shared.core.events.deserialise_events`, without searching every event class per
    event (that search was most of the time it took).
    """
    events: list[Event] = []
    for data in serialised:
        event = deserialise_event(data)
        if event is not None:
            events.append(event)
    return events
