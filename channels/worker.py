"""The gateway's background worker: screens, relays and delivers until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from channels.errors import describe
from channels.pipeline import Pipeline

log = logging.getLogger(__name__)


class Watch:
    """Interest in the next change, registered when it was made (so no change is missed)."""

    def __init__(self, event: asyncio.Event) -> None:
        self._event = event

    async def wait(self, timeout: float) -> None:
        """Wait for the change, at most `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)


class Signal:
    """Wakes waiters when something changed: those watching one inbox message, or everyone.

    A change to one message wakes only its watchers (and those watching everything): with many
    conversations waiting for their answers, waking all of them for every change made each
    re-read its outcome for nothing.
    """

    def __init__(self) -> None:
        self._watching: dict[int | None, asyncio.Event] = {}

    def notify(self, key: int | None = None) -> None:
        """Wake the watchers of inbox message `key` and of any change; with no key, everyone."""
        if key is None:
            events = list(self._watching.values())
            self._watching.clear()
        else:
            events = [self._watching.pop(k) for k in (key, None) if k in self._watching]
        for event in events:
            event.set()

    def watch(self, key: int | None = None) -> Watch:
        """Watch for the next change to inbox message `key` (any change when no key)."""
        return Watch(self._watching.setdefault(key, asyncio.Event()))

    async def wait(self, timeout: float, key: int | None = None) -> None:
        """Wait for the next change (to `key`), at most `timeout` seconds."""
        await self.watch(key).wait(timeout)


class Worker:
    """Runs the pipeline: screening first, then relays (one per conversation at a time, several
    conversations at once), then deliveries.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        concurrency: int = 32,
        poll_interval: float = 0.5,
        changed: Signal | None = None,
        deliver: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self.pipeline = pipeline
        # How a claimed outbox row is sent (`channels.delivery.Delivery.deliver` in the gateway).
        self.deliver = deliver or pipeline.deliver
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.changed = changed or Signal()
        self._wake = asyncio.Event()
        # Whether the next round looks for everything, or only for messages to deliver.
        self._full = True
        self._relays: set[asyncio.Task[None]] = set()
        self._deliveries: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """Look for work now (a message was just stored)."""
        self._full = True
        self._wake.set()

    def _wake_deliveries(self) -> None:
        # A message was sent: the next one of its conversation may go now; nothing else changed.
        self._wake.set()

    async def run(self) -> None:
        """Work until cancelled; in-flight relays are cancelled with it and resume on restart."""
        if self.pipeline.db.is_sqlite:
            # One gateway process per SQLite database: whatever is still claimed is ours from
            # before a restart.
            await asyncio.to_thread(self.pipeline.release_claims)
        try:
            while True:
                # Cleared before the round, so a wake during it (a message stored meanwhile)
                # starts another round at once instead of waiting for the next poll.
                self._wake.clear()
                full, self._full = self._full, False
                try:
                    await self.step(full=full)
                except Exception as exc:
                    log.error("worker step failed: %s", describe(exc))
                    self._full = True
                    await asyncio.sleep(self.poll_interval)
                    continue
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                except TimeoutError:
                    self._full = True
        finally:
            tasks = self._relays | self._deliveries
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def step(self, *, full: bool = True) -> None:
        """One round: screen everything waiting, record escalations, start relays/deliveries.

        Not `full`: only start deliveries (after a message was sent).
        """
        if full:
            while (screened := await asyncio.to_thread(self.pipeline.screen_next)) is not None:
                self.changed.notify(screened)
            if await asyncio.to_thread(self.pipeline.record_escalations):
                self.changed.notify()
            await self._fill(self._relays, self.pipeline.claim_next, self._relay)
        await self._fill(
            self._deliveries, self.pipeline.claim_delivery, self.deliver, self._wake_deliveries
        )

    async def _relay(self, inbox_id: int) -> None:
        try:
            await self.pipeline.relay(inbox_id)
        finally:
            # Rasa unreachable: messages of other conversations waiting for it settle too.
            self.changed.notify(None if self.pipeline.rasa_unavailable else inbox_id)

    async def _fill(
        self,
        tasks: set[asyncio.Task[None]],
        claim: Callable[[], int | None],
        handle: Callable[[int], Awaitable[None]],
        then: Callable[[], None] | None = None,
    ) -> None:
        while len(tasks) < self.concurrency:
            row_id = await asyncio.to_thread(claim)
            if row_id is None:
                return
            task = asyncio.create_task(self._handle(handle, row_id, then or self.wake))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def _handle(
        self, handle: Callable[[int], Awaitable[None]], row_id: int, then: Callable[[], None]
    ) -> None:
        try:
            await handle(row_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("handling row %s failed (retried after its lease): %s", row_id, describe(exc))
        finally:
            then()
