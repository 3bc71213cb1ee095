"""One running stack for the whole e2e session (Rasa takes about a minute to start)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import MODEL, RASA_BIN, Stack, running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not (RASA_BIN / "rasa").exists() or not MODEL.exists():
        pytest.fail("the Rasa environment and trained model are missing: run `make train` first")
    with running_stack(tmp_path_factory.mktemp("stack"), debug=True) as running:
        yield running
