"""The fake Twilio and Telegram APIs answer the real SDKs like the real services do."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_twilio import FakeTwilio
from youthlink.twilio_client import TwilioRateLimited, twilio_client

TO = "+447700900123"
FROM = "+447700900000"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records the form posts it gets."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    fields = {"json": body}
                else:
                    fields = {k: v[0] for k, v in parse_qs(body).items()}
                receiver.posts.append((self.path, dict(self.headers.items()), fields))
                receiver.arrived.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


# -- Twilio --------------------------------------------------------------------------------------


def test_twilio_accepts_a_message_and_records_the_request(twilio: FakeTwilio) -> None:
    client = twilio_client(twilio.account_sid, twilio.auth_token, api_base=twilio.url)
    message = client.messages.create(to=TO, from_=FROM, body="hello")
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert (message.to, message.from_, message.body, message.status) == (
        TO,
        FROM,
        "hello",
        "queued",
    )
    assert message.date_created is not None
    (sent,) = twilio.sent()
    assert (sent.sid, sent.to, sent.from_, sent.body) == (message.sid, TO, FROM, "hello")
    (request,) = twilio.message_requests()
    assert request.method == "POST"
    assert request.form() == {"To": [TO], "From": [FROM], "Body": ["hello"]}
    assert request.headers["authorization"].startswith("Basic ")
    fetched = client.messages(message.sid).fetch()
    assert fetched.body == "hello"


def test_twilio_checks_credentials_and_fields(twilio: FakeTwilio) -> None:
    wrong = twilio_client(twilio.account_sid, "not-the-token", api_base=twilio.url)
    with pytest.raises(TwilioRestException) as denied:
        wrong.messages.create(to=TO, from_=FROM, body="hello")
    assert (denied.value.status, denied.value.code) == (401, 20003)
    client = twilio_client(twilio.account_sid, twilio.auth_token, api_base=twilio.url)
    for kwargs, code in (
        ({"to": "07700 900123", "from_": FROM, "body": "x"}, 21211),
        ({"to": TO, "body": "x"}, 21603),
        ({"to": TO, "from_": FROM}, 21602),
    ):
        with pytest.raises(TwilioRestException) as invalid:
            client.messages.create(**kwargs)
        assert (invalid.value.status, invalid.value.code) == (400, code)
    assert twilio.sent() == []
    assert len(twilio.exchanges) == 4  # refused requests are recorded too
    whatsapp = client.messages.create(to=f"whatsapp:{TO}", from_=f"whatsapp:{FROM}", body="hi")
    assert whatsapp.to == f"whatsapp:{TO}"


def test_twilio_failures_are_scriptable(twilio: FakeTwilio) -> None:
    client = twilio_client(twilio.account_sid, twilio.auth_token, api_base=twilio.url)
    twilio.fail_next(2, status=500)
    twilio.fail_next(1, status=429, retry_after=3)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as failed:
            client.messages.create(to=TO, from_=FROM, body="hello")
        assert failed.value.status == 500
    with pytest.raises(TwilioRateLimited) as limited:
        client.messages.create(to=TO, from_=FROM, body="hello")
    assert (limited.value.status, limited.value.code, limited.value.retry_after) == (429, 20429, 3)
    client.messages.create(to=TO, from_=FROM, body="hello")
    assert [e.status for e in twilio.exchanges] == [500, 500, 429, 201]

    twilio.unsubscribe(TO)
    with pytest.raises(TwilioRestException) as stopped:
        client.messages.create(to=TO, from_=FROM, body="hello")
    assert (stopped.value.status, stopped.value.code) == (400, 21610)


def test_twilio_can_go_away_and_come_back_on_the_same_port(twilio: FakeTwilio) -> None:
    client = twilio_client(twilio.account_sid, twilio.auth_token, api_base=twilio.url, timeout=2)
    url = twilio.url
    twilio.stop()
    with pytest.raises(Exception):  # noqa: B017 (requests' ConnectionError, whatever its name)
        client.messages.create(to=TO, from_=FROM, body="hello")
    twilio.start()
    assert twilio.url == url
    client.messages.create(to=TO, from_=FROM, body="hello")
    assert len(twilio.sent()) == 1


async def test_twilio_answers_the_asynchronous_client(twilio: FakeTwilio) -> None:
    client = twilio_client(
        twilio.account_sid, twilio.auth_token, api_base=twilio.url, asynchronous=True
    )
    try:
        message = await client.messages.create_async(to=TO, from_=FROM, body="async hello")
        twilio.fail_next(1, status=429, retry_after=1)
        with pytest.raises(TwilioRateLimited) as limited:
            await client.messages.create_async(to=TO, from_=FROM, body="again")
    finally:
        await client.http_client.close()  # type: ignore[attr-defined]
    assert limited.value.retry_after == 1
    assert [m.sid for m in twilio.sent()] == [message.sid]


async def test_a_slow_twilio_times_out_instead_of_hanging(twilio: FakeTwilio) -> None:
    twilio.latency = 2.0
    client = twilio_client(
        twilio.account_sid, twilio.auth_token, api_base=twilio.url, asynchronous=True, timeout=0.3
    )
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            await client.messages.create_async(to=TO, from_=FROM, body="hello")
    finally:
        await client.http_client.close()  # type: ignore[attr-defined]
    assert time.monotonic() - started < 1.5


def test_twilio_posts_signed_status_callbacks(receiver: Receiver) -> None:
    with FakeTwilio(callback_statuses=("sent", "delivered")) as twilio:
        client = twilio_client(twilio.account_sid, twilio.auth_token, api_base=twilio.url)
        callback = receiver.url("/twilio/status")
        message = client.messages.create(to=TO, from_=FROM, body="hi", status_callback=callback)
        twilio.wait_for(lambda: len(twilio.callback_results) == 2)
    assert [r[1:] for r in twilio.callback_results] == [("sent", 204), ("delivered", 204)]
    validator = RequestValidator(twilio.auth_token)
    for (path, headers, fields), status in zip(receiver.posts, ("sent", "delivered"), strict=True):
        assert path == "/twilio/status"
        assert (fields["MessageSid"], fields["MessageStatus"]) == (message.sid, status)
        assert validator.validate(callback, fields, headers["X-Twilio-Signature"])
    assert twilio.sent()[0].status_callback == callback


def test_twilio_posts_signed_inbound_messages(twilio: FakeTwilio, receiver: Receiver) -> None:
    url = receiver.url("/twilio/sms")
    response = twilio.post_inbound(url, From=TO, Body="hiya")
    assert response.status_code == 204
    ((_, headers, fields),) = receiver.posts
    assert (fields["From"], fields["Body"], fields["To"]) == (TO, "hiya", "+447700900000")
    assert fields["MessageSid"].startswith("SM") and fields["AccountSid"] == twilio.account_sid
    assert RequestValidator(twilio.auth_token).validate(url, fields, headers["X-Twilio-Signature"])
    assert not RequestValidator("other").validate(url, fields, headers["X-Twilio-Signature"])


# -- Telegram ------------------------------------------------------------------------------------


async def test_telegram_sends_messages_and_records_calls(telegram: FakeTelegram) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
    async with Bot(telegram.token, base_url=telegram.base_url) as bot:
        assert bot.username == "youthlink_test_bot"
        first = await bot.send_message(chat_id=5550001, text="hello")
        second = await bot.send_message(chat_id="5550001", text="again", reply_markup=keyboard)
        await bot.send_chat_action(chat_id=5550001, action="typing")
        assert await bot.answer_callback_query("123")
    assert (first.chat.id, first.text, first.message_id, second.message_id) == (
        5550001, "hello", 1, 2,
    )  # fmt: skip
    assert second.reply_markup == keyboard
    assert [(m.chat_id, m.text) for m in telegram.sent()] == [
        ("5550001", "hello"),
        ("5550001", "again"),
    ]
    assert [c.method for c in telegram.calls()] == [
        "getMe", "sendMessage", "sendMessage", "sendChatAction", "answerCallbackQuery",
    ]  # fmt: skip
    call = telegram.calls("sendMessage")[1]
    assert call.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]
    }
    assert call.token == telegram.token and call.status == 200


async def test_telegram_failures_are_scriptable(telegram: FakeTelegram) -> None:
    telegram.fail_next(1, status=500, method="sendMessage")
    telegram.fail_next(1, status=429, retry_after=7, method="sendMessage")
    telegram.block(5550002)
    telegram.known_chats = {"5550001", "5550002"}
    async with Bot(telegram.token, base_url=telegram.base_url) as bot:
        with pytest.raises(NetworkError):
            await bot.send_message(chat_id=5550001, text="hello")
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(chat_id=5550001, text="hello")
        assert flood.value._retry_after.total_seconds() == 7
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(chat_id=5550002, text="hello")
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(chat_id=5550003, text="hello")
        with pytest.raises(BadRequest, match=r"(?i)text is empty"):
            await bot.send_message(chat_id=5550001, text=" ")
        await bot.send_message(chat_id=5550001, text="hello")
    assert [c.status for c in telegram.calls("sendMessage")] == [500, 429, 403, 400, 400, 200]
    with pytest.raises(InvalidToken):
        async with Bot("123:wrong", base_url=telegram.base_url):
            pass


async def test_telegram_serves_queued_updates(telegram: FakeTelegram) -> None:
    first = telegram.push(telegram.message_update(5550001, "hi"))
    second = telegram.push(telegram.callback_update(5550001, "yes"))
    async with Bot(telegram.token, base_url=telegram.base_url) as bot:
        updates = await bot.get_updates(timeout=0)
        assert [u.update_id for u in updates] == [first["update_id"], second["update_id"]]
        assert updates[0].message is not None and updates[0].message.text == "hi"
        assert updates[1].callback_query is not None and updates[1].callback_query.data == "yes"
        # Asking from after the last one confirms both; a long poll then waits and comes back.
        assert await bot.get_updates(offset=second["update_id"] + 1, timeout=1) == ()
        third = telegram.push(telegram.message_update(5550001, "still there?"))
        (update,) = await bot.get_updates(offset=second["update_id"] + 1, timeout=1)
        assert update.update_id == third["update_id"]


async def test_telegram_delivers_updates_to_the_webhook(
    telegram: FakeTelegram, receiver: Receiver
) -> None:
    url = receiver.url("/telegram/webhook")
    async with Bot(telegram.token, base_url=telegram.base_url) as bot:
        assert await bot.set_webhook(url, secret_token="s3cret-token")
        assert (await bot.get_webhook_info()).url == url
        with pytest.raises(Exception, match="webhook is active"):
            await bot.get_updates()
    update = telegram.message_update(5550001, "hi")
    assert telegram.deliver(update).status_code == 204
    ((path, headers, fields),) = receiver.posts
    assert path == "/telegram/webhook"
    assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cret-token"
    assert httpx.Response(200, content=fields["json"]).json() == update
    async with Bot(telegram.token, base_url=telegram.base_url) as bot:
        assert await bot.delete_webhook()
    assert telegram.webhook == {}


async def test_telegram_unknown_methods_are_404_and_handlers_can_be_added(
    telegram: FakeTelegram,
) -> None:
    telegram.handlers["getChat"] = lambda params: {
        "id": int(params["chat_id"]),
        "type": "private",
        "accent_color_id": 0,
        "max_reaction_count": 11,
    }
    async with Bot(telegram.token, base_url=telegram.base_url) as bot:
        chat = await bot.get_chat(5550001)
        assert chat.id == 5550001
        with pytest.raises(InvalidToken):  # python-telegram-bot's reading of a 404
            await bot.get_my_commands()
