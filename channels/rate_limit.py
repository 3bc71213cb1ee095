"""Pacing sends to a provider's flood limits (Telegram: ~30 messages/s, ~1/s in one chat).

A generic cell rate algorithm: each caller reserves the next free slot at once (no lock is held
while waiting), so concurrent senders queue fairly and never burst past the limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass
class _Cell:
    """Theoretical arrival time of the next message under one limit."""

    tat: float = 0.0


class Pace:
    """At most `rate` per second, with bursts of up to `burst` at once."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        self.interval = 1.0 / rate
        self.tolerance = self.interval * (max(1, burst) - 1)

    def reserve(self, cell: _Cell, now: float, not_before: float = 0.0) -> float:
        """Reserve the next slot in `cell`; how long to wait for it."""
        tat = max(cell.tat, now, not_before)
        wait = max(0.0, tat - self.tolerance - now, not_before - now)
        cell.tat = tat + self.interval
        return wait


class RateLimiter:
    """A global pace and a pace per key (chat), plus pauses the provider asks for."""

    def __init__(
        self,
        *,
        global_rate: float = 30.0,
        global_burst: int = 1,
        per_key_rate: float = 1.0,
        per_key_burst: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_keys: int = 10_000,
    ) -> None:
        self._global = Pace(global_rate, global_burst)
        self._per_key = Pace(per_key_rate, per_key_burst)
        self._global_cell = _Cell()
        self._cells: dict[str, _Cell] = {}
        self._paused_until = 0.0
        self._clock = clock
        self._sleep = sleep
        self._max_keys = max_keys

    def reserve(self, key: str) -> float:
        """Reserve a slot for one message to `key`; the seconds to wait before sending it."""
        now = self._clock()
        if len(self._cells) >= self._max_keys:
            self._cells = {k: c for k, c in self._cells.items() if c.tat > now}
        cell = self._cells.setdefault(key, _Cell())
        key_wait = self._per_key.reserve(cell, now, self._paused_until)
        # Taken now rather than when the message goes, so one chat waiting for its own slot
        # never holds up the others; the global pace is approximate by up to one message.
        global_wait = self._global.reserve(self._global_cell, now, self._paused_until)
        return max(key_wait, global_wait)

    async def acquire(self, key: str) -> None:
        """Wait until one more message to `key` is within the limits."""
        wait = self.reserve(key)
        if wait > 0:
            await self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """The provider said to wait (HTTP 429 Retry-After): hold every send until then."""
        self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))
