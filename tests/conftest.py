"""Fixtures shared by the tests of both environments (the app's and Rasa's)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Nothing frozen from the garbage collector before the test, nor left frozen after it
    (`youthlink.heap`)."""
    gc.unfreeze()
    yield
    gc.unfreeze()
