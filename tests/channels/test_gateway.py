"""The path of one message through a running gateway, against a fake Rasa and SQLite."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text, update

from channels.database import utcnow
from channels.safeguarding import Safeguarding
from channels.tables import DONE, PROCESSING, SENT, InboxRow, OutboxRow
from tests.channels.conftest import RunningGateway
from tests.support.db import fresh_settings
from tests.support.fake_rasa import FakeRasa
from youthlink.config import Settings
from youthlink.crypto import Cipher
from youthlink.db import make_engine, make_sessionmaker

CRISIS_TEXT = "i'm going to take all my pills tonight"


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages]


def db_scalar(gateway: RunningGateway, statement: Any, **params: Any) -> Any:
    engine = make_engine(gateway.settings.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(statement, params).scalar()
    finally:
        engine.dispose()


def escalation_count(gateway: RunningGateway, conversation_id: str) -> int:
    return int(
        db_scalar(
            gateway,
            text("SELECT count(*) FROM escalations WHERE conversation_id = :c"),
            c=conversation_id,
        )
    )


async def test_message_is_relayed_and_answered(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    response = await gateway.post("addr-1", "hello there")
    assert response.status_code == 200
    data = response.json()
    assert data["conversation_id"].startswith("c_")
    assert "addr-1" not in data["conversation_id"]
    assert texts(data["messages"]) == ["echo: hello there"]
    assert data["escalation_id"] is None
    assert data["pending"] is False
    assert fake_rasa.requests == [
        {
            "sender": data["conversation_id"],
            "message": "hello there",
            "metadata": {"channel": "local"},
        }
    ]
    # The same address keeps its conversation; another address gets another one.
    again = (await gateway.post("addr-1", "again")).json()
    other = (await gateway.post("addr-2", "hi")).json()
    assert again["conversation_id"] == data["conversation_id"]
    assert other["conversation_id"] != data["conversation_id"]


async def test_a_clean_message_is_answered_in_two_transactions(
    gateway_settings: Settings, safeguarding: Safeguarding, fake_rasa: FakeRasa
) -> None:
    """Stored, screened and claimed in one transaction, answered in a second; the local
    channel's replies are settled as they are queued, not sent one by one by the worker."""
    engine = make_engine(gateway_settings.database_url)
    commits: list[int] = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    # The worker only polls once a minute: the answer cannot come from its rounds.
    running = RunningGateway(gateway_settings, safeguarding, poll_interval=60.0, engine=engine)
    await running.start()
    try:
        await asyncio.sleep(0.2)  # the worker's first round at start-up
        before = len(commits)
        data = (await running.post("addr-fast", "hello there")).json()
        assert texts(data["messages"]) == ["echo: hello there"]
        assert data["pending"] is False
        assert data["cursor"] == data["messages"][0]["id"]
        assert len(commits) - before == 2
        with engine.connect() as conn:
            assert conn.execute(select(InboxRow.status)).scalar() == DONE
            assert conn.execute(select(OutboxRow.status)).scalar() == SENT
        # What was answered is also what the client reads back.
        assert texts((await running.fetch("addr-fast"))["messages"]) == ["echo: hello there"]
    finally:
        await running.stop()
        engine.dispose()


