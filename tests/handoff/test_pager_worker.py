"""The pager worker against fake Twilio and Telegram servers (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from handoff import escalations
from handoff.api import create_app
from handoff.pager import Pager, PagerPolicy, PagerWorker, attach
from handoff.pager_models import PageRow
from handoff.pager_rota import OnCallContact, StaticRota
from handoff.senders import (
    PageSender,
    TelegramSender,
    TwilioSmsSender,
    quiet_library_loggers,
    senders_from_settings,
)
from tests.handoff.store import CONVERSATION, Sessions, escalate
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_twilio import FakeTwilio
from youthlink.config import Settings
from youthlink.crypto import Cipher

DASHBOARD = "https://youthlink.example.org"
FROM = "+447700900999"
LEAD_1 = OnCallContact("user:1", 1, {"sms": "+447700900101", "telegram": "5550101"})
LEAD_2 = OnCallContact("user:2", 2, {"sms": "+447700900102"})
ROTA = StaticRota((LEAD_1, LEAD_2))
EXCERPT = "i cut myself last week"


class Clock:
    """A clock the test moves on by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


def senders_for(twilio: FakeTwilio, telegram: FakeTelegram) -> dict[str, PageSender]:
    return {
        "sms": TwilioSmsSender(twilio.account_sid, twilio.auth_token, FROM, api_base=twilio.url),
        "telegram": TelegramSender(telegram.token, api_base=telegram.api_root),
    }


@pytest.fixture
async def worker(
    sessions: Sessions, cipher: Cipher, twilio: FakeTwilio, telegram: FakeTelegram
) -> AsyncIterator[PagerWorker]:
    policy = PagerPolicy(dashboard_url=DASHBOARD, poll_interval=0.05)
    pager = Pager(cipher, ROTA, policy, frozenset({"sms", "telegram"}))
    worker = PagerWorker(sessions, pager, senders_for(twilio, telegram), clock=Clock())
    yield worker
    await worker.aclose()


def clock_of(worker: PagerWorker) -> Clock:
    assert isinstance(worker.clock, Clock)
    return worker.clock


def page_rows(sessions: Sessions) -> list[PageRow]:
    with sessions.begin() as session:
        return list(session.scalars(select(PageRow).order_by(PageRow.id)))


def assert_nothing_personal(twilio: FakeTwilio, telegram: FakeTelegram) -> None:
    bodies = [e.request.body for e in twilio.exchanges + telegram.exchanges]
    for body in bodies:
        assert EXCERPT.encode() not in body
        assert CONVERSATION.encode() not in body


async def test_an_escalation_pages_the_lead_by_sms_and_telegram(
    worker: PagerWorker, sessions: Sessions, cipher: Cipher, twilio: FakeTwilio,
    telegram: FakeTelegram,
) -> None:  # fmt: skip
    escalation = escalate(sessions, cipher, severity=5, excerpt=EXCERPT)
    report = await worker.run_once()
    assert report.started == (escalation.escalation_id,)
    assert (report.attempted, report.sent, report.failed) == (2, 2, 0)

    link = f"{DASHBOARD}/escalations/{escalation.escalation_id}"
    body = f"YouthLink: new severity-5 escalation. Open the dashboard: {link}"
    (sms,) = twilio.sent()
    assert (sms.to, sms.from_, sms.body) == ("+447700900101", FROM, body)
    (request,) = twilio.message_requests()
    assert request.path == f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    assert request.form() == {"To": ["+447700900101"], "From": [FROM], "Body": [body]}
    (message,) = telegram.sent()
    assert (message.chat_id, message.text) == ("5550101", body)
    assert message.params["link_preview_options"] == {"is_disabled": True}
    assert_nothing_personal(twilio, telegram)

    rows = {r.channel: r for r in page_rows(sessions)}
    assert rows["sms"].status == rows["telegram"].status == "sent"
    assert rows["sms"].provider_id == sms.sid and sms.sid.startswith("SM")
    assert rows["telegram"].provider_id == str(message.message_id)
    assert (await worker.run_once()).attempted == 0  # sent once, not again


