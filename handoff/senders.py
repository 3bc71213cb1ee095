"""Page senders: deliver one short text to one address over SMS (Twilio) or Telegram.

Both are asynchronous: the Twilio SDK runs on its aiohttp client (`create_async`) and
python-telegram-bot is async, so a slow provider never blocks the event loop. Provider errors
become `SendFailed` with a short reason (an error code, never the provider's message, which can
quote the number) and whether and when to try again.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import timedelta
from typing import Any, Protocol

from telegram import Bot, LinkPreviewOptions
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from youthlink.config import Settings
from youthlink.twilio_client import TwilioRateLimited, twilio_client

TELEGRAM_API = "https://api.telegram.org"
SEND_TIMEOUT = 10.0
# httpx logs every URL at INFO (a Telegram URL holds the bot token); python-telegram-bot logs
# every call's parameters (chat ids, texts) at DEBUG.
CHATTY_LOGGERS = ("httpx", "httpcore", "telegram", "twilio", "aiohttp")


def quiet_library_loggers() -> None:
    """Keep the provider libraries' logs to warnings, so no token, number or text reaches a log."""
    for name in CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


class SendFailed(Exception):
    """The page was not delivered this time."""

    def __init__(
        self, reason: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason[:64]
        self.retry_after = retry_after
        self.permanent = permanent


class PageSender(Protocol):
    """Delivers pages on one channel."""

    channel: str

    async def send(self, address: str, text: str) -> str:
        """Send `text` to `address`; the provider's message id. Raises `SendFailed`."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class TwilioSmsSender:
    """SMS through Twilio's Messages API (twilio 9, asynchronous client)."""

    channel = "sms"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        api_base: str = "",
        timeout: float = SEND_TIMEOUT,
        status_callback: str | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.from_number = from_number
        self.api_base = api_base
        self.timeout = timeout
        self.status_callback = status_callback
        self._auth_token = auth_token
        self._client: Client | None = None

    def _twilio(self) -> Client:
        # aiohttp wants its session made inside the running loop, so the client is made lazily.
        if self._client is None:
            self._client = twilio_client(
                self.account_sid,
                self._auth_token,
                api_base=self.api_base,
                timeout=self.timeout,
                asynchronous=True,
            )
        return self._client

    async def send(self, address: str, text: str) -> str:
        extra: dict[str, Any] = {}
        if self.status_callback:
            extra["status_callback"] = self.status_callback
        try:
            message = await self._twilio().messages.create_async(
                to=address, from_=self.from_number, body=text, **extra
            )
        except TwilioRateLimited as exc:
            raise SendFailed(f"twilio:{exc.status}", retry_after=exc.retry_after) from None
        except TwilioException as exc:
            status = getattr(exc, "status", None)
            code = getattr(exc, "code", None) or status
            # 4xx: this request will never succeed (bad number, unsubscribed, credentials).
            permanent = isinstance(status, int) and 400 <= status < 500 and status != 429
            raise SendFailed(f"twilio:{code}", permanent=permanent) from None
        except Exception as exc:  # timeouts, refused connections, aiohttp's ClientError
            raise SendFailed(f"twilio:{type(exc).__name__}") from None
        return str(message.sid)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and isinstance(client.http_client, AsyncTwilioHttpClient):
            await client.http_client.close()


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramSender:
    """Telegram messages through the Bot API (python-telegram-bot 22)."""

    channel = "telegram"

    def __init__(self, token: str, *, api_base: str = "", timeout: float = SEND_TIMEOUT) -> None:
        self.api_base = (api_base or TELEGRAM_API).rstrip("/")
        self.timeout = timeout
        self._token = token
        self._bot: Bot | None = None
        self._ready = asyncio.Lock()

    async def _telegram(self) -> Bot:
        async with self._ready:
            if self._bot is None:
                request = HTTPXRequest(
                    connection_pool_size=8,
                    connect_timeout=self.timeout,
                    read_timeout=self.timeout,
                    write_timeout=self.timeout,
                    pool_timeout=self.timeout,
                )
                bot = Bot(self._token, base_url=f"{self.api_base}/bot", request=request)
                try:
                    await bot.initialize()
                except BaseException:
                    await bot.shutdown()  # its connection pool; the next page tries afresh
                    raise
                self._bot = bot
        return self._bot

    async def send(self, address: str, text: str) -> str:
        try:
            bot = await self._telegram()
            # No preview: Telegram's servers would otherwise fetch the dashboard link.
            message = await bot.send_message(
                chat_id=address,
                text=text,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except RetryAfter as exc:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the int/timedelta deprecation notice
                wait = _seconds(exc.retry_after)
            raise SendFailed("telegram:429", retry_after=wait) from None
        except (Forbidden, BadRequest, InvalidToken, ChatMigrated) as exc:
            # Blocked by the user, unknown chat, wrong token: retrying will not help.
            raise SendFailed(f"telegram:{type(exc).__name__}", permanent=True) from None
        except TelegramError as exc:  # NetworkError, TimedOut, 5xx
            raise SendFailed(f"telegram:{type(exc).__name__}") from None
        return str(message.message_id)

    async def aclose(self) -> None:
        bot, self._bot = self._bot, None
        if bot is not None:
            await bot.shutdown()


def senders_from_settings(settings: Settings) -> dict[str, PageSender]:
    """A sender for every channel the deployment has credentials for (none in development)."""
    senders: dict[str, PageSender] = {}
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number:
        senders["sms"] = TwilioSmsSender(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_from_number,
            api_base=settings.twilio_api_base,
        )
    if settings.telegram_bot_token:
        senders["telegram"] = TelegramSender(
            settings.telegram_bot_token, api_base=settings.telegram_api_base
        )
    return senders
