"""Loading the model installs the speedups and, once the load is over, freezes the heap."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from rasa.engine.runner.dask import DaskGraphRunner

from bot import graph_runner
from bot.speedups import RasaSpeedups


def test_the_heap_is_frozen_after_the_model_has_loaded(unfrozen: None) -> None:
    async def load() -> tuple[int, int]:
        # Rasa creates the component while the server's start-up listener loads the model.
        RasaSpeedups.create({}, None, None, None)  # type: ignore[arg-type]
        during = gc.get_freeze_count()
        await asyncio.sleep(0)  # the rest of the load is done, the listener has returned
        return during, gc.get_freeze_count()

    during, after = asyncio.run(load())
    assert during == 0
    assert after > 0
    runner: Any = DaskGraphRunner.run
    assert runner is graph_runner.run  # the patches are in place too
