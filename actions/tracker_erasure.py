"""Erasing a conversation's Rasa tracker events from the action server (the DELETE command).

The action server opens the same encrypted tracker store as the Rasa server, configured from
the same environment (`YOUTHLINK_TRACKER_DB_URL`, `YOUTHLINK_ENCRYPTION_KEYS`,
`YOUTHLINK_HASH_KEY`). The store leaves an erasure marker: when Rasa saves the tracker at the
end of the turn that asked for the deletion, events stamped before the erasure are not written
back; only what follows it (the confirmation) is stored.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable

from bot.tracker_store import EncryptedTrackerStore

StoreFactory = Callable[[], EncryptedTrackerStore]


class TrackerErasure:
    """Opens the tracker store on first use (blocking work, done in a thread), then erases."""

    def __init__(self, open_store: StoreFactory) -> None:
        self._open_store = open_store
        self._store: EncryptedTrackerStore | None = None
        self._lock = threading.Lock()

    def store(self) -> EncryptedTrackerStore:
        """The store, opened once (creating its tables if need be)."""
        with self._lock:
            if self._store is None:
                self._store = self._open_store()
            return self._store

    async def erase(self, conversation_id: str) -> int:
        """Delete every stored event of the conversation; returns how many were deleted."""
        store = await asyncio.to_thread(self.store)
        return await store.delete(conversation_id)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def _store_from_environment() -> EncryptedTrackerStore:
    return EncryptedTrackerStore(environ=os.environ)


_process_erasure = TrackerErasure(_store_from_environment)


def current() -> TrackerErasure:
    """This action server process's erasure (the store is opened on the first DELETE)."""
    return _process_erasure
