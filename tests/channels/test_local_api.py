"""The local channel's HTTP API refuses bad input clearly and never fails with a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.errors import BadRequest, TextTooLong
from channels.gateway import MAX_BODY_BYTES, _inbound
from channels.local import parse_local_message
from channels.safeguarding import Safeguarding
from channels.texts import MAX_TEXT_CHARS
from tests.channels.conftest import RunningGateway
from tests.support.db import fresh_settings, settings_env
from tests.support.fake_rasa import FakeRasa
from youthlink.config import Settings

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
MESSAGE_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "address": st.one_of(st.text(max_size=200), JSON),
        "text": st.one_of(st.text(max_size=300), JSON),
        "message_id": st.one_of(st.text(max_size=200), JSON),
    },
)


@pytest.mark.unit
@given(body=st.one_of(st.binary(max_size=300), JSON.map(json.dumps).map(str.encode)))
def test_parser_accepts_or_refuses_clearly_any_bytes(body: bytes) -> None:
    try:
        message = parse_local_message(body)
    except BadRequest as exc:
        assert str(exc)
    else:
        assert message.text and message.address and message.provider_message_id


@pytest.mark.unit
@given(body=MESSAGE_LIKE)
def test_parser_on_message_shaped_objects(body: dict[str, Any]) -> None:
    try:
        message = parse_local_message(json.dumps(body).encode())
    except BadRequest:
        return
    assert message.channel == "local"
    assert 0 < len(message.text) <= MAX_TEXT_CHARS
    assert message.text.encode("utf-8")  # always storable as UTF-8


@pytest.mark.unit
def test_parser_keeps_emoji_and_drops_control_characters() -> None:
    message = parse_local_message(
        json.dumps({"address": "a", "text": "hi \U0001f62d\U0001f494\x00\x07 ok \ud800"}).encode()
    )
    assert message.text == "hi \U0001f62d\U0001f494 ok \ufffd"


async def test_bad_requests_get_clear_errors(gateway: RunningGateway) -> None:
    url = f"{gateway.url}/local/messages"
    async with httpx.AsyncClient(timeout=30) as client:
        cases: list[tuple[dict[str, Any], int]] = [
            ({"json": {"address": "a", "text": "hi"}, "headers": {}}, 401),
            ({"json": {"address": "a", "text": "hi"},
              "headers": {"Authorization": "Bearer wrong"}}, 401),
            ({"content": b"{not json", "headers": gateway.headers}, 400),
            ({"json": ["address", "text"], "headers": gateway.headers}, 400),
            ({"json": {"address": "a", "text": "   "}, "headers": gateway.headers}, 400),
            ({"json": {"address": "a"}, "headers": gateway.headers}, 400),
            ({"json": {"text": "hi"}, "headers": gateway.headers}, 400),
            ({"json": {"address": "a", "text": "x" * (MAX_TEXT_CHARS + 1)},
              "headers": gateway.headers}, 413),
        ]  # fmt: skip
        for kwargs, status in cases:
            response = await client.post(url, **kwargs)
            assert response.status_code == status, (kwargs, response.text)
            assert response.json()["error"]
        bad_after = await client.get(
            url, params={"address": "a", "after": "-1"}, headers=gateway.headers
        )
        assert bad_after.status_code == 400
        no_auth = await client.get(url, params={"address": "a"})
        assert no_auth.status_code == 401


@pytest.mark.unit
async def test_a_body_without_a_declared_length_is_read_only_up_to_the_cap() -> None:
    received = 0

    async def receive() -> dict[str, Any]:
        # A chunked upload: no Content-Length, and it would go on for 64 MB.
        nonlocal received
        received += 65536
        return {"type": "http.request", "body": b" " * 65536, "more_body": received < 64 << 20}

    scope = {"type": "http", "method": "POST", "path": "/local/messages", "headers": [],
             "query_string": b""}  # fmt: skip
    with pytest.raises(TextTooLong):
        await _inbound(Request(scope, receive))
    assert received <= MAX_BODY_BYTES + 65536


async def test_emoji_only_message_is_handled(gateway: RunningGateway, fake_rasa: FakeRasa) -> None:
    response = await gateway.post("addr-emoji", "\U0001f62d\U0001f62d\U0001f62d")
    assert response.status_code == 200
    assert fake_rasa.messages() == ["\U0001f62d\U0001f62d\U0001f62d"]


async def test_healthz(gateway: RunningGateway) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{gateway.url}/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.one_of(MESSAGE_LIKE.map(json.dumps).map(str.encode), st.binary(max_size=200)))
def test_webhook_never_fails_with_a_server_error(
    running_for_fuzz: RunningGateway, body: bytes
) -> None:
    response = httpx.post(
        f"{running_for_fuzz.url}/local/messages",
        content=body,
        headers={**running_for_fuzz.headers, "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code < 500, response.text


@pytest.mark.parametrize("keepalive", [True, False])
async def test_connections_to_rasa_are_kept_or_made_per_message_as_configured(
    sqlite_url: str, fake_rasa: FakeRasa, safeguarding: Safeguarding, keepalive: bool
) -> None:
    # One Rasa process: one kept connection. Several: a connection per message, so that a free
    # process takes each one (a kept connection stays with the process that accepted it).
    fake_rasa.stop()
    fake_rasa.keep_alive = True  # as Rasa (Sanic) does
    fake_rasa.start()
    workers = "1" if keepalive else "2"
    env = settings_env(fresh_settings(sqlite_url))
    env.update(YOUTHLINK_RASA_URL=fake_rasa.url, YOUTHLINK_RASA_WORKERS=workers)
    settings = Settings.from_env(env)
    assert settings.rasa_keepalive is keepalive
    running = RunningGateway(settings, safeguarding)
    await running.start()
    try:
        for text in ("hi", "yes", "15"):
            response = await running.post("kept", text)
            assert response.json()["messages"][0]["text"] == f"echo: {text}"
    finally:
        await running.stop()
    assert len(fake_rasa.peers) == 3
    assert len(set(fake_rasa.peers)) == (1 if keepalive else 3)
