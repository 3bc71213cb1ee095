"""Telegram as pure functions: updates, commands, callback data, rendering, pacing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from channels.channel import InboundRequest
from channels.errors import BadRequest, Unauthorized
from channels.keywords import command_text, is_telegram_stop
from channels.messages import BotMessage, Button
from channels.rate_limit import RateLimiter
from channels.telegram import (
    TelegramChannel,
    TelegramConfig,
    UnsupportedMediaType,
    callback_data,
    keyboard,
    parse_update,
)

pytestmark = pytest.mark.unit

CHANNEL = TelegramChannel(TelegramConfig(token="1:a", secret_token="s3cret"))


def message(text: str | None = "hi", chat_type: str = "private", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": 7,
        "date": 0,
        "chat": {"id": 42, "type": chat_type, "first_name": "Sam"},
        "from": {"id": 42, "is_bot": False, "first_name": "Sam"},
        **extra,
    }
    if text is not None:
        body["text"] = text
    return body


def parsed(update: dict[str, Any]):  # type: ignore[no-untyped-def]
    return parse_update(json.dumps(update).encode())


def test_a_text_message() -> None:
    (m,) = parsed({"update_id": 9, "message": message("hello")}).messages
    assert (m.channel, m.address, m.provider_message_id, m.text, m.media_kind) == (
        "telegram",
        "42",
        "9",
        "hello",
        None,
    )


def test_an_edit_is_a_new_message_with_its_own_update_id() -> None:
    (m,) = parsed({"update_id": 10, "edited_message": message("changed", edit_date=5)}).messages
    assert (m.provider_message_id, m.text) == ("10", "changed")


def test_media_and_captions() -> None:
    photo = [{"file_id": "a", "file_unique_id": "b", "width": 1, "height": 1}]
    arrival = parsed({"update_id": 11, "message": message(None, photo=photo, caption="me")})
    assert [(m.provider_message_id, m.text, m.media_kind) for m in arrival.messages] == [
        ("11:media", "", "photo"),
        ("11", "me", None),
    ]
    located = parsed(
        {"update_id": 12, "message": message(None, location={"latitude": 51.5, "longitude": -0.1})}
    )
    assert [m.media_kind for m in located.messages] == ["location"]
    assert "51.5" not in repr(located)


def test_groups_bots_and_other_updates_are_ignored() -> None:
    assert parsed({"update_id": 13, "message": message(chat_type="group")}).messages == ()
    bot = message()
    bot["from"]["is_bot"] = True
    assert parsed({"update_id": 14, "message": bot}).messages == ()
    assert parsed({"update_id": 15, "my_chat_member": {"x": 1}}).messages == ()


def test_a_button_press() -> None:
    query = {
        "id": "777",
        "from": {"id": 42, "is_bot": False, "first_name": "Sam"},
        "chat_instance": "1",
        "data": "/affirm",
        "message": message("Carry on?"),
    }
    arrival = parsed({"update_id": 16, "callback_query": query})
    (m,) = arrival.messages
    assert (m.address, m.text) == ("42", "/affirm")
    assert arrival.callback is not None
    assert (arrival.callback.query_id, arrival.callback.chat_id, arrival.callback.message_id) == (
        "777",
        42,
        7,
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b"null",
        b"{nope",
        b'{"update_id": "x", "message": {}}',
        b'{"update_id": true}',
        b'{"message": {}}',
        b"\xff\xfe",
    ],
)
def test_malformed_updates_are_bad_requests(body: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_update(body)


def test_secret_and_content_type_are_checked_before_parsing() -> None:
    good = {"x-telegram-bot-api-secret-token": "s3cret", "content-type": "application/json"}
    CHANNEL.authenticate(InboundRequest("POST", "/", good, b"not even json"))
    with pytest.raises(Unauthorized):
        CHANNEL.authenticate(
            InboundRequest("POST", "/", {**good, "x-telegram-bot-api-secret-token": "s3creT"}, b"")
        )
    with pytest.raises(Unauthorized):
        CHANNEL.authenticate(InboundRequest("POST", "/", {"content-type": "application/json"}, b""))
    with pytest.raises(UnsupportedMediaType):
        CHANNEL.authenticate(
            InboundRequest("POST", "/", {**good, "content-type": "text/plain"}, b"")
        )
    unset = TelegramChannel(TelegramConfig(token="1:a"))
    with pytest.raises(Unauthorized):
        unset.authenticate(
            InboundRequest("POST", "/", {**good, "x-telegram-bot-api-secret-token": ""}, b"")
        )


@pytest.mark.parametrize(
    ("typed", "relayed"),
    [
        ("/start", "hi"),
        ("/start abc123", "hi"),
        ("/START", "hi"),
        ("/help", "help"),
        ("/help@youthlink_bot", "help"),
        ("/stop", "stop"),
        ("/stop now please", "stop now please"),
        ("/delete", "delete"),
        ("/privacy", "privacy"),
        ("/privacy@youthlink_bot", "privacy"),
        ("/restart", "/restart"),
        ("hello /start", "hello /start"),
        ("/", "/"),
    ],
)
def test_commands_become_words(typed: str, relayed: str) -> None:
    assert command_text(typed) == relayed


def test_stop_is_recognised() -> None:
    assert (
        is_telegram_stop("/stop") and is_telegram_stop("/stop@bot") and is_telegram_stop("/Stop x")
    )
    assert not is_telegram_stop("stop") and not is_telegram_stop("/stopping")


def test_long_payloads_travel_as_a_hash_and_come_back() -> None:
    long = '/inform{"concern": "' + "x" * 100 + '"}'
    offered = (Button("Yes", "/affirm"), Button("More", long))
    assert callback_data("/affirm") == "/affirm"
    hashed = callback_data(long)
    assert hashed.startswith("h:") and len(hashed.encode()) <= 64
    assert CHANNEL.resolve_reply(hashed, offered) == long
    assert CHANNEL.resolve_reply("h:unknown", offered) == "h:unknown"
    assert CHANNEL.resolve_reply("/start", offered) == "hi"


def test_rendering_keeps_buttons_on_the_last_part() -> None:
    text = "A sentence. " * 500
    rendered = CHANNEL.render([BotMessage(text.strip(), (Button("Yes", "/affirm"),), "consent")])
    assert len(rendered) == 2
    assert all(len(r.body["text"]) <= 4096 for r in rendered)
    assert rendered[0].body["buttons"] == [] and rendered[0].body["asking"] is None
    assert rendered[1].body["buttons"] == [{"title": "Yes", "payload": "/affirm"}]
    assert rendered[1].body["asking"] == "consent"


def test_keyboards() -> None:
    short = keyboard([{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}])
    assert short is not None and len(short.inline_keyboard) == 1
    long = keyboard([{"title": f"A longer option {n}", "payload": f"/o{n}"} for n in range(4)])
    assert long is not None and len(long.inline_keyboard) == 4
    assert keyboard([]) is None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pacing_per_chat_allows_a_short_burst_then_one_a_second() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, global_rate=1000, per_key_rate=1.0, per_key_burst=3)
    waits = [limiter.reserve("chat") for _ in range(6)]
    assert waits == pytest.approx([0, 0, 0, 1, 2, 3], abs=0.01)  # 1 ms global spacing
    assert limiter.reserve("other chat") < 0.01  # chats do not wait for each other
    clock.now += 10
    assert limiter.reserve("chat") == 0


def test_pacing_globally_and_pausing_on_flood_control() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, global_rate=30.0, per_key_rate=100.0)
    waits = [limiter.reserve(f"chat {n}") for n in range(31)]
    assert waits[0] == 0 and waits[30] == pytest.approx(1.0)
    clock.now += 5
    limiter.pause(3)
    assert limiter.reserve("chat x") == pytest.approx(3.0)
    assert limiter.reserve("chat y") >= 3.0
