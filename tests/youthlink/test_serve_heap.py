"""`youthlink serve` freezes each service's start-up heap (`youthlink.heap`) once it has started."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from channels.gateway import serve as serve_gateway
from handoff.api import serve as serve_handoff
from tests.support.db import fresh_settings


@pytest.mark.parametrize("serve", [serve_gateway, serve_handoff], ids=["gateway", "handoff"])
def test_the_service_freezes_its_heap_once_started(
    serve: Callable[..., None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_kwargs: served.append(app))
    serve(fresh_settings(f"sqlite:///{tmp_path}/app.db"), port=0)
    (app,) = served
    assert gc.get_freeze_count() == 0
    with TestClient(app):
        assert gc.get_freeze_count() > 0
