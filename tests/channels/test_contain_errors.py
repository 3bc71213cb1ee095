"""An unhandled error becomes a bare 500; neither the answer nor the log repeats its message."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from channels.contain_errors import ContainErrors
from tests.support.asgi import call

SECRET = "07700900123 said something private"


async def inner(scope: Any, receive: Any, send: Any) -> None:
    if scope["path"] == "/broken":
        raise ValueError(SECRET)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def test_an_unhandled_error_is_a_bare_500_logged_by_type_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    app = ContainErrors(inner)
    status, _, body = await call(app, "GET", "/broken")
    assert status == 500
    assert json.loads(body) == {"error": "internal error"}
    status_fine, _, body_fine = await call(app, "GET", "/fine")
    assert (status_fine, body_fine) == (200, b"ok")
    assert "unhandled ValueError on GET /broken" in caplog.text
    assert "07700900123" not in caplog.text
    assert b"07700900123" not in body
