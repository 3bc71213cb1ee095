"""Rasa's calls to the action server reuse one connection, with Rasa's own answers and errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from bot import action_connections


async def serve_and_call(calls: Any) -> tuple[list[Any], set[int], list[dict[str, str]]]:
    """Serve a small action server on 127.0.0.1; run `calls(endpoint)`; what it saw."""
    peers: set[int] = set()
    seen: list[dict[str, str]] = []

    async def webhook(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername")[1])  # type: ignore[union-attr]
        seen.append({"token": request.query.get("token", ""), **await request.json()})
        kind = request.query.get("kind", "")
        if kind == "error":
            return web.Response(status=500, text="broken")
        if kind == "text":
            return web.Response(text="not json")
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        endpoint = EndpointConfig(url=f"http://127.0.0.1:{port}/webhook", token="t0k")
        results = await calls(endpoint)
    finally:
        await runner.cleanup()
    return results, peers, seen


@pytest.fixture(autouse=True)
def installed() -> Any:
    original = EndpointConfig.request
    action_connections.install()
    yield
    EndpointConfig.request = original  # type: ignore[method-assign]


def test_calls_share_one_connection_and_answer_as_rasa_expects() -> None:
    async def calls(endpoint: EndpointConfig) -> list[Any]:
        return [
            await endpoint.request(json={"next_action": f"a{n}", "text": "café 😊 a/b"})
            for n in range(3)
        ]

    results, peers, seen = asyncio.run(serve_and_call(calls))
    assert results == [{"events": [], "responses": []}] * 3
    assert len(peers) == 1  # one TCP connection for all three calls
    assert seen == [
        {"token": "t0k", "next_action": f"a{n}", "text": "café 😊 a/b"} for n in range(3)
    ]


def test_errors_and_non_json_answers_are_as_rasa_reports_them() -> None:
    async def calls(endpoint: EndpointConfig) -> list[Any]:
        with pytest.raises(ClientResponseError) as raised:
            await endpoint.request(json={"next_action": "x"}, params={"kind": "error"})
        text = await endpoint.request(json={"next_action": "y"}, params={"kind": "text"})
        return [raised.value.status, text]

    results, _peers, seen = asyncio.run(serve_and_call(calls))
    assert results == [500, None]
    assert [s["token"] for s in seen] == ["t0k", "t0k"]  # the token still goes with each call
