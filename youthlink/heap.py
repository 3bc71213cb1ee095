"""What a service loaded at start-up, set aside from Python's garbage collector.

Each service loads most of what it will ever hold when it starts: the gateway about 180,000
objects (the safeguarding ruleset, SQLAlchemy's mappings, the web framework), the action server
155,000, the Rasa server about 530,000 (the model, TensorFlow). A full collection walks every one
of them: measured on the development machine, 20-130 ms in the gateway, 60 ms in the action
server, 300 ms in the Rasa server, with the event loop (and every conversation waiting on it)
standing still. Full collections are rare once a service has started (one runs when the objects
that outlived two younger collections reach a quarter of those held), so no benchmark here
shows one after start-up; in a service that runs for weeks they still come. `gc.freeze()` moves
what start-up made to a generation the collector never walks; what is made afterwards is
collected as before. Garbage is collected first, so only live objects are kept. Used by the
long-running services only (not by tests and commands).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any


def freeze() -> None:
    """Collect what is garbage now, then exempt every object left from later collections."""
    gc.collect()
    gc.freeze()


def freeze_soon() -> None:
    """`freeze` once the event loop gets to it (at once when no loop is running).

    For code that runs while a service is still starting (a model loading in a start-up
    listener): the freeze then comes after the rest of the start-up step.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        freeze()
        return
    loop.call_soon(freeze)


def freeze_after_startup(app: Any) -> None:
    """Make a Starlette/FastAPI `app` freeze its heap once its lifespan has started."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        async with inner(app_) as state:
            freeze()
            yield state

    app.router.lifespan_context = lifespan
