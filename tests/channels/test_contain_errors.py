"""An unhandled error becomes a bare 500; neither the answer nor the log repeats its message."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from channels.contain_errors import ContainErrors

SECRET = "07700900123 said something private"


async def call(app: Any, path: str) -> tuple[int, bytes]:
    """Run one GET through an ASGI app; the status and body it sent."""
    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


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
    status, body = await call(app, "/broken")
    assert status == 500
    assert json.loads(body) == {"error": "internal error"}
    assert await call(app, "/fine") == (200, b"ok")
    assert "unhandled ValueError on GET /broken" in caplog.text
    assert "07700900123" not in caplog.text
    assert b"07700900123" not in body