async def test_server_errors_are_retried_with_backoff(
    worker: PagerWorker, sessions: Sessions, cipher: Cipher, twilio: FakeTwilio,
    telegram: FakeTelegram,
) -> None:  # fmt: skip
    twilio.fail_next(2, status=500)
    telegram.fail_next(1, status=502, method="sendMessage")
    escalate(sessions, cipher)
    clock = clock_of(worker)
    first = await worker.run_once()
    assert (first.sent, first.failed) == (0, 0)
    assert (await worker.run_once()).attempted == 0  # not due yet
    clock.advance(seconds=2)
    second = await worker.run_once()
    assert second.sent == 1  # Telegram; Twilio failed again, now waits 4 s
    clock.advance(seconds=3)
    assert (await worker.run_once()).attempted == 0
    clock.advance(seconds=1)
    assert (await worker.run_once()).sent == 1
    rows = {r.channel: r for r in page_rows(sessions)}
    assert (rows["sms"].status, rows["sms"].attempts) == ("sent", 3)
    assert (rows["telegram"].status, rows["telegram"].attempts) == ("sent", 2)
    assert len(twilio.message_requests()) == 3 and len(twilio.sent()) == 1
    assert len(telegram.calls("sendMessage")) == 2 and len(telegram.sent()) == 1


async def test_retry_after_is_honoured_on_both_channels(
    sessions: Sessions, cipher: Cipher, twilio: FakeTwilio, telegram: FakeTelegram
) -> None:
    twilio.fail_next(1, status=429, retry_after=1)
    telegram.fail_next(1, status=429, retry_after=1, method="sendMessage")
    # Backoff alone would retry after 50 ms; real time, as the gap is measured at the fakes.
    policy = PagerPolicy(
        dashboard_url=DASHBOARD, poll_interval=0.02, backoff_base=timedelta(milliseconds=50)
    )
    worker = PagerWorker(sessions, Pager(cipher, ROTA, policy), senders_for(twilio, telegram))
    escalate(sessions, cipher)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.to_thread(twilio.wait_for_messages, 1, 10.0)
        await asyncio.to_thread(telegram.wait_for_messages, 1, 10.0)
    finally:
        worker.stop()
        await task
        await worker.aclose()
    for times in (
        [r.received_at for r in twilio.message_requests()],
        [c.received_at for c in telegram.calls("sendMessage")],
    ):
        assert len(times) == 2
        assert 0.95 <= times[1] - times[0] < 3
    assert {r.status for r in page_rows(sessions)} == {"sent"}


async def test_an_unreachable_provider_is_retried_until_it_is_back(
    worker: PagerWorker, sessions: Sessions, cipher: Cipher, twilio: FakeTwilio
) -> None:
    twilio.stop()
    escalate(sessions, cipher)
    await worker.run_once()
    (sms,) = [r for r in page_rows(sessions) if r.channel == "sms"]
    assert (sms.status, sms.attempts) == ("pending", 1)
    assert sms.last_error is not None and sms.last_error.startswith("twilio:")
    twilio.start()
    clock_of(worker).advance(seconds=2)
    await worker.run_once()
    assert [m.to for m in twilio.sent()] == ["+447700900101"]


async def test_nobody_acknowledging_pages_the_next_on_the_rota(
    worker: PagerWorker, sessions: Sessions, cipher: Cipher, twilio: FakeTwilio,
    telegram: FakeTelegram,
) -> None:  # fmt: skip
    escalation = escalate(sessions, cipher, severity=4)
    await worker.run_once()
    clock = clock_of(worker)
    clock.advance(minutes=14)
    assert (await worker.run_once()).repaged == ()
    clock.advance(minutes=1, seconds=1)
    report = await worker.run_once()
    assert report.repaged == (escalation.escalation_id,)
    first, *repaged = twilio.sent()
    # A round's pages go out concurrently: their order at the provider is not fixed.
    assert first.to == "+447700900101"
    assert sorted(m.to for m in repaged) == ["+447700900101", "+447700900102"]
    assert [m.chat_id for m in telegram.sent()] == ["5550101", "5550101"]
    reminder = next(m.body for m in repaged if m.to == "+447700900102")
    link = f"{DASHBOARD}/escalations/{escalation.escalation_id}"
    assert (
        reminder == f"YouthLink reminder 1: severity-4 escalation unacknowledged for 15 min: {link}"
    )

    with sessions.begin() as session:
        escalations.acknowledge(session, cipher, escalation.escalation_id, by="lead")
    clock.advance(hours=2)
    assert (await worker.run_once()).attempted == 0
    assert len(twilio.sent()) == 3 and len(telegram.sent()) == 2


