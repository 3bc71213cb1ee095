"""A service's start-up heap is set aside from the garbage collector once it has started."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from youthlink.heap import freeze_after_startup, freeze_soon


class Marker:
    """An object made at start-up, to look for among the collector's objects."""


def tracked(obj: object) -> bool:
    """True while the collector may still walk `obj` (it is in one of its generations)."""
    return any(o is obj for gen in range(3) for o in gc.get_objects(generation=gen))


def test_what_startup_made_is_frozen_and_later_objects_are_not(unfrozen: None) -> None:
    made: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        made["startup"] = Marker()
        assert gc.get_freeze_count() == 0  # not before the app's own start-up has run
        yield

    app = FastAPI(lifespan=lifespan)
    freeze_after_startup(app)
    with TestClient(app):
        assert gc.get_freeze_count() > 0
        assert not tracked(made["startup"])
        later = Marker()
        assert tracked(later)


def test_freeze_soon_waits_for_the_loop(unfrozen: None) -> None:
    async def starting() -> int:
        freeze_soon()
        before = gc.get_freeze_count()
        await asyncio.sleep(0)
        assert gc.get_freeze_count() > 0
        return before

    assert asyncio.run(starting()) == 0


def test_freeze_soon_without_a_loop_freezes_at_once(unfrozen: None) -> None:
    freeze_soon()
    assert gc.get_freeze_count() > 0
