"""`youthlink telegram-poll`: Telegram without a public URL, by long polling `getUpdates`.

Each update is handed to the running gateway's own webhook (`POST /telegram/webhook` with the
secret token), so it takes exactly the webhook's path: the same checks, the same inbox, the same
de-duplication by update id. An update is confirmed to Telegram (the next `offset`) only after
the gateway has stored it; if the gateway is down the poller waits and tries the same update
again, and Telegram keeps unconfirmed updates for 24 hours.

Polling and a webhook exclude each other: the poller removes the webhook when it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from telegram import Bot, Update
from telegram.error import RetryAfter, TelegramError

from channels.errors import describe
from channels.telegram import (
    ALLOWED_UPDATES,
    SECRET_HEADER,
    WEBHOOK_PATH,
    TelegramConfig,
    failure_of,
    make_bot,
)
from youthlink.config import Settings
from youthlink.errors import ConfigurationError

log = logging.getLogger(__name__)

LONG_POLL_SECONDS = 30
BACKOFF_START, BACKOFF_CAP = 1.0, 30.0


class GatewayRefused(Exception):
    """The gateway refused the update for good (wrong secret token): polling cannot go on."""


@dataclass(frozen=True)
class PollSettings:
    """Where updates come from and go to."""

    telegram: TelegramConfig
    gateway_url: str
    long_poll: int = LONG_POLL_SECONDS
    backoff_start: float = BACKOFF_START
    backoff_cap: float = BACKOFF_CAP

    @classmethod
    def from_settings(cls, settings: Settings, gateway_url: str | None = None) -> PollSettings:
        """Poll settings from the app settings; the gateway's own URL by default."""
        telegram = TelegramConfig.from_settings(settings)
        if not telegram.token:
            raise ConfigurationError("TELEGRAM_BOT_TOKEN is not set")
        if not telegram.secret_token:
            raise ConfigurationError(
                "TELEGRAM_SECRET_TOKEN is not set (the gateway and the poller share it)"
            )
        return cls(telegram=telegram, gateway_url=(gateway_url or settings.gateway_url).rstrip("/"))


class Poller:
    """Moves updates from `getUpdates` to the gateway's webhook until stopped."""

    def __init__(self, config: PollSettings, bot: Bot, client: httpx.AsyncClient) -> None:
        self.config = config
        self.bot = bot
        self.client = client
        self.offset: int | None = None
        self.forwarded = 0
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the current step and return from `run`."""
        self._stopping.set()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def run(self) -> None:
        """Poll until stopped; raises `GatewayRefused` if the gateway rejects the secret."""
        await self._without_webhook()
        backoff = self.config.backoff_start
        while not self._stopping.is_set():
            try:
                updates = await self._next_updates()
            except RetryAfter as exc:
                wait = failure_of(exc).retry_after or backoff
                log.warning("Telegram asked to wait %.0fs", wait)
                await self._pause(wait)
                continue
            except TelegramError as exc:
                log.warning("getUpdates failed (%s); retrying in %.0fs", describe(exc), backoff)
                await self._pause(backoff)
                backoff = min(self.config.backoff_cap, backoff * 2)
                continue
            if updates is None:
                return
            backoff = self.config.backoff_start
            for update in updates:
                if not await self._forward(update):
                    break  # stopping: this update stays unconfirmed for next time
                self.offset = update.update_id + 1
                self.forwarded += 1

    async def _next_updates(self) -> tuple[Update, ...] | None:
        """The next updates (a long poll), or None when stopped while waiting for them.

        Updates fetched but not handed on are not confirmed: Telegram sends them again.
        """
        fetch = asyncio.ensure_future(
            self.bot.get_updates(
                offset=self.offset,
                timeout=self.config.long_poll,
                allowed_updates=list(ALLOWED_UPDATES),
                read_timeout=self.config.long_poll + 10,
            )
        )
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not fetch.done():
            fetch.cancel()
            with contextlib.suppress(BaseException):
                await fetch
            return None
        return fetch.result()

    async def _without_webhook(self) -> None:
        backoff = self.config.backoff_start
        while not self._stopping.is_set():
            try:
                await self.bot.delete_webhook(drop_pending_updates=False)
                return
            except TelegramError as exc:
                log.warning("deleteWebhook failed (%s); retrying", describe(exc))
                await self._pause(backoff)
                backoff = min(self.config.backoff_cap, backoff * 2)

    async def _forward(self, update: Update) -> bool:
        """Hand one update to the gateway until it is stored; False if stopped meanwhile."""
        url = self.config.gateway_url + WEBHOOK_PATH
        headers = {SECRET_HEADER: self.config.telegram.secret_token}
        backoff = self.config.backoff_start
        while not self._stopping.is_set():
            try:
                response = await self.client.post(url, json=update.to_dict(), headers=headers)
            except httpx.HTTPError as exc:
                log.warning("gateway not reachable (%s); retrying", type(exc).__name__)
            else:
                if response.status_code == 200:
                    return True
                if response.status_code == 403:
                    raise GatewayRefused("the gateway refused the secret token")
                if response.status_code in (400, 413, 415):
                    # The gateway will never accept it: skip it rather than stall every chat.
                    log.error("gateway refused update_id=%s (%s)", update.update_id,
                              response.status_code)  # fmt: skip
                    return True
                log.warning("gateway answered %s; retrying", response.status_code)
            await self._pause(backoff)
            backoff = min(self.config.backoff_cap, backoff * 2)
        return False


async def poll(config: PollSettings, stop: asyncio.Event | None = None) -> int:
    """Run a poller until `stop` is set; how many updates were forwarded."""
    bot = make_bot(config.telegram, timeout=float(config.long_poll + 10), pool=2)
    async with bot, httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=3.0)) as client:
        poller = Poller(config, bot, client)
        waiter = None
        if stop is not None:

            async def watch() -> None:
                await stop.wait()
                poller.stop()

            waiter = asyncio.create_task(watch())
        try:
            await poller.run()
        finally:
            if waiter is not None:
                waiter.cancel()
        return poller.forwarded


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `youthlink telegram-poll`."""
    parser = argparse.ArgumentParser(
        prog="youthlink telegram-poll",
        description="Fetch Telegram updates by long polling and hand them to the gateway.",
    )
    parser.add_argument("--gateway-url", help="the running gateway (YOUTHLINK_GATEWAY_URL)")
    parser.add_argument("--long-poll", type=int, default=LONG_POLL_SECONDS, help="seconds")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for name in ("httpx", "httpcore", "telegram"):  # URLs with the bot token, chat ids
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
        config = PollSettings.from_settings(settings, args.gateway_url)
    except ConfigurationError as exc:
        print(f"youthlink telegram-poll: {exc}")
        return 2
    if settings.public_url:
        log.warning("YOUTHLINK_PUBLIC_URL is set: polling removes the gateway's webhook")
    config = PollSettings(config.telegram, config.gateway_url, long_poll=max(0, args.long_poll))

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
        count = await poll(config, stop)
        log.info("stopped after forwarding %s updates", count)
        return 0

    try:
        return asyncio.run(run())
    except GatewayRefused as exc:
        print(f"youthlink telegram-poll: {exc}; check TELEGRAM_SECRET_TOKEN")
        return 1
