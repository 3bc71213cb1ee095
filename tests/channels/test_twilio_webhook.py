"""SMS and WhatsApp end to end: signed webhooks into a running gateway, replies to a fake Twilio.

The gateway runs with uvicorn on a free port; Twilio and Rasa are fakes on 127.0.0.1, spoken
to over real HTTP. Blocking helpers of the fakes run in threads so the gateway keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from channels import outbox
from channels.conversations import conversation_id_for
from channels.database import utcnow
from channels.messages import Outbound
from channels.safeguarding import Safeguarding
from channels.sms_render import UCS2, segments
from channels.tables import FAILED, SENT, ConversationRow, InboxRow, OutboxRow
from tests.channels.conftest import RunningGateway
from tests.support.db import fresh_settings
from tests.support.fake_rasa import FakeRasa
from tests.support.fake_twilio import FakeTwilio, SentMessage
from tests.support.ports import free_port
from youthlink.crypto import Cipher
from youthlink.db import make_engine, make_sessionmaker

OUR_NUMBER = "+447700900000"
CRISIS_TEXT = "i'm going to take all my pills tonight"
QUESTION: list[dict[str, Any]] = [
    {
        "text": "Shall we carry on?",
        "buttons": [
            {"title": "Yes", "payload": "/affirm"},
            {"title": "No", "payload": "/deny"},
        ],
    },
    {"custom": {"asking": "continue"}},
]


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(callback_statuses=("sent", "delivered")) as fake:
        yield fake


@pytest.fixture
async def sms_gateway(
    sqlite_url: str, fake_rasa: FakeRasa, twilio: FakeTwilio, safeguarding: Safeguarding
) -> AsyncIterator[RunningGateway]:
    port = free_port()
    settings = fresh_settings(
        sqlite_url,
        rasa_url=fake_rasa.url,
        public_url=f"http://127.0.0.1:{port}",
        twilio_account_sid=twilio.account_sid,
        twilio_auth_token=twilio.auth_token,
        twilio_from_number=OUR_NUMBER,
        twilio_api_base=twilio.url,
    )
    running = RunningGateway(settings, safeguarding, port=port)
    await running.start()
    yield running
    await running.stop()


async def text_in(
    gateway: RunningGateway, twilio: FakeTwilio, From: str, Body: str, **extra: str
) -> httpx.Response:
    """Twilio delivers one inbound message to the gateway's webhook (signed)."""
    url = f"{gateway.url}/twilio/messages"
    return await asyncio.to_thread(twilio.post_inbound, url, From=From, Body=Body, **extra)


async def sent_to(twilio: FakeTwilio, count: int, timeout: float = 10.0) -> list[SentMessage]:
    return await asyncio.to_thread(twilio.wait_for_messages, count, timeout)


async def settle(seconds: float = 0.6) -> None:
    """Give the worker time to do anything more it would (wrongly) do."""
    await asyncio.sleep(seconds)


def scalar(gateway: RunningGateway, statement: Any) -> Any:
    engine = make_engine(gateway.settings.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(statement).scalar()
    finally:
        engine.dispose()


def rows(gateway: RunningGateway, statement: Any) -> list[Any]:
    engine = make_engine(gateway.settings.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement).all())
    finally:
        engine.dispose()