async def test_asking_is_folded_into_the_question(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    fake_rasa.responder = lambda sender, message, metadata: [
        {"recipient_id": sender, "text": "Thanks!"},
        {
            "recipient_id": sender,
            "text": "How old are you?",
            "buttons": [{"title": "Skip", "payload": "/skip"}],
        },
        {"recipient_id": sender, "custom": {"asking": "age"}},
    ]
    data = (await gateway.post("addr-ask", "hi")).json()
    assert [(m["text"], m["asking"]) for m in data["messages"]] == [
        ("Thanks!", None),
        ("How old are you?", "age"),
    ]
    assert data["messages"][1]["buttons"] == [{"title": "Skip", "payload": "/skip"}]


async def test_in_order_per_conversation_and_concurrent_across(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    release_first = threading.Event()
    seen: list[str] = []

    def responder(sender: str, message: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        seen.append(message)
        if message == "a1":
            release_first.wait(10)
        return [{"recipient_id": sender, "text": f"echo: {message}"}]

    fake_rasa.responder = responder
    tasks = []
    for message in ("a1", "a2", "a3"):
        tasks.append(asyncio.create_task(gateway.post("conv-a", message)))
        await asyncio.sleep(0.15)
    b = await gateway.post("conv-b", "b1")
    # Conversation B was answered while A's first message was still with Rasa...
    assert texts(b.json()["messages"]) == ["echo: b1"]
    # ...and A's later messages waited for it.
    assert "a2" not in seen and "a3" not in seen
    release_first.set()
    results = await asyncio.gather(*tasks)
    assert [texts(r.json()["messages"]) for r in results] == [
        ["echo: a1"],
        ["echo: a2"],
        ["echo: a3"],
    ]
    assert [m for m in seen if m.startswith("a")] == ["a1", "a2", "a3"]


async def test_duplicate_message_ids_are_processed_once(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    first = await gateway.post("addr-dup", "only once", message_id="m-1")
    second = await gateway.post("addr-dup", "only once", message_id="m-1")
    assert first.json()["messages"] == second.json()["messages"]
    assert fake_rasa.messages() == ["only once"]


async def test_escalation_replies_and_records_while_rasa_is_down(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    fake_rasa.stop()
    data = (await gateway.post("addr-crisis", CRISIS_TEXT)).json()
    conversation_id = data["conversation_id"]
    assert [m["kind"] for m in data["messages"]] == ["crisis"]
    assert data["messages"][0]["text"]
    assert data["escalation_id"]
    assert escalation_count(gateway, conversation_id) == 1

    fake_rasa.responder = lambda sender, message, metadata: [
        {"recipient_id": sender, "text": "Are you safe right now?"},
        {"recipient_id": sender, "custom": {"asking": "safe_now"}},
    ]
    fake_rasa.start()
    messages = await gateway.wait_for(
        "addr-crisis", lambda ms: any(m["kind"] == "reply" for m in ms)
    )
    assert [m["kind"] for m in messages] == ["crisis", "reply"]
    assert messages[1]["asking"] == "safe_now"
    (request,) = fake_rasa.requests
    safeguarding = request["metadata"]["safeguarding"]
    assert safeguarding["severity"] >= 4
    assert "suicide" in safeguarding["categories"]
    assert safeguarding["rule_ids"]
    assert safeguarding["escalation_id"] == data["escalation_id"]
    assert request["metadata"]["channel"] == "local"
    assert escalation_count(gateway, conversation_id) == 1


async def test_holding_reply_once_then_the_real_answer(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    fake_rasa.stop()
    first = (await gateway.post("addr-hold", "hi")).json()
    assert [m["kind"] for m in first["messages"]] == ["holding"]
    assert first["messages"][0]["text"].startswith("Thanks \u2014 I've got your message.")
    assert first["pending"] is True
    second = (await gateway.post("addr-hold", "are you there")).json()
    assert second["messages"] == []
    assert second["pending"] is True
    await asyncio.sleep(0.5)  # several retries while down: still one holding reply

    fake_rasa.start()
    messages = await gateway.wait_for("addr-hold", lambda ms: len(ms) >= 3)
    await asyncio.sleep(0.5)
    messages = (await gateway.fetch("addr-hold"))["messages"]
    assert [(m["kind"], m["text"]) for m in messages[1:]] == [
        ("reply", "echo: hi"),
        ("reply", "echo: are you there"),
    ]
    assert [m["kind"] for m in messages].count("holding") == 1
    assert fake_rasa.messages() == ["hi", "are you there"]
    # The cursor hands out later messages only.
    after = await gateway.fetch("addr-hold", after=messages[1]["id"])
    assert texts(after["messages"]) == ["echo: are you there"]


async def test_rasa_server_errors_are_retried(gateway: RunningGateway, fake_rasa: FakeRasa) -> None:
    fake_rasa.status_code = 500
    first = (await gateway.post("addr-500", "hi")).json()
    assert [m["kind"] for m in first["messages"]] == ["holding"]
    fake_rasa.status_code = 200
    messages = await gateway.wait_for("addr-500", lambda ms: len(ms) == 2)
    assert messages[1]["text"] == "echo: hi"


async def test_help_is_answered_while_rasa_is_down(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    fake_rasa.stop()
    help_text = gateway.safeguarding.help_reply("unknown")
    alone = (await gateway.post("addr-help", "HELP")).json()
    assert texts(alone["messages"]) == [help_text]
    assert alone["pending"] is False
    # Behind a message that is waiting for Rasa, HELP is still answered at once.
    await gateway.post("addr-help-2", "hi")
    behind = (await gateway.post("addr-help-2", "help!")).json()
    assert texts(behind["messages"]) == [help_text]
    fake_rasa.start()
    await gateway.wait_for("addr-help-2", lambda ms: "echo: hi" in texts(ms))
    await asyncio.sleep(0.3)
    assert fake_rasa.messages() == ["hi"]


async def test_slash_text_is_escaped_unless_the_bot_offered_it(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    def responder(sender: str, message: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        if message == "start":
            return [
                {
                    "recipient_id": sender,
                    "text": "Shall we start?",
                    "buttons": [
                        {"title": "Yes", "payload": "/affirm"},
                        {"title": "No", "payload": "/deny"},
                    ],
                }
            ]
        return [{"recipient_id": sender, "text": "ok"}]

    fake_rasa.responder = responder
    await gateway.post("addr-slash", "/restart")
    await gateway.post("addr-slash", "start")
    await gateway.post("addr-slash", '/inform{"age": "30"}')
    await gateway.post("addr-slash", "start")
    await gateway.post("addr-slash", "/affirm")
    await gateway.post("addr-slash", "/affirm")  # the last reply offered no buttons
    await gateway.post("addr-slash", "//")
    assert fake_rasa.messages() == [
        "restart",
        "start",
        'inform{"age": "30"}',
        "start",
        "/affirm",
        "affirm",
        "?",
    ]


async def test_long_text_is_truncated_for_rasa_but_kept_whole(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    long_text = " ".join(["word"] * 2000)  # 9,999 characters
    response = await gateway.post("addr-long", long_text)
    assert response.status_code == 200
    relayed = fake_rasa.messages()[0]
    assert 1500 < len(relayed) <= 2000
    assert long_text.startswith(relayed)
    cipher = Cipher.from_keys(gateway.settings.encryption_keys, gateway.settings.hash_key)
    stored = db_scalar(gateway, select(InboxRow.text_encrypted))
    assert cipher.decrypt(stored) == long_text


async def test_database_file_holds_no_message_text_or_address(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    address = "addr-secret-7f3k9q"
    words = "my very particular words zq8vx"
    fake_rasa.responder = lambda sender, message, metadata: [
        {"recipient_id": sender, "text": "reply marker kx2mw"}
    ]
    await gateway.post(address, words)
    await gateway.post(address, CRISIS_TEXT)
    await gateway.stop()
    database = Path(gateway.settings.database_url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    for secret in (address, words, "particular words", CRISIS_TEXT, "reply marker kx2mw"):
        assert secret.encode() not in raw
    await gateway.start()


async def test_restart_mid_relay_resumes_without_double_replies(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    fake_rasa.gate.clear()  # Rasa holds the turn: the gateway is mid-relay
    waiting = asyncio.create_task(gateway.post("addr-restart", "first message"))
    for _ in range(200):
        if db_scalar(gateway, select(InboxRow.status)) == PROCESSING:
            break
        await asyncio.sleep(0.02)
    assert db_scalar(gateway, select(InboxRow.status)) == PROCESSING
    await gateway.stop()  # the relay is cut off before its answer was stored
    await asyncio.gather(waiting, return_exceptions=True)
    fake_rasa.gate.set()
    await gateway.start()
    messages = await gateway.wait_for("addr-restart", lambda ms: len(ms) >= 1)
    await asyncio.sleep(0.5)
    messages = (await gateway.fetch("addr-restart"))["messages"]
    assert texts(messages) == ["echo: first message"]


async def test_restart_does_not_reprocess_an_answered_message(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    await gateway.post("addr-answered", "hello")
    assert fake_rasa.messages() == ["hello"]
    # As if the gateway stopped after queueing the reply but before marking the message done.
    engine = make_engine(gateway.settings.database_url)
    with make_sessionmaker(engine).begin() as session:
        session.execute(update(InboxRow).values(status=PROCESSING, next_attempt_at=utcnow()))
    await gateway.stop()
    await gateway.start()
    for _ in range(100):
        with engine.connect() as conn:
            if conn.execute(select(InboxRow.status)).scalar() == DONE:
                break
        await asyncio.sleep(0.05)
    with engine.connect() as conn:
        assert conn.execute(select(InboxRow.status)).scalar() == DONE
        assert conn.execute(select(func.count()).select_from(OutboxRow)).scalar() == 1
    engine.dispose()
    assert fake_rasa.messages() == ["hello"]


async def test_restart_after_escalation_sends_one_crisis_reply(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    fake_rasa.stop()
    data = (await gateway.post("addr-crisis-restart", CRISIS_TEXT)).json()
    await gateway.stop()
    await gateway.start()
    fake_rasa.start()
    messages = await gateway.wait_for(
        "addr-crisis-restart", lambda ms: any(m["kind"] == "reply" for m in ms)
    )
    await asyncio.sleep(0.3)
    messages = (await gateway.fetch("addr-crisis-restart"))["messages"]
    assert [m["kind"] for m in messages] == ["crisis", "reply"]
    assert escalation_count(gateway, data["conversation_id"]) == 1
    assert fake_rasa.messages() == [CRISIS_TEXT]


@pytest.mark.integration
async def test_gateway_on_postgresql(
    pg_url: str, fake_rasa: FakeRasa, safeguarding: Safeguarding
) -> None:
    running = RunningGateway(fresh_settings(pg_url, rasa_url=fake_rasa.url), safeguarding)
    await running.start()
    try:
        replies = await asyncio.gather(
            *(running.post(f"pg-{n % 3}", f"message {n}") for n in range(9))
        )
        assert sorted(m for r in replies for m in texts(r.json()["messages"])) == sorted(
            f"echo: message {n}" for n in range(9)
        )
        fake_rasa.stop()
        data = (await running.post("pg-crisis", CRISIS_TEXT)).json()
        assert [m["kind"] for m in data["messages"]] == ["crisis"]
        assert data["escalation_id"]
        fake_rasa.start()
        await running.wait_for("pg-crisis", lambda ms: len(ms) == 2)
    finally:
        await running.stop()


async def test_forget_messages_blanks_finished_texts(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    from channels.erasure import forget_messages

    data = (await gateway.post("addr-forget", "something i regret saying")).json()
    await gateway.wait_for("addr-forget", lambda ms: len(ms) == 1)
    await asyncio.sleep(0.2)  # delivered
    cipher = Cipher.from_keys(gateway.settings.encryption_keys, gateway.settings.hash_key)
    engine = make_engine(gateway.settings.database_url)
    with make_sessionmaker(engine).begin() as session:
        assert forget_messages(session, cipher, data["conversation_id"]) == 2
    with engine.connect() as conn:
        assert cipher.decrypt(conn.execute(select(InboxRow.text_encrypted)).scalar()) == ""
    engine.dispose()
    assert (await gateway.fetch("addr-forget"))["messages"][0]["text"] == ""


async def test_logs_hold_no_text_or_address(
    gateway: RunningGateway, fake_rasa: FakeRasa, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="channels")
    address = "addr-logged-5tq2"
    await gateway.post(address, "a private thing zx81")
    fake_rasa.stop()
    await gateway.post(address, CRISIS_TEXT)
    fake_rasa.start()
    await gateway.wait_for(address, lambda ms: [m["kind"] for m in ms][-1] == "reply")
    assert "escalating" in caplog.text  # the log does say what happened, by id
    for secret in (address, "private thing", CRISIS_TEXT, "pills"):
        assert secret not in caplog.text


async def test_a_failing_screen_does_not_stall_the_conversation(
    gateway_settings: Settings, safeguarding: Safeguarding, fake_rasa: FakeRasa
) -> None:
    def broken(text: str, history: Any) -> Any:
        raise ValueError(f"cannot screen {text!r}")

    running = RunningGateway(gateway_settings, dataclasses.replace(safeguarding, screen=broken))
    await running.start()
    try:
        data = (await running.post("addr-broken", "hello")).json()
        assert texts(data["messages"]) == ["echo: hello"]
    finally:
        await running.stop()
