"""A link worker takes a conversation over: the gateway's internal API against a fake Rasa.

Pause and resume are asserted where Rasa would see them (the fake's tracker events API), and
the fake behaves as Rasa does: a paused conversation gets no answer until it is resumed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from channels import conversations, rasa_control
from channels.database import utcnow
from channels.rasa_control import PAUSE, RESUME, RasaControlRow
from channels.safeguarding import Safeguarding
from channels.tables import ConversationRow, OutboxRow
from channels.takeover import WORKER
from tests.channels.conftest import RunningGateway
from tests.support.db import fresh_settings
from tests.support.fake_rasa import FakeRasa
from youthlink.config import Settings
from youthlink.crypto import Cipher
from youthlink.db import make_engine, make_sessionmaker

CRISIS_TEXT = "i'm going to take all my pills tonight"
WORKER_TEXT = "Hi, I'm Sam from YouthLink. I've read your messages and I'm here now."


@pytest.fixture
def db(gateway: RunningGateway) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(gateway.settings.database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def gateway_settings(sqlite_url: str, fake_rasa: FakeRasa) -> Settings:
    settings = fresh_settings(sqlite_url, rasa_url=fake_rasa.url)
    # Like `rasa run --enable-api --auth-token`: the gateway must send the token it was given.
    fake_rasa.api_token = settings.rasa_token
    return settings


async def internal(
    gateway: RunningGateway,
    method: str,
    path: str,
    *,
    token: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or gateway.settings.service_token}"}
    headers.update(kwargs.pop("headers", {}))
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        return await client.request(
            method, f"/internal/conversations{path}", headers=headers, **kwargs
        )


async def start_conversation(gateway: RunningGateway, address: str) -> str:
    data = (await gateway.post(address, "hi")).json()
    assert [m["text"] for m in data["messages"]] == ["echo: hi"]
    return str(data["conversation_id"])


async def eventually(check: Any, timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_takeover_pauses_rasa_and_is_idempotent(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    conversation_id = await start_conversation(gateway, "addr-takeover")

    response = await internal(gateway, "POST", f"/{conversation_id}/takeover")
    assert response.status_code == 200
    assert response.json() == {
        "conversation_id": conversation_id,
        "channel": "local",
        "paused": True,
        "opted_out": False,
        "rasa": "in_step",
        "pending_event": None,
        "attempts": 0,
        "last_error": None,
    }
    assert fake_rasa.events_for(conversation_id) == [PAUSE]

    again = await internal(gateway, "POST", f"/{conversation_id}/takeover")
    assert again.status_code == 200
    assert again.json()["paused"] is True
    assert set(fake_rasa.events_for(conversation_id)) == {PAUSE}
    assert (await internal(gateway, "GET", f"/{conversation_id}")).json()["paused"] is True


async def test_paused_messages_are_screened_not_relayed_and_handback_relays_again(
    gateway: RunningGateway, fake_rasa: FakeRasa, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="channels")
    address = "addr-worker-9fk2"
    conversation_id = await start_conversation(gateway, address)
    assert (await internal(gateway, "POST", f"/{conversation_id}/takeover")).status_code == 200

    quiet = (await gateway.post(address, "is anyone actually there")).json()
    assert quiet["messages"] == [] and quiet["pending"] is False

    crisis = (await gateway.post(address, CRISIS_TEXT)).json()
    assert [m["kind"] for m in crisis["messages"]] == ["crisis"]
    assert crisis["escalation_id"]
    engine = make_engine(gateway.settings.database_url)
    with engine.connect() as conn:
        recorded = conn.execute(
            text("SELECT count(*) FROM escalations WHERE conversation_id = :c"),
            {"c": conversation_id},
        ).scalar()
    engine.dispose()
    assert recorded == 1
    assert fake_rasa.messages() == ["hi"], "nothing reaches Rasa while a person has it"

    sent = await internal(
        gateway,
        "POST",
        f"/{conversation_id}/messages",
        json={"text": WORKER_TEXT, "worker_ref": "user:7"},
    )
    assert sent.status_code == 201
    assert len(sent.json()["outbox_ids"]) == 1
    seen = await gateway.wait_for(address, lambda ms: any(m["kind"] == WORKER for m in ms))
    assert [(m["kind"], m["text"]) for m in seen][-1] == (WORKER, WORKER_TEXT)

    back = await internal(gateway, "POST", f"/{conversation_id}/handback")
    assert back.status_code == 200
    assert back.json()["paused"] is False and back.json()["rasa"] == "in_step"
    assert fake_rasa.events_for(conversation_id) == [PAUSE, RESUME]

    answered = (await gateway.post(address, "ok thanks")).json()
    assert [m["text"] for m in answered["messages"]] == ["echo: ok thanks"]
    assert fake_rasa.messages() == ["hi", "ok thanks"]

    logged = caplog.text
    for private in (WORKER_TEXT, "is anyone actually there", CRISIS_TEXT, address):
        assert private not in logged


async def test_worker_messages_are_stored_encrypted_and_sent_in_order(
    gateway: RunningGateway, db: sessionmaker[Session]
) -> None:
    conversation_id = await start_conversation(gateway, "addr-order")
    await internal(gateway, "POST", f"/{conversation_id}/takeover")
    for n in range(3):
        response = await internal(
            gateway,
            "POST",
            f"/{conversation_id}/messages",
            json={"text": f"worker line {n}", "worker_ref": "user:7"},
        )
        assert response.status_code == 201
    messages = await gateway.wait_for(
        "addr-order", lambda ms: sum(m["kind"] == WORKER for m in ms) == 3
    )
    assert [m["text"] for m in messages if m["kind"] == WORKER] == [
        f"worker line {n}" for n in range(3)
    ]
    cipher = Cipher.from_keys(gateway.settings.encryption_keys, gateway.settings.hash_key)

    async def all_sent() -> bool:
        with db.begin() as session:
            rows = session.scalars(select(OutboxRow).where(OutboxRow.kind == WORKER)).all()
            return len(rows) == 3 and all(r.status == "sent" for r in rows)

    await eventually(all_sent)
    with db.begin() as session:
        rows = session.scalars(select(OutboxRow).where(OutboxRow.kind == WORKER)).all()
        assert all(b"worker line" not in row.body_encrypted for row in rows)
        assert {row.in_reply_to for row in rows} == {None}
        first = cipher.decrypt(rows[0].body_encrypted) or ""
        assert '"worker_ref": "user:7"' in first


async def test_opted_out_and_not_taken_over_conversations_refuse_worker_messages(
    gateway: RunningGateway, db: sessionmaker[Session]
) -> None:
    conversation_id = await start_conversation(gateway, "addr-refuse")
    body = {"text": "hello", "worker_ref": "user:7"}

    not_yet = await internal(gateway, "POST", f"/{conversation_id}/messages", json=body)
    assert not_yet.status_code == 409
    assert not_yet.json()["reason"] == "not_taken_over"

    await internal(gateway, "POST", f"/{conversation_id}/takeover")
    with db.begin() as session:
        conversations.opt_out(session, conversation_id, None, utcnow())
    refused = await internal(gateway, "POST", f"/{conversation_id}/messages", json=body)
    assert refused.status_code == 409
    assert refused.json()["reason"] == "opted_out"
    assert (await internal(gateway, "GET", f"/{conversation_id}")).json()["opted_out"] is True
    with db.begin() as session:
        kinds = session.scalars(
            select(OutboxRow.kind).where(OutboxRow.conversation_id == conversation_id)
        ).all()
    assert WORKER not in kinds


async def test_rasa_unreachable_pause_and_resume_are_retried_and_reported(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    address = "addr-rasa-api-down"
    conversation_id = await start_conversation(gateway, address)

    fake_rasa.api_status_code = 503
    taken = await internal(gateway, "POST", f"/{conversation_id}/takeover")
    assert taken.status_code == 200
    assert taken.json()["paused"] is True  # the gateway's own flag holds at once
    assert taken.json()["rasa"] == "pending"
    assert taken.json()["pending_event"] == PAUSE
    assert taken.json()["last_error"] == "http_503"
    held = (await gateway.post(address, "are you a bot")).json()
    assert held["messages"] == []
    assert fake_rasa.messages() == ["hi"]

    fake_rasa.api_status_code = 200

    async def in_step() -> bool:
        standing = (await internal(gateway, "GET", f"/{conversation_id}")).json()
        return bool(standing["rasa"] == "in_step")

    await eventually(in_step)
    assert fake_rasa.events_for(conversation_id) == [PAUSE]

    fake_rasa.api_status_code = 503
    back = await internal(gateway, "POST", f"/{conversation_id}/handback")
    assert back.status_code == 202
    assert back.json()["paused"] is True  # until Rasa has resumed, or it would answer nothing
    assert back.json()["pending_event"] == RESUME
    waiting = (await gateway.post(address, "hello?")).json()
    assert waiting["messages"] == []
    assert fake_rasa.messages() == ["hi"]

    fake_rasa.api_status_code = 200

    async def handed_back() -> bool:
        return not (await internal(gateway, "GET", f"/{conversation_id}")).json()["paused"]

    await eventually(handed_back)
    assert fake_rasa.events_for(conversation_id) == [PAUSE, RESUME]
    answered = (await gateway.post(address, "back again")).json()
    assert [m["text"] for m in answered["messages"]] == ["echo: back again"]


async def test_a_pending_pause_survives_a_gateway_restart(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    conversation_id = await start_conversation(gateway, "addr-restart")
    fake_rasa.stop()
    taken = await internal(gateway, "POST", f"/{conversation_id}/takeover")
    assert taken.json()["rasa"] == "pending"
    assert taken.json()["last_error"] == "unreachable"
    await gateway.stop()
    fake_rasa.start()
    await gateway.start()

    async def in_step() -> bool:
        return fake_rasa.events_for(conversation_id) == [PAUSE]

    await eventually(in_step)
    standing = (await internal(gateway, "GET", f"/{conversation_id}")).json()
    assert standing["paused"] is True and standing["rasa"] == "in_step"


async def test_the_internal_api_needs_the_service_token_loopback_and_valid_input(
    gateway: RunningGateway,
) -> None:
    conversation_id = await start_conversation(gateway, "addr-guarded")
    path = f"/{conversation_id}/takeover"
    assert (await internal(gateway, "POST", path, token="not-the-token")).status_code == 401
    local_token = gateway.settings.local_token
    assert (await internal(gateway, "POST", path, token=local_token)).status_code == 401
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        bare = await client.post(f"/internal/conversations{path}")
    assert bare.status_code == 401
    forwarded = await internal(gateway, "POST", path, headers={"X-Forwarded-For": "203.0.113.9"})
    assert forwarded.status_code == 403
    assert (await internal(gateway, "GET", f"/{conversation_id}")).json()["paused"] is False

    assert (await internal(gateway, "POST", "/c_nobody/takeover")).status_code == 404
    assert (await internal(gateway, "POST", "/c_nobody/handback")).status_code == 404
    await internal(gateway, "POST", path)
    messages = f"/{conversation_id}/messages"
    for body, status in [
        ({"text": "   ", "worker_ref": "user:7"}, 400),
        ({"text": "hi"}, 400),
        ({"text": "hi", "worker_ref": "Sam Smith"}, 400),
        ({"text": 5, "worker_ref": "user:7"}, 400),
        ({"text": "x" * 1601, "worker_ref": "user:7"}, 413),
        (["not", "an", "object"], 400),
    ]:
        response = await internal(gateway, "POST", messages, json=body)
        assert response.status_code == status, body
    assert (await internal(gateway, "POST", "/c_nobody/messages", json={
        "text": "hi", "worker_ref": "user:7"
    })).status_code == 404  # fmt: skip


async def test_the_internal_api_is_off_without_a_service_token(
    gateway: RunningGateway,
) -> None:
    import dataclasses

    await gateway.stop()
    gateway.settings = dataclasses.replace(gateway.settings, service_token="")
    await gateway.start()
    response = await internal(gateway, "GET", "/c_any", token="anything")
    assert response.status_code == 401
    assert "disabled" in response.json()["error"]


@pytest.mark.unit
def test_a_result_for_an_older_event_is_not_applied(sqlite_url: str) -> None:
    from channels import inbox
    from channels.messages import InboundMessage

    settings = fresh_settings(sqlite_url)
    cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    now = utcnow()
    lease = timedelta(seconds=30)
    with sessions.begin() as session:
        stored = inbox.store_inbound(
            session, cipher, InboundMessage("local", "addr-seq", "m1", "hi"), now
        )
        conversation_id = stored.conversation_id
        row = session.get(ConversationRow, conversation_id)
        assert row is not None
        row.paused = True
        pause = rasa_control.want(session, conversation_id, PAUSE, now, lease)
        assert pause is not None and pause.event == PAUSE  # claimed for the caller to send
    with sessions.begin() as session:
        # Claimed: nobody else may send for this conversation until the lease ends.
        assert rasa_control.claim_due(session, now, lease) is None
    with sessions.begin() as session:
        # Handed back while the pause is on its way: not sent alongside it, but after it.
        assert rasa_control.want(session, conversation_id, RESUME, now, lease) is None
    with sessions.begin() as session:
        assert rasa_control.taken(session, pause) is False
    with sessions.begin() as session:
        pending = rasa_control.pending(session, conversation_id)
        assert pending is not None and pending.event == RESUME
        assert session.get(ConversationRow, conversation_id).paused is True  # type: ignore[union-attr]
        resume = rasa_control.claim_due(session, now, lease)
        assert resume is not None and resume.event == RESUME
    with sessions.begin() as session:
        rasa_control.not_taken(session, resume, "timeout", now + timedelta(seconds=5))
    with sessions.begin() as session:
        assert rasa_control.claim_due(session, now, lease) is None  # not due yet
        again = rasa_control.claim_due(session, now + timedelta(seconds=6), lease)
        assert again is not None and again.attempts == 1
    with sessions.begin() as session:
        assert rasa_control.taken(session, again) is True
    with sessions.begin() as session:
        assert session.get(RasaControlRow, conversation_id) is None
        assert session.get(ConversationRow, conversation_id).paused is False  # type: ignore[union-attr]
    engine.dispose()


@pytest.mark.integration
async def test_takeover_on_postgresql(
    pg_url: str, fake_rasa: FakeRasa, safeguarding: Safeguarding
) -> None:
    settings = fresh_settings(pg_url, rasa_url=fake_rasa.url)
    fake_rasa.api_token = settings.rasa_token
    running = RunningGateway(settings, safeguarding)
    await running.start()
    try:
        conversation_id = await start_conversation(running, "pg-takeover")
        fake_rasa.api_status_code = 503
        assert (await internal(running, "POST", f"/{conversation_id}/takeover")).json()[
            "rasa"
        ] == "pending"
        fake_rasa.api_status_code = 200
        body = {"text": "hello from a person", "worker_ref": "user:3"}
        sent = await internal(running, "POST", f"/{conversation_id}/messages", json=body)
        assert sent.status_code == 201
        back = await internal(running, "POST", f"/{conversation_id}/handback")
        assert back.status_code == 200 and back.json()["paused"] is False
        assert fake_rasa.events_for(conversation_id)[-1] == RESUME
        answered = (await running.post("pg-takeover", "and now?")).json()
        assert [m["text"] for m in answered["messages"]] == ["echo: and now?"]
    finally:
        await running.stop()