async def eventually(read: Any, expected: Any, timeout: float = 5.0) -> None:
    """Wait until `read()` (a blocking database read) returns `expected`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (value := await asyncio.to_thread(read)) != expected:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{value!r} != {expected!r}")
        await asyncio.sleep(0.05)


def conversation_of(gateway: RunningGateway, channel: str, address: str) -> str:
    settings = gateway.settings
    return conversation_id_for(
        Cipher.from_keys(settings.encryption_keys, settings.hash_key), channel, address
    )


async def test_an_sms_is_acknowledged_then_answered_through_the_rest_api(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    response = await text_in(sms_gateway, twilio, "+447700900123", "hello")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    (reply,) = await sent_to(twilio, 1)
    assert (reply.to, reply.from_, reply.body) == ("+447700900123", OUR_NUMBER, "echo: hello")
    assert reply.status_callback == f"{sms_gateway.url}/twilio/status"
    conversation_id = conversation_of(sms_gateway, "sms", "+447700900123")
    assert fake_rasa.requests == [
        {"sender": conversation_id, "message": "hello", "metadata": {"channel": "sms"}}
    ]
    # Twilio's status callbacks (signed) reach the outbox.
    await asyncio.to_thread(twilio.wait_for, lambda: len(twilio.callback_results) >= 2 or None, 10)
    assert [code for _, _, code in twilio.callback_results] == [200, 200]
    await eventually(lambda: scalar(sms_gateway, select(OutboxRow.delivery_status)), "delivered")
    assert scalar(sms_gateway, select(OutboxRow.provider_message_id)) == reply.sid


async def test_the_message_is_stored_before_it_is_acknowledged(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    fake_rasa.stop()
    response = await text_in(sms_gateway, twilio, "+447700900124", "are you there")
    assert response.status_code == 200
    stored = rows(sms_gateway, select(InboxRow.channel, InboxRow.provider_message_id))
    assert len(stored) == 1 and stored[0].channel == "sms"
    assert stored[0].provider_message_id.startswith("SM")
    fake_rasa.start()


async def test_forged_and_unsigned_requests_are_refused_and_nothing_is_stored(
    sms_gateway: RunningGateway, twilio: FakeTwilio
) -> None:
    url = f"{sms_gateway.url}/twilio/messages"
    params = {
        "MessageSid": "SM" + "b" * 32,
        "From": "+447700900125",
        "To": OUR_NUMBER,
        "Body": "hi",
        "AccountSid": twilio.account_sid,
    }
    async with httpx.AsyncClient() as client:
        unsigned = await client.post(url, data=params)
        forged = await client.post(
            url, data=params, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
        )
        signature = twilio.signature(url, params)
        tampered = await client.post(
            url, data={**params, "Body": "changed"}, headers={"X-Twilio-Signature": signature}
        )
        other_url = await client.post(
            f"{sms_gateway.url}/twilio/messages?x=1",
            data=params,
            headers={"X-Twilio-Signature": signature},
        )
        status_forged = await client.post(
            f"{sms_gateway.url}/twilio/status",
            data={"MessageSid": "SM1", "MessageStatus": "delivered"},
        )
    for response in (unsigned, forged, tampered, other_url, status_forged):
        assert response.status_code == 403
    assert scalar(sms_gateway, select(func.count()).select_from(InboxRow)) == 0
    assert scalar(sms_gateway, select(func.count()).select_from(ConversationRow)) == 0
    await settle(0.3)
    assert twilio.sent() == []


async def test_a_replayed_or_repeated_delivery_is_processed_once(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    url = f"{sms_gateway.url}/twilio/messages"
    params = {
        "MessageSid": "SM" + "c" * 32,
        "AccountSid": twilio.account_sid,
        "From": "+447700900126",
        "To": OUR_NUMBER,
        "Body": "only once",
        "NumMedia": "0",
    }
    first, again, replay = await asyncio.gather(
        asyncio.to_thread(twilio.post_signed, url, params),
        asyncio.to_thread(twilio.post_signed, url, params),
        asyncio.to_thread(twilio.post_signed, url, params),
    )
    assert [first.status_code, again.status_code, replay.status_code] == [200, 200, 200]
    await sent_to(twilio, 1)
    await settle()
    assert fake_rasa.messages() == ["only once"]
    assert [m.body for m in twilio.sent()] == ["echo: only once"]
    assert scalar(sms_gateway, select(func.count()).select_from(InboxRow)) == 1


async def test_whatsapp_arrives_on_the_same_webhook_and_goes_back_the_same_way(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    sandbox = "whatsapp:+14155238886"
    await text_in(sms_gateway, twilio, "whatsapp:+447700900127", "hi there", To=sandbox)
    (reply,) = await sent_to(twilio, 1)
    assert (reply.to, reply.from_, reply.body) == (
        "whatsapp:+447700900127",
        sandbox,
        "echo: hi there",
    )
    assert fake_rasa.requests[0]["metadata"] == {"channel": "whatsapp"}
    # The same number on SMS is another conversation.
    await text_in(sms_gateway, twilio, "+447700900127", "hi by sms")
    replies = await sent_to(twilio, 2)
    assert (replies[1].to, replies[1].from_) == ("+447700900127", OUR_NUMBER)
    senders = {r["sender"] for r in fake_rasa.requests}
    assert len(senders) == 2


async def test_buttons_become_numbered_options_and_a_number_answers(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    fake_rasa.responder = lambda sender, message, metadata: (
        QUESTION if message == "hi" else [{"text": f"got {message}"}]
    )
    await text_in(sms_gateway, twilio, "+447700900128", "hi")
    (question,) = await sent_to(twilio, 1)
    assert question.body == "Shall we carry on?\nReply 1 for Yes or 2 for No."
    await text_in(sms_gateway, twilio, "+447700900128", "2")
    await sent_to(twilio, 2)
    await text_in(sms_gateway, twilio, "+447700900128", "2")  # no options offered any more
    await sent_to(twilio, 3)
    assert fake_rasa.messages() == ["hi", "/deny", "2"]


async def test_long_and_emoji_replies_are_split_into_short_texts(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    long = " ".join(f"Here is sentence {n} of quite a long answer from the bot." for n in range(20))
    emoji = " ".join(["That sounds really hard 💙."] * 12)
    fake_rasa.responder = lambda sender, message, metadata: [
        {"text": long if message == "long" else emoji}
    ]
    await text_in(sms_gateway, twilio, "+447700900129", "long")
    await text_in(sms_gateway, twilio, "+447700900130", "emoji")
    await settle(1.5)
    sent = twilio.sent()
    long_parts = [m.body for m in sent if m.to == "+447700900129"]
    emoji_parts = [m.body for m in sent if m.to == "+447700900130"]
    assert len(long_parts) > 1 and len(emoji_parts) > 1
    assert " ".join(long_parts) == long
    assert " ".join(emoji_parts) == emoji
    for part in long_parts:
        assert segments(part).count <= 3 and part.endswith(".")
    for part in emoji_parts:
        assert segments(part).encoding == UCS2 and segments(part).count <= 3
        assert part.endswith("💙.")


async def test_media_gets_a_kind_text_only_reply_and_is_never_fetched(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    media_url = f"{twilio.url}/2010-04-01/Accounts/{twilio.account_sid}/Messages/MM1/Media/ME1"
    await text_in(
        sms_gateway,
        twilio,
        "+447700900131",
        "",
        NumMedia="1",
        MediaUrl0=media_url,
        MediaContentType0="audio/ogg",
    )
    (notice,) = await sent_to(twilio, 1)
    assert "only read text" in notice.body
    await text_in(
        sms_gateway,
        twilio,
        "whatsapp:+447700900131",
        "what do you think",
        NumMedia="1",
        MediaUrl0=media_url,
        MediaContentType0="image/jpeg",
    )
    messages = await sent_to(twilio, 3)
    assert "only read text" in messages[1].body
    assert messages[2].body == "echo: what do you think"
    await settle(0.3)
    assert fake_rasa.messages() == ["what do you think"]
    assert not any("/Media/" in r.path for r in twilio.message_requests())
    assert all("/Media/" not in e.request.path for e in twilio.exchanges)
    # Neither the media URL nor the media is anywhere in the database.
    database = sms_gateway.settings.database_url.removeprefix("sqlite:///")
    raw = b"".join(p.read_bytes() for p in Path(database).parent.glob("*.db*"))
    assert b"ME1" not in raw and media_url.encode() not in raw
    kinds = rows(sms_gateway, select(InboxRow.media_kind).order_by(InboxRow.id))
    assert [k for (k,) in kinds] == ["audio", "image", None]


async def test_empty_and_very_long_bodies_are_handled(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    empty = await text_in(sms_gateway, twilio, "+447700900132", "")
    assert empty.status_code == 200
    (notice,) = await sent_to(twilio, 1)
    assert "empty" in notice.body
    long_body = "word " * 400  # 2,000 characters: more than Twilio's 1,600
    response = await text_in(sms_gateway, twilio, "+447700900132", long_body)
    assert response.status_code == 200
    await sent_to(twilio, 2)
    assert fake_rasa.messages() == [long_body.strip()]


async def test_stop_start_and_help_as_carriers_expect(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    number = "+447700900133"
    help_text = sms_gateway.safeguarding.help_reply("unknown")
    await text_in(sms_gateway, twilio, number, "hi")
    await sent_to(twilio, 1)
    await text_in(sms_gateway, twilio, number, "HELP")
    assert (await sent_to(twilio, 2))[1].body == help_text
    await text_in(sms_gateway, twilio, number, "Stop")
    confirmation = (await sent_to(twilio, 3))[2].body
    assert "unsubscribed" in confirmation and "START" in confirmation
    conversation_id = conversation_of(sms_gateway, "sms", number)
    assert scalar(sms_gateway, select(ConversationRow.opted_out)) is True

    # Nothing more is sent: not an answer, not a link worker's message, not a page.
    await text_in(sms_gateway, twilio, number, "are you still there")
    await queue_message(sms_gateway, conversation_id, "A message from your link worker", "reply")
    await queue_message(sms_gateway, conversation_id, "A page", "page")
    # HELP is still answered after STOP.
    await text_in(sms_gateway, twilio, number, "help")
    assert (await sent_to(twilio, 4))[3].body == help_text
    await settle()
    assert len(twilio.sent()) == 4
    assert fake_rasa.messages() == ["hi"]
    refused = rows(
        sms_gateway,
        select(OutboxRow.status, OutboxRow.error).where(
            OutboxRow.kind.in_(("reply", "page")), OutboxRow.notice.is_(None), OutboxRow.id > 1
        ),
    )
    assert refused == [(FAILED, "opted_out"), (FAILED, "opted_out")]

    await text_in(sms_gateway, twilio, number, "START")
    welcome = (await sent_to(twilio, 5))[4].body
    assert "Welcome back" in welcome
    await text_in(sms_gateway, twilio, number, "hello again")
    assert (await sent_to(twilio, 6))[5].body == "echo: hello again"
    assert fake_rasa.messages() == ["hi", "hello again"]


async def queue_message(
    gateway: RunningGateway, conversation_id: str, body: str, kind: str, channel: str = "sms"
) -> None:
    """Queue a message the way another part of the system would (a link worker, a page)."""
    settings = gateway.settings
    cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
    engine = make_engine(settings.database_url)
    with make_sessionmaker(engine).begin() as session:
        outbox.enqueue(
            session,
            cipher,
            conversation_id=conversation_id,
            channel=channel,
            outbound=Outbound({"text": body}),
            kind=kind,
            in_reply_to=None,
            now=utcnow(),
        )
    engine.dispose()


async def test_twilio_confirmed_stop_is_not_confirmed_twice(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    # Twilio's Advanced Opt-Out recognised the keyword and replied itself.
    await text_in(sms_gateway, twilio, "+447700900134", "ARRET", OptOutType="STOP")
    await settle()
    assert twilio.sent() == []
    assert fake_rasa.messages() == []
    assert scalar(sms_gateway, select(ConversationRow.opted_out)) is True


async def test_a_disclosure_after_stop_is_recorded_but_no_sms_is_sent(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    number = "+447700900135"
    await text_in(sms_gateway, twilio, number, "STOP")
    await sent_to(twilio, 1)
    await text_in(sms_gateway, twilio, number, CRISIS_TEXT)
    conversation_id = conversation_of(sms_gateway, "sms", number)
    for _ in range(100):
        if count_escalations(sms_gateway, conversation_id):
            break
        await asyncio.sleep(0.05)
    assert count_escalations(sms_gateway, conversation_id) == 1
    await settle()
    assert len(twilio.sent()) == 1  # only the STOP confirmation
    crisis = rows(
        sms_gateway, select(OutboxRow.status, OutboxRow.error).where(OutboxRow.kind == "crisis")
    )
    assert crisis == [(FAILED, "opted_out")]


async def test_on_whatsapp_a_disclosure_after_stop_still_gets_the_crisis_reply(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    number = "whatsapp:+447700900136"
    await text_in(sms_gateway, twilio, number, "stop", To="whatsapp:" + OUR_NUMBER)
    await sent_to(twilio, 1)
    await text_in(sms_gateway, twilio, number, CRISIS_TEXT, To="whatsapp:" + OUR_NUMBER)
    crisis = (await sent_to(twilio, 2))[1]
    assert "999" in crisis.body
    conversation_id = conversation_of(sms_gateway, "whatsapp", "+447700900136")
    await settle()
    assert count_escalations(sms_gateway, conversation_id) == 1
    assert len(twilio.sent()) == 2
    assert fake_rasa.messages() == []  # still opted out: the dialogue is not resumed


def count_escalations(gateway: RunningGateway, conversation_id: str) -> int:
    engine = make_engine(gateway.settings.database_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM escalations WHERE conversation_id = :c"),
                    {"c": conversation_id},
                ).scalar()
                or 0
            )
    finally:
        engine.dispose()


async def test_twilio_unsubscribed_error_opts_the_conversation_out(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    number = "+447700900137"
    twilio.unsubscribe(number)  # opted out at Twilio, with a keyword we did not see
    await text_in(sms_gateway, twilio, number, "hello")
    await asyncio.to_thread(twilio.wait_for, lambda: len(twilio.message_requests()) >= 1 or None)
    await settle()
    assert len(twilio.message_requests()) == 1  # refused for good: not retried
    await eventually(
        lambda: rows(sms_gateway, select(OutboxRow.status, OutboxRow.error)),
        [(FAILED, "twilio:21610")],
    )
    assert scalar(sms_gateway, select(ConversationRow.opted_out)) is True


async def test_provider_errors_are_retried_with_backoff_and_retry_after(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    twilio.fail_next(2, status=500)
    twilio.fail_next(1, status=429, retry_after=1)
    await text_in(sms_gateway, twilio, "+447700900138", "hello")
    (reply,) = await sent_to(twilio, 1, timeout=15)
    assert reply.body == "echo: hello"
    attempts = twilio.message_requests()
    assert len(attempts) == 4
    # The 429 asked for a second: the next attempt waited at least that long.
    assert attempts[3].received_at - attempts[2].received_at >= 0.95
    await eventually(
        lambda: rows(sms_gateway, select(OutboxRow.status, OutboxRow.attempts)), [(SENT, 3)]
    )


async def test_twilio_down_then_back_loses_nothing_and_keeps_order(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    twilio.stop()
    for n in range(3):
        await asyncio.to_thread(
            twilio.post_inbound,
            f"{sms_gateway.url}/twilio/messages",
            From="+447700900139",
            Body=f"message {n}",
        )
    await settle(1.0)
    twilio.start()
    replies = await sent_to(twilio, 3, timeout=15)
    assert [r.body for r in replies] == ["echo: message 0", "echo: message 1", "echo: message 2"]


async def test_rasa_stopped_mid_conversation_every_message_answered_once_in_order(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    number = "+447700900140"
    await text_in(sms_gateway, twilio, number, "one")
    await sent_to(twilio, 1)
    fake_rasa.stop()
    for word in ("two", "three", "four"):
        await text_in(sms_gateway, twilio, number, word)
    holding = (await sent_to(twilio, 2))[1]
    assert holding.body.startswith("Thanks - I've got your message.")
    await settle(1.0)
    assert len(twilio.sent()) == 2  # one holding reply, not one per message
    fake_rasa.start()
    sent = await sent_to(twilio, 5, timeout=15)
    await settle()
    assert [m.body for m in twilio.sent()] == [
        "echo: one",
        holding.body,
        "echo: two",
        "echo: three",
        "echo: four",
    ]
    assert fake_rasa.messages() == ["one", "two", "three", "four"]
    assert len(sent) == 5


async def test_a_restarted_gateway_resumes_without_repeating_itself(
    sms_gateway: RunningGateway, twilio: FakeTwilio, fake_rasa: FakeRasa
) -> None:
    fake_rasa.stop()
    twilio.stop()
    await asyncio.to_thread(
        twilio.post_inbound,
        f"{sms_gateway.url}/twilio/messages",
        From="+447700900141",
        Body="first",
    )
    await asyncio.to_thread(
        twilio.post_inbound,
        f"{sms_gateway.url}/twilio/messages",
        From="+447700900141",
        Body=CRISIS_TEXT,
    )
    await settle(0.5)
    await sms_gateway.stop()
    twilio.start()
    fake_rasa.start()
    await sms_gateway.start()
    sent = await sent_to(twilio, 4, timeout=15)
    await settle()
    kinds = rows(sms_gateway, select(OutboxRow.kind, OutboxRow.status).order_by(OutboxRow.id))
    assert sorted(k for k, _ in kinds) == ["crisis", "holding", "reply", "reply"]
    assert all(status == SENT for _, status in kinds)
    assert len(twilio.sent()) == 4 == len(sent)
    assert fake_rasa.messages() == ["first", CRISIS_TEXT]


async def test_logs_hold_no_numbers_or_words(
    sms_gateway: RunningGateway,
    twilio: FakeTwilio,
    fake_rasa: FakeRasa,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    number = "+447700900142"
    await text_in(sms_gateway, twilio, number, "my secret words qz7")
    twilio.fail_next(1, status=500)
    await text_in(sms_gateway, twilio, number, CRISIS_TEXT)
    await sent_to(twilio, 2, timeout=15)
    await text_in(sms_gateway, twilio, number, "STOP")
    await sent_to(twilio, 3)
    await settle(0.3)
    assert "received inbox_id=" in caplog.text
    for secret in (number, number[1:], "secret words", CRISIS_TEXT, "pills", OUR_NUMBER[1:]):
        assert secret not in caplog.text
