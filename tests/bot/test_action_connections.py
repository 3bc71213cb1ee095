"""Rasa's calls to the action server reuse one connection, with Rasa's own answers and errors."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from bot import action_connections
from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]


async def start_actions(webhook: Any) -> tuple[web.AppRunner, str]:
    """A small action server on 127.0.0.1 answering `POST /webhook`; its runner and URL."""
    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/webhook"


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

    runner, url = await start_actions(webhook)
    try:
        endpoint = EndpointConfig(url=url, token="t0k")
        results = await calls(endpoint)
    finally:
        await action_connections.close_sessions()
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


SERVER = """
import asyncio, os, signal, sys
from aiohttp import web
from rasa.utils.endpoints import EndpointConfig
from sanic import Sanic
from sanic.response import json as json_response
from bot import action_connections
from tests.bot.test_action_connections import start_actions

action_connections.install()
app = Sanic("action_connections_test")
state = {}

async def webhook(request):
    return web.json_response({"events": [], "responses": []})

async def start(app, loop):
    state["runner"], state["url"] = await start_actions(webhook)

@app.post("/call")
async def call(request):
    answer = await EndpointConfig(url=state["url"]).request(json={"next_action": "a"})
    state["sessions"] = list(action_connections._sessions.values())
    asyncio.get_running_loop().call_later(0.2, os.kill, os.getpid(), signal.SIGINT)
    return json_response(answer)

async def stopped(app, loop):
    print("sessions closed:", [s.closed for s in state["sessions"]], flush=True)

app.register_listener(start, "before_server_start")
app.register_listener(stopped, "after_server_stop")
app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False, workers=1)
"""


def test_the_kept_connections_are_closed_when_the_server_stops(tmp_path: Path) -> None:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(script), str(port)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    urllib.request.Request(f"http://127.0.0.1:{port}/call", method="POST"),
                    timeout=5,
                ) as response:
                    assert json.loads(response.read()) == {"events": [], "responses": []}
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert "sessions closed: [True]" in output
    assert "Unclosed" not in output
