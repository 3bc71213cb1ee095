"""Fuzzing the Telegram webhook: random JSON and mangled updates. Never a 500, never a crash."""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.errors import BadRequest
from channels.gateway import create_app
from channels.safeguarding import Safeguarding
from channels.telegram import parse_update
from tests.channels.conftest import FAST_RETRY
from tests.support.db import fresh_settings
from tests.support.fake_rasa import FakeRasa
from tests.support.fake_telegram import FakeTelegram
from tests.support.ports import free_port

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
KEYS = [
    "update_id",
    "message",
    "edited_message",
    "callback_query",
    "chat",
    "id",
    "type",
    "text",
    "caption",
    "from",
    "is_bot",
    "date",
    "message_id",
    "data",
    "photo",
    "sticker",
    "voice",
    "location",
    "first_name",
    "chat_instance",
]


def mangled_update() -> st.SearchStrategy[dict[str, Any]]:
    """Realistic updates with random parts swapped out for random JSON."""
    chat = st.fixed_dictionaries(
        {
            "id": st.one_of(st.integers(), JSON),
            "type": st.sampled_from(["private", "group", "channel"]) | JSON,
        }
    )
    message = st.fixed_dictionaries(
        {
            "message_id": st.integers(min_value=1) | JSON,
            "date": st.integers(0) | JSON,
            "chat": chat | JSON,
        },
        optional={
            "text": st.text(max_size=5000) | JSON,
            "caption": st.text() | JSON,
            "from": st.fixed_dictionaries(
                {"id": st.integers(), "is_bot": st.booleans(), "first_name": st.text(max_size=5)}
            )
            | JSON,
            "photo": JSON,
            "location": JSON,
        },
    )
    query = st.fixed_dictionaries(
        {
            "id": st.text(max_size=10) | JSON,
            "chat_instance": st.text(max_size=5),
            "from": st.fixed_dictionaries(
                {"id": st.integers(), "is_bot": st.booleans(), "first_name": st.just("x")}
            )
            | JSON,
        },
        optional={"data": st.text(max_size=100) | JSON, "message": message | JSON},
    )
    return st.fixed_dictionaries(
        {"update_id": st.integers() | JSON},
        optional={
            "message": message | JSON,
            "edited_message": message,
            "callback_query": query | JSON,
            **{k: JSON for k in KEYS[5:9]},
        },
    )


UPDATES = st.one_of(JSON, mangled_update())


@settings(max_examples=500, deadline=None)
@given(update=UPDATES)
def test_the_parser_raises_only_bad_request(update: Any) -> None:
    with contextlib.suppress(BadRequest):
        parse_update(json.dumps(update).encode())


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=500))
def test_any_bytes_parse_or_are_a_bad_request(body: bytes) -> None:
    with contextlib.suppress(BadRequest):
        parse_update(body)


@pytest.fixture
def served(
    sqlite_url: str, fake_rasa: FakeRasa, safeguarding: Safeguarding
) -> Iterator[tuple[str, str]]:
    with FakeTelegram() as telegram:
        port = free_port()
        secret = secrets.token_urlsafe(16)
        app_settings = fresh_settings(
            sqlite_url,
            rasa_url=fake_rasa.url,
            telegram_bot_token=telegram.token,
            telegram_secret_token=secret,
            telegram_api_base=telegram.api_root,
        )
        app = create_app(
            app_settings, safeguarding=safeguarding, retry=FAST_RETRY, poll_interval=0.05
        )
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        for _ in range(300):
            if server.started:
                break
            threading.Event().wait(0.02)
        yield f"http://127.0.0.1:{port}/telegram/webhook", secret
        server.should_exit = True
        thread.join(timeout=10)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(update=UPDATES, with_secret=st.booleans())
def test_the_webhook_never_answers_500(
    served: tuple[str, str], update: Any, with_secret: bool
) -> None:
    url, secret = served
    headers = {"Content-Type": "application/json"}
    if with_secret:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    response = httpx.post(url, content=json.dumps(update), headers=headers, timeout=30)
    assert response.status_code in ((200, 400) if with_secret else (403,))
