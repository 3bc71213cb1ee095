"""The gateway's background worker: screens, relays and delivers until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from channels.errors import describe
from channels.pipeline import Pipeline

log = logging.getLogger(__name__)


class Signal:
    """Wakes every waiter when something changed (a message was screened, answered or sent)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake everyone waiting now."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Wait for the next change, at most `timeout` seconds."""
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


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
        self._relays: set[asyncio.Task[None]] = set()
        self._deliveries: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """Look for work now (a message was just stored)."""
        self._wake.set()

    async def run(self) -> None:
        """Work until cancelled; in-flight relays are cancelled with it and resume on restart."""
        if self.pipeline.db.is_sqlite:
            # One gateway process per SQLite database: whatever is still claimed is ours from
            # before a restart.
            await asyncio.to_thread(self.pipeline.release_claims)
        try:
            while True:
                try:
                    await self.step()
                except Exception as exc:
                    log.error("worker step failed: %s", describe(exc))
                    await asyncio.sleep(self.poll_interval)
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        finally:
            tasks = self._relays | self._deliveries
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def step(self) -> None:
        """One round: screen everything waiting, record escalations, start relays/deliveries."""
        while await asyncio.to_thread(self.pipeline.screen_next):
            self.changed.notify()
            self.wake()
        if await asyncio.to_thread(self.pipeline.record_escalations):
            self.changed.notify()
        await self._fill(self._relays, self.pipeline.claim_next, self.pipeline.relay)
        await self._fill(self._deliveries, self.pipeline.claim_delivery, self.deliver)

    async def _fill(
        self,
        tasks: set[asyncio.Task[None]],
        claim: Callable[[], int | None],
        handle: Callable[[int], Awaitable[None]],
    ) -> None:
        while len(tasks) < self.concurrency:
            row_id = await asyncio.to_thread(claim)
            if row_id is None:
                return
            task = asyncio.create_task(self._handle(handle, row_id))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def _handle(self, handle: Callable[[int], Awaitable[None]], row_id: int) -> None:
        try:
            await handle(row_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("handling row %s failed (retried after its lease): %s", row_id, describe(exc))
        finally:
            self.changed.notify()
            self.wake()
