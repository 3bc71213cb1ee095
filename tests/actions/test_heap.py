"""The action server sets its start-up heap aside from the garbage collector once it serves."""

from __future__ import annotations

import asyncio
import gc

from sanic import Sanic

from actions import freeze_once_serving


def test_the_heap_is_frozen_when_the_server_has_started(unfrozen: None) -> None:
    app = Sanic("heap-test-actions", configure_logging=False)
    freeze_once_serving("heap-test-actions")
    assert gc.get_freeze_count() == 0  # registering does nothing yet

    async def start() -> None:
        app.signalize()
        # What Sanic runs once the server is up (`Sanic.run` calls it with its loop).
        await app._server_event("init", "after", loop=asyncio.get_running_loop())

    asyncio.run(start())
    assert gc.get_freeze_count() > 0


def test_without_the_app_nothing_happens(unfrozen: None) -> None:
    freeze_once_serving("no-such-app")
    assert gc.get_freeze_count() == 0
