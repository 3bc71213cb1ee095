"""Polling mode: getUpdates from the fake Bot API, each update handed to the gateway webhook."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import func, select

from channels.safeguarding import Safeguarding
from channels.tables import InboxRow
from channels.telegram import TelegramConfig
from channels.telegram_poll import GatewayRefused, PollSettings, main, poll
from tests.channels.conftest import RunningGateway
from tests.channels.test_twilio_webhook import eventually, scalar, settle
from tests.support.db import fresh_settings
from tests.support.fake_rasa import FakeRasa
from tests.support.fake_telegram import FakeTelegram
from tests.support.ports import free_port
from youthlink.config import Settings

CHAT = 5550002


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def gateway(
    sqlite_url: str, fake_rasa: FakeRasa, telegram: FakeTelegram, safeguarding: Safeguarding
) -> AsyncIterator[RunningGateway]:
    # No public URL: the gateway registers no webhook; updates are polled.
    settings = fresh_settings(
        sqlite_url,
        rasa_url=fake_rasa.url,
        telegram_bot_token=telegram.token,
        telegram_secret_token=secrets.token_urlsafe(24),
        telegram_api_base=telegram.api_root,
    )
    running = RunningGateway(settings, safeguarding, port=free_port())
    await running.start()
    yield running
    await running.stop()


def poll_settings(gateway: RunningGateway, secret: str | None = None) -> PollSettings:
    settings = dataclasses.replace(gateway.settings, gateway_url=gateway.url)
    config = PollSettings.from_settings(settings)
    if secret is not None:
        config = dataclasses.replace(
            config, telegram=dataclasses.replace(config.telegram, secret_token=secret)
        )
    return dataclasses.replace(config, long_poll=1, backoff_start=0.1, backoff_cap=0.3)


@pytest.fixture
async def poller(gateway: RunningGateway) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(poll(poll_settings(gateway), stop))
    yield stop
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_polled_updates_take_the_webhook_path(
    gateway: RunningGateway, telegram: FakeTelegram, fake_rasa: FakeRasa, poller: asyncio.Event
) -> None:
    telegram.webhook = {"url": "https://old.example.org/hook"}  # left over from webhook mode
    telegram.push(telegram.message_update(CHAT, "/start"))
    telegram.push(telegram.message_update(CHAT, "hello"))
    sent = await asyncio.to_thread(telegram.wait_for_messages, 2, 10)
    assert [m.text for m in sent] == ["echo: hi", "echo: hello"]
    assert telegram.webhook == {}  # polling removed it
    assert fake_rasa.messages() == ["hi", "hello"]
    # Confirmed: the next getUpdates offset is past them, so Telegram forgets them.
    await eventually(lambda: len(telegram._updates), 0)


async def test_an_update_seen_twice_is_stored_once(
    gateway: RunningGateway, telegram: FakeTelegram, fake_rasa: FakeRasa, poller: asyncio.Event
) -> None:
    update = telegram.message_update(CHAT, "only once")
    telegram.push(update)
    await asyncio.to_thread(telegram.wait_for_messages, 1, 10)
    telegram.push(update)  # Telegram sends it again (as after a lost confirmation)
    telegram.push(telegram.message_update(CHAT, "next"))
    await asyncio.to_thread(telegram.wait_for_messages, 2, 10)
    await settle()
    assert fake_rasa.messages() == ["only once", "next"]
    assert scalar(gateway, select(func.count()).select_from(InboxRow)) == 2


async def test_updates_wait_while_the_gateway_is_down(
    gateway: RunningGateway, telegram: FakeTelegram, fake_rasa: FakeRasa, poller: asyncio.Event
) -> None:
    await gateway.stop()
    telegram.push(telegram.message_update(CHAT, "while you were out"))
    await asyncio.sleep(1.0)
    assert len(telegram._updates) == 1  # not confirmed: nothing was stored
    await gateway.start()
    (reply,) = await asyncio.to_thread(telegram.wait_for_messages, 1, 10)
    assert reply.text == "echo: while you were out"


async def test_a_wrong_secret_stops_the_poller(
    gateway: RunningGateway, telegram: FakeTelegram
) -> None:
    telegram.push(telegram.message_update(CHAT, "hello"))
    with pytest.raises(GatewayRefused):
        await asyncio.wait_for(poll(poll_settings(gateway, secret="not-the-secret")), 10)
    assert len(telegram._updates) == 1  # still there for a poller with the right secret


def test_the_command_needs_a_token_and_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_SECRET_TOKEN", "YOUTHLINK_ENV"):
        monkeypatch.delenv(name, raising=False)
    assert main([]) == 2
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    assert main([]) == 2
    with pytest.raises(Exception, match="TELEGRAM_SECRET_TOKEN"):
        PollSettings.from_settings(Settings(telegram_bot_token="123:abc"))
    config = PollSettings.from_settings(
        Settings(telegram_bot_token="1:a", telegram_secret_token="s", gateway_url="http://g/")
    )
    assert config.gateway_url == "http://g"
    assert config.telegram == TelegramConfig(token="1:a", secret_token="s")
