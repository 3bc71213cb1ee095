"""Telegram end to end: the gateway registers its webhook with the fake Bot API, updates come in
signed with the secret token, replies go out through python-telegram-bot to the fake."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from channels.safeguarding import Safeguarding
from channels.tables import FAILED, ConversationRow, InboxRow, OutboxRow
from channels.telegram import callback_data
from tests.channels.conftest import RunningGateway
from tests.channels.test_twilio_webhook import (
    CRISIS_TEXT,
    conversation_of,
    count_escalations,
    eventually,
    queue_message,
    rows,
    scalar,
    settle,
)
from tests.support.db import fresh_settings
from tests.support.fake_rasa import FakeRasa
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_telegram import SentMessage as TelegramMessage
from tests.support.ports import free_port

CHAT = 5550001


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def tg_gateway(
    sqlite_url: str, fake_rasa: FakeRasa, telegram: FakeTelegram, safeguarding: Safeguarding
) -> AsyncIterator[RunningGateway]:
    port = free_port()
    settings = fresh_settings(
        sqlite_url,
        rasa_url=fake_rasa.url,
        public_url=f"http://127.0.0.1:{port}",
        telegram_bot_token=telegram.token,
        telegram_secret_token=secrets.token_urlsafe(24),
        telegram_api_base=telegram.api_root,
    )
    running = RunningGateway(settings, safeguarding, port=port)
    await running.start()
    await asyncio.to_thread(telegram.wait_for, lambda: telegram.webhook.get("url"), 10)
    yield running
    await running.stop()


async def deliver(telegram: FakeTelegram, update: dict[str, Any], **kwargs: Any) -> httpx.Response:
    return await asyncio.to_thread(telegram.deliver, update, **kwargs)


async def say(telegram: FakeTelegram, text: str, chat: int = CHAT) -> httpx.Response:
    return await deliver(telegram, telegram.message_update(chat, text))


async def sent_to(
    telegram: FakeTelegram, count: int, timeout: float = 10.0
) -> list[TelegramMessage]:
    return await asyncio.to_thread(telegram.wait_for_messages, count, timeout)


def offer(sender: str, message: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
    if message == "hi":
        return [
            {
                "text": "Is it OK to carry on?",
                "buttons": [
                    {"title": "Yes", "payload": "/affirm"},
                    {"title": "No", "payload": "/deny"},
                    {"title": "Tell me more", "payload": '/inform{"detail": "' + "x" * 80 + '"}'},
                ],
            },
            {"custom": {"asking": "continue"}},
        ]
    return [{"text": f"got {message}"}]


async def test_the_webhook_is_registered_with_a_secret_token(
    tg_gateway: RunningGateway, telegram: FakeTelegram
) -> None:
    assert telegram.webhook["url"] == f"{tg_gateway.url}/telegram/webhook"
    assert telegram.webhook["secret_token"] == tg_gateway.settings.telegram_secret_token
    assert set(telegram.webhook["allowed_updates"]) == {
        "message",
        "edited_message",
        "callback_query",
    }


async def test_a_message_is_answered_through_the_bot_api(
    tg_gateway: RunningGateway, telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    response = await say(telegram, "hello")
    assert response.status_code == 200
    (reply,) = await sent_to(telegram, 1)
    assert (reply.chat_id, reply.text) == (str(CHAT), "echo: hello")
    conversation_id = conversation_of(tg_gateway, "telegram", str(CHAT))
    assert fake_rasa.requests == [
        {"sender": conversation_id, "message": "hello", "metadata": {"channel": "telegram"}}
    ]
    assert str(CHAT) not in conversation_id


async def test_wrong_secret_content_type_or_body_is_refused_and_nothing_stored(
    tg_gateway: RunningGateway, telegram: FakeTelegram
) -> None:
    update = telegram.message_update(CHAT, "hello")
    assert (await deliver(telegram, update, secret_token="wrong")).status_code == 403
    url = f"{tg_gateway.url}/telegram/webhook"
    secret = tg_gateway.settings.telegram_secret_token
    async with httpx.AsyncClient() as client:
        missing = await client.post(url, json=update)
        as_form = await client.post(
            url, data={"update_id": "1"}, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
        )
        not_json = await client.post(
            url,
            content=b"{nope",
            headers={"X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"},
        )
        not_an_update = await client.post(
            url, json=[1, 2], headers={"X-Telegram-Bot-Api-Secret-Token": secret}
        )
        malformed = await client.post(
            url,
            json={"update_id": 1, "message": {"chat": {}}},
            headers={"X-Telegram-Bot-Api-Secret-Token": secret},
        )
        ignored = await client.post(
            url,
            json={"update_id": 2, "my_chat_member": {}},
            headers={"X-Telegram-Bot-Api-Secret-Token": secret},
        )
    assert missing.status_code == 403
    assert as_form.status_code == 415
    assert not_json.status_code == 400
    assert not_an_update.status_code == 400
    assert malformed.status_code == 400
    assert ignored.status_code == 200
    assert scalar(tg_gateway, select(func.count()).select_from(InboxRow)) == 0
    assert scalar(tg_gateway, select(func.count()).select_from(ConversationRow)) == 0


async def test_a_repeated_update_is_processed_once(
    tg_gateway: RunningGateway, telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    update = telegram.message_update(CHAT, "only once")
    responses = await asyncio.gather(*(deliver(telegram, update) for _ in range(3)))
    assert [r.status_code for r in responses] == [200, 200, 200]
    await sent_to(telegram, 1)
    await settle()
    assert fake_rasa.messages() == ["only once"]
    assert len(telegram.sent()) == 1


async def test_commands_reach_the_dialogue_as_words(
    tg_gateway: RunningGateway, telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    for text in (
        "/start",
        "/start campaign42",
        "/help",
        "/delete",
        "/help@youthlink_test_bot",
        "/restart",
        "/stop please",
    ):
        await say(telegram, text)
    await eventually(
        fake_rasa.messages, ["hi", "hi", "help", "delete", "help", "restart", "stop please"], 10
    )


async def test_buttons_are_an_inline_keyboard_and_a_press_is_the_payload(
    tg_gateway: RunningGateway, telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    fake_rasa.responder = offer
    await say(telegram, "hi")
    (question,) = await sent_to(telegram, 1)
    assert question.text == "Is it OK to carry on?"
    markup = question.params["reply_markup"]["inline_keyboard"]
    buttons = [button for row in markup for button in row]
    assert [b["text"] for b in buttons] == ["Yes", "No", "Tell me more"]
    long_payload = '/inform{"detail": "' + "x" * 80 + '"}'
    assert [b["callback_data"] for b in buttons] == [
        "/affirm",
        "/deny",
        callback_data(long_payload),
    ]
    assert len(buttons[2]["callback_data"].encode()) <= 64

    press = telegram.callback_update(CHAT, "/deny", message_id=question.message_id)
    assert (await deliver(telegram, press)).status_code == 200
    await sent_to(telegram, 2)
    answered = await asyncio.to_thread(
        telegram.wait_for, lambda: telegram.calls("answerCallbackQuery") or None, 5
    )
    assert answered[0].params["callback_query_id"] == press["callback_query"]["id"]
    edited = await asyncio.to_thread(
        telegram.wait_for, lambda: telegram.calls("editMessageReplyMarkup") or None, 5
    )
    assert int(edited[0].params["message_id"]) == question.message_id

    await say(telegram, "hi")
    await sent_to(telegram, 3)
    await deliver(telegram, telegram.callback_update(CHAT, callback_data(long_payload)))
    await sent_to(telegram, 4)
    # A forged or stale press is text like any other: its slash is dropped.
    await deliver(telegram, telegram.callback_update(CHAT, "/affirm"))
    await sent_to(telegram, 5)
    assert fake_rasa.messages() == ["hi", "/deny", "hi", long_payload, "affirm"]


async def test_stickers_photos_voice_and_locations_get_a_text_only_reply(
    tg_gateway: RunningGateway, telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    def with_content(update: dict[str, Any], **content: Any) -> dict[str, Any]:
        message = dict(update["message"])
        message.pop("text")
        message.update(content)
        return {**update, "message": message}

    file = {"file_id": "AgAD", "file_unique_id": "AQAD"}
    sticker = {
        **file,
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    }
    base = lambda: telegram.message_update(CHAT, "x")  # noqa: E731
    await deliver(telegram, with_content(base(), sticker=sticker))
    await deliver(telegram, with_content(base(), voice={**file, "duration": 3}))
    await deliver(telegram, with_content(base(), location={"latitude": 51.5, "longitude": -0.1}))
    await deliver(
        telegram,
        with_content(base(), photo=[{**file, "width": 9, "height": 9}], caption="this is me"),
    )
    sent = await sent_to(telegram, 5)
    await settle()
    assert ["only read text" in m.text for m in sent] == [True, True, True, True, False]
    assert sent[4].text == "echo: this is me"
    assert fake_rasa.messages() == ["this is me"]
    assert not telegram.calls("getFile")
    kinds = rows(tg_gateway, select(InboxRow.media_kind).order_by(InboxRow.id))
    assert [k for (k,) in kinds] == ["sticker", "voice", "location", "photo", None]


async def test_an_edited_message_is_screened_as_new_text(
    tg_gateway: RunningGateway, telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    original = telegram.message_update(CHAT, "i had a bad day")
    await deliver(telegram, original)
    await sent_to(telegram, 1)
    edit = {
        "update_id": original["update_id"] + 1000,
        "edited_message": {
            **original["message"],
            "text": CRISIS_TEXT,
            "edit_date": original["message"]["date"] + 5,
        },
    }
    assert (await deliver(telegram, edit)).status_code == 200
    sent = await sent_to(telegram, 3)
    assert "999" in sent[1].text  # the crisis reply comes first
    assert sent[2].text == f"echo: {CRISIS_TEXT}"
    conversation_id = conversation_of(tg_gateway, "telegram", str(CHAT))
    assert count_escalations(tg_gateway, conversation_id) == 1
    assert fake_rasa.requests[1]["metadata"]["safeguarding"]["severity"] >= 4


async def test_stop_is_answered_by_the_dialogue_then_nothing_more_until_they_write(
    tg_gateway: RunningGateway, telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    fake_rasa.responder = lambda sender, message, metadata: [
        {"text": "OK, I've stopped." if message == "stop" else f"echo: {message}"}
    ]
    await say(telegram, "/stop")
    assert (await sent_to(telegram, 1))[0].text == "OK, I've stopped."
    conversation_id = conversation_of(tg_gateway, "telegram", str(CHAT))
    await queue_message(tg_gateway, conversation_id, "a link worker's message", "reply", "telegram")
    await settle()
    assert len(telegram.sent()) == 1
    await eventually(
        lambda: rows(
            tg_gateway,
            select(OutboxRow.status, OutboxRow.error).where(OutboxRow.in_reply_to.is_(None)),
        ),
        [(FAILED, "opted_out")],
    )
    await say(telegram, "hello again")
    assert (await sent_to(telegram, 2))[1].text == "echo: hello again"


async def test_flood_control_and_server_errors_are_retried(
    tg_gateway: RunningGateway, telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    telegram.fail_next(1, status=500, method="sendMessage")
    telegram.fail_next(1, status=429, retry_after=1, method="sendMessage")
    await say(telegram, "hello")
    (reply,) = await sent_to(telegram, 1, timeout=15)
    assert reply.text == "echo: hello"
    calls = telegram.calls("sendMessage")
    assert [c.status for c in calls] == [500, 429, 200]
    assert calls[2].received_at - calls[1].received_at >= 0.95


async def test_a_blocked_bot_stops_sending_until_they_write_again(
    tg_gateway: RunningGateway, telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    telegram.block(CHAT)
    await say(telegram, "hello")
    await asyncio.to_thread(telegram.wait_for, lambda: telegram.calls("sendMessage") or None, 5)
    await eventually(
        lambda: rows(tg_gateway, select(OutboxRow.status, OutboxRow.error)),
        [(FAILED, "telegram:Forbidden")],
    )
    assert scalar(tg_gateway, select(ConversationRow.opted_out)) is True
    await settle()
    assert len(telegram.calls("sendMessage")) == 1  # not retried
    telegram.blocked.clear()
    await say(telegram, "/start")
    assert (await sent_to(telegram, 1))[0].text == "echo: hi"


async def test_replies_to_one_chat_are_paced(
    tg_gateway: RunningGateway, telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    fake_rasa.responder = lambda sender, message, metadata: [
        {"text": f"part {n}"} for n in range(6)
    ]
    await say(telegram, "go")
    sent = await sent_to(telegram, 6, timeout=15)
    assert [m.text for m in sent] == [f"part {n}" for n in range(6)]
    times = [m.received_at for m in sent]
    # A burst of three, then about one a second: never more than three in any second. (Times
    # are when the fake received them: one send held up on a loaded machine narrows the gap
    # after it, so the bound is loose; without pacing all six arrive within a few ms.)
    assert 2.5 <= times[5] - times[0] < 8, times
    assert all(times[i] - times[i - 3] >= 0.5 for i in range(3, 6)), times
    assert times[2] - times[0] < 0.7


async def test_group_chats_are_ignored(
    tg_gateway: RunningGateway, telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    update = telegram.message_update(CHAT, "hello group")
    update["message"]["chat"] = {"id": -100123, "type": "supergroup", "title": "A group"}
    assert (await deliver(telegram, update)).status_code == 200
    await settle()
    assert scalar(tg_gateway, select(func.count()).select_from(InboxRow)) == 0
    assert telegram.sent() == []