async def test_an_unsubscribed_lead_brings_the_next_one_in_sooner(
    sessions: Sessions, cipher: Cipher, twilio: FakeTwilio, telegram: FakeTelegram
) -> None:
    twilio.unsubscribe("+447700900101")
    telegram.block("5550101")
    policy = PagerPolicy(dashboard_url=DASHBOARD)
    clock = Clock()
    worker = PagerWorker(
        sessions, Pager(cipher, ROTA, policy), senders_for(twilio, telegram), clock=clock
    )
    try:
        escalate(sessions, cipher)
        report = await worker.run_once()
        assert (report.attempted, report.failed) == (2, 2)  # 21610 and 403: not retried
        rows = page_rows(sessions)
        assert {(r.status, r.last_error) for r in rows} == {
            ("failed", "twilio:21610"),
            ("failed", "telegram:Forbidden"),
        }
        clock.advance(minutes=1)
        await worker.run_once()
        assert [m.to for m in twilio.sent()] == ["+447700900102"]
    finally:
        await worker.aclose()


async def test_logs_carry_ids_not_numbers(
    worker: PagerWorker, sessions: Sessions, cipher: Cipher, twilio: FakeTwilio,
    telegram: FakeTelegram, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    quiet_library_loggers()  # as `attach` does
    caplog.set_level(logging.DEBUG)
    twilio.fail_next(1, status=400, code=21211)  # Twilio's message would quote the number
    escalate(sessions, cipher, excerpt=EXCERPT)
    await worker.run_once()
    assert "page" in caplog.text and "twilio:21211" in caplog.text
    secrets = ("+447700900101", "5550101", EXCERPT, CONVERSATION, twilio.auth_token, telegram.token)
    for secret in secrets:
        assert secret not in caplog.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_attached_to_the_app_a_recorded_escalation_pages_within_seconds(
    settings: Settings, engine: Engine, twilio: FakeTwilio, telegram: FakeTelegram
) -> None:
    settings = dataclasses.replace(
        settings,
        public_url=DASHBOARD,
        twilio_account_sid=twilio.account_sid,
        twilio_auth_token=twilio.auth_token,
        twilio_from_number=FROM,
        twilio_api_base=twilio.url,
        telegram_bot_token=telegram.token,
        telegram_api_base=telegram.api_root,
    )
    app = create_app(settings, engine=engine)
    worker = attach(app, settings, rota=ROTA)
    assert worker is not None and app.state.pager is worker
    headers = {"Authorization": f"Bearer {settings.service_token}"}
    body: dict[str, Any] = {
        "conversation_id": CONVERSATION,
        "channel": "sms",
        "severity": 5,
        "categories": ["self_harm"],
        "rule_ids": ["self_harm.cutting"],
        "ruleset_version": "test-1",
        "excerpt": EXCERPT,
    }
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://handoff.test")
    async with app.router.lifespan_context(app), client:
        started = time.time()
        answer = await client.post("/api/escalations", json=body, headers=headers)
        assert answer.status_code == 201
        (sms,) = await asyncio.to_thread(twilio.wait_for_messages, 1, 5.0)
        (message,) = await asyncio.to_thread(telegram.wait_for_messages, 1, 5.0)
    assert sms.received_at - started < 5 and message.received_at - started < 5
    assert answer.json()["escalation_id"] in sms.body and sms.to == "+447700900101"
    assert_nothing_personal(twilio, telegram)


def test_without_credentials_nothing_is_attached(settings: Settings, engine: Engine) -> None:
    app = create_app(settings, engine=engine)
    assert senders_from_settings(settings) == {}
    assert attach(app, settings, rota=ROTA) is None
    assert app.state.pager is None
