"""The gateway's background worker: screens, relays and delivers until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from channels.errors import describe
from channels.pipeline import Answered, Pipeline, Prepared

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
    conversations at once); deliveries in a loop of their own, so a new message is screened and
    relayed without waiting behind the outbox.
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
        self._wake_intake = asyncio.Event()
        self._wake_delivery = asyncio.Event()
        self._relays: set[asyncio.Task[None]] = set()
        self._deliveries: set[asyncio.Task[None]] = set()
        self._inline: set[asyncio.Task[Answered | None]] = set()

    def wake(self) -> None:
        """Look for work now (a message was just stored, or queued to be sent)."""
        self._wake_intake.set()
        self._wake_delivery.set()

    def _wake_deliveries(self) -> None:
        # A message was sent: the next one of its conversation may go now; nothing else changed.
        self._wake_delivery.set()

    async def run(self) -> None:
        """Work until cancelled; in-flight relays are cancelled with it and resume on restart."""
        if self.pipeline.db.is_sqlite:
            # One gateway process per SQLite database: whatever is still claimed is ours from
            # before a restart.
            await asyncio.to_thread(self.pipeline.release_claims)
        loops = [
            asyncio.create_task(self._loop(self._wake_intake, self.step_intake)),
            asyncio.create_task(self._loop(self._wake_delivery, self.step_delivery)),
        ]
        try:
            await asyncio.gather(*loops)
        finally:
            tasks: set[asyncio.Task[Any]] = set(loops) | self._relays | self._deliveries
            tasks |= self._inline
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, wake: asyncio.Event, step: Callable[[], Awaitable[None]]) -> None:
        while True:
            # Cleared before the round, so a wake during it (a message stored meanwhile) starts
            # another round at once instead of waiting for the next poll.
            wake.clear()
            try:
                await step()
            except Exception as exc:
                log.error("worker step failed: %s", describe(exc))
                await asyncio.sleep(self.poll_interval)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.poll_interval)

    async def step(self) -> None:
        """One round of everything: screen, record escalations, relay, deliver."""
        await self.step_intake()
        await self.step_delivery()

    async def step_intake(self) -> None:
        """Screen everything waiting, record escalations not recorded yet, start relays."""
        while (screened := await asyncio.to_thread(self.pipeline.screen_next)) is not None:
            self.changed.notify(screened)
            # A crisis reply (or the answer to HELP) may have been queued: send it now.
            self._wake_delivery.set()
        if await asyncio.to_thread(self.pipeline.record_escalations):
            self.changed.notify()
        await self._fill(self._relays, self.pipeline.claim_next, self._relay)

    async def step_delivery(self) -> None:
        """Start sending what the outbox holds."""
        await self._fill(
            self._deliveries, self.pipeline.claim_delivery, self.deliver, self._wake_deliveries
        )

    def relay_now(self, prepared: Prepared) -> asyncio.Task[Answered | None]:
        """Relay a message claimed as it was received, as a task of the worker's own.

        The request that received it waits for the task; if that request goes away the relay
        still finishes (or, when the worker stops, is cancelled and resumed after a restart).
        """
        task = asyncio.create_task(self._relay_prepared(prepared))
        self._inline.add(task)
        task.add_done_callback(self._inline.discard)
        return task

    async def _relay_prepared(self, prepared: Prepared) -> Answered | None:
        inbox_id = prepared.item.id
        try:
            answered = await self.pipeline.relay_prepared(prepared)
        except Exception as exc:
            log.error(
                "relaying inbox_id=%s failed (retried after its lease): %s", inbox_id, describe(exc)
            )
            answered = None
        self.changed.notify(None if self.pipeline.rasa_unavailable else inbox_id)
        if answered is None or answered.more_waiting:
            # Deferred, failed or with a later message waiting behind it: the worker goes on.
            self.wake()
        return answered

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
