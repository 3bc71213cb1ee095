"""Telegram through the Bot API (python-telegram-bot 22): webhook or polled updates in, `Bot` out.

The webhook is registered with a secret token, which Telegram sends back in
`X-Telegram-Bot-Api-Secret-Token`; it and the content type are checked before the body is
parsed. Updates are parsed with `telegram.Update.de_json`; each update id is stored once.
Private chats only: the chat id is the young person's address.

Buttons are inline keyboards: a press arrives as a callback query carrying the button's payload
(or, for a payload longer than Telegram's 64 bytes, a short hash of it), is answered with
`answerCallbackQuery`, and its keyboard removed so an old question cannot be answered twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import (
    BadRequest as TelegramBadRequest,
)
from telegram.error import (
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from channels.channel import InboundRequest
from channels.errors import BadRequest, Unauthorized
from channels.keywords import command_text
from channels.messages import BotMessage, Button, InboundMessage, Outbound
from channels.rate_limit import RateLimiter
from channels.send_failure import SendFailed
from channels.sms_render import fits_chars, split_text
from channels.texts import MAX_TEXT_CHARS, clean_text
from youthlink.config import Settings
from youthlink.errors import ConfigurationError

log = logging.getLogger(__name__)

TELEGRAM = "telegram"
TELEGRAM_API = "https://api.telegram.org"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105  (a header name)
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
MAX_MESSAGE_CHARS = 4096
MAX_CALLBACK_BYTES = 64
SEND_TIMEOUT = 10.0
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# Message contents that are not text, in the order they are checked.
MEDIA_FIELDS = (
    "photo", "sticker", "voice", "audio", "video", "video_note", "animation", "document",
    "location", "venue", "contact", "poll", "dice", "story", "game",
)  # fmt: skip


class UnsupportedMediaType(BadRequest):
    """Telegram sends updates as application/json."""

    status_code = 415


@dataclass(frozen=True)
class TelegramConfig:
    """What the Telegram channel needs from the settings."""

    token: str = ""
    secret_token: str = ""
    api_base: str = ""
    public_url: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramConfig:
        """Read the Telegram part of the settings."""
        return cls(
            token=settings.telegram_bot_token,
            secret_token=settings.telegram_secret_token,
            api_base=settings.telegram_api_base,
            public_url=settings.public_url,
        )

    @property
    def base_url(self) -> str:
        """python-telegram-bot's `base_url` (the API root + "/bot")."""
        return (self.api_base or TELEGRAM_API).rstrip("/") + "/bot"

    @property
    def webhook_url(self) -> str:
        """The URL Telegram posts updates to."""
        return self.public_url.rstrip("/") + WEBHOOK_PATH


def make_bot(config: TelegramConfig, *, timeout: float = SEND_TIMEOUT, pool: int = 8) -> Bot:
    """A `Bot` on the configured API root with bounded timeouts."""
    request = HTTPXRequest(
        connection_pool_size=pool,
        connect_timeout=timeout,
        read_timeout=timeout,
        write_timeout=timeout,
        pool_timeout=timeout,
    )
    return Bot(config.token, base_url=config.base_url, request=request)


async def register_webhook(settings: Settings) -> str:
    """Point Telegram at the gateway's webhook, with the secret token; returns the URL.

    Needs TELEGRAM_BOT_TOKEN, TELEGRAM_SECRET_TOKEN and YOUTHLINK_PUBLIC_URL (https).
    """
    config = TelegramConfig.from_settings(settings)
    if not (config.token and config.public_url):
        raise ConfigurationError("TELEGRAM_BOT_TOKEN and YOUTHLINK_PUBLIC_URL are needed")
    if not _SECRET.match(config.secret_token):
        raise ConfigurationError(
            "TELEGRAM_SECRET_TOKEN must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
        )
    bot = make_bot(config)
    async with bot:
        await bot.set_webhook(
            url=config.webhook_url,
            secret_token=config.secret_token,
            allowed_updates=list(ALLOWED_UPDATES),
        )
    return config.webhook_url


def check_secret(request: InboundRequest, secret_token: str) -> None:
    """Raise `Unauthorized` unless the request carries our secret token (constant time)."""
    if not secret_token:
        raise Unauthorized("the Telegram webhook is disabled: no TELEGRAM_SECRET_TOKEN configured")
    given = request.header(SECRET_HEADER)
    if not hmac.compare_digest(given.encode("utf-8", "replace"), secret_token.encode("utf-8")):
        raise Unauthorized("wrong or missing secret token")


def check_content_type(request: InboundRequest) -> None:
    """Refuse anything but JSON before reading it."""
    kind = request.header("content-type").split(";")[0].strip().lower()
    if kind != "application/json":
        raise UnsupportedMediaType("updates must be application/json")


def callback_data(payload: str) -> str:
    """What a button carries: its payload, or `h:` + a short hash when that is too long."""
    if len(payload.encode("utf-8")) <= MAX_CALLBACK_BYTES:
        return payload
    return "h:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class CallbackQuery:
    """A button press to acknowledge: its id and the message whose keyboard to remove."""

    query_id: str
    chat_id: int | None
    message_id: int | None


@dataclass(frozen=True)
class TelegramArrival:
    """What one update holds: messages to store, and a button press to acknowledge."""

    messages: tuple[InboundMessage, ...] = ()
    callback: CallbackQuery | None = None


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest("an id is not a whole number")
    return value


def media_kind(message: Message) -> str | None:
    """What a message carries instead of (or besides) text, or None."""
    for name in MEDIA_FIELDS:
        if getattr(message, name, None):
            return name
    return None


def _from_message(update_id: int, message: Message) -> tuple[InboundMessage, ...]:
    if message.chat.type != ChatType.PRIVATE:
        return ()  # the assistant talks one to one; groups and channels are ignored
    if message.from_user is not None and message.from_user.is_bot:
        return ()
    address = str(_int(message.chat.id))
    text = clean_text(message.text or message.caption or "")[:MAX_TEXT_CHARS]
    kind = media_kind(message)
    found: list[InboundMessage] = []
    if kind is not None:
        found.append(InboundMessage(TELEGRAM, address, f"{update_id}:media", "", kind))
    if text or kind is None:
        found.append(InboundMessage(TELEGRAM, address, str(update_id), text))
    return tuple(found)


def _from_callback(update_id: int, update: Update) -> TelegramArrival:
    query = update.callback_query
    assert query is not None
    source = query.message
    chat = source.chat if source is not None else None
    if chat is not None and chat.type != ChatType.PRIVATE:
        return TelegramArrival(callback=CallbackQuery(str(query.id), None, None))
    address = str(_int(chat.id if chat is not None else query.from_user.id))
    data = clean_text(query.data or "")[:MAX_TEXT_CHARS]
    message_id = _int(source.message_id) if source is not None else None
    callback = CallbackQuery(str(query.id), int(address), message_id)
    if not data:
        return TelegramArrival(callback=callback)
    return TelegramArrival((InboundMessage(TELEGRAM, address, str(update_id), data),), callback)


def parse_update(body: bytes) -> TelegramArrival:
    """The messages and button press of one update (JSON); `BadRequest` when malformed.

    Edited messages count as new text. Other kinds of update are acknowledged and ignored.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise BadRequest("an update is a JSON object")
    try:
        update = Update.de_json(data, None)
        update_id = _int(update.update_id)
        if update.callback_query is not None:
            return _from_callback(update_id, update)
        message = update.message or update.edited_message
        if message is None:
            return TelegramArrival()
        return TelegramArrival(_from_message(update_id, message))
    except BadRequest:
        raise
    except Exception as exc:  # de_json trusts its input: anything malformed lands here
        raise BadRequest("not a Telegram update") from exc


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def failure_of(exc: BaseException) -> SendFailed:
    """A python-telegram-bot error as a `SendFailed` (the error type, never its message)."""
    if isinstance(exc, RetryAfter):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the int/timedelta deprecation notice
            wait = _seconds(exc.retry_after)
        return SendFailed("telegram:429", retry_after=wait)
    if isinstance(exc, Forbidden):
        return SendFailed("telegram:Forbidden", opted_out=True)  # the user blocked the bot
    if isinstance(exc, TelegramBadRequest | ChatMigrated):
        return SendFailed(f"telegram:{type(exc).__name__}", permanent=True)
    if isinstance(exc, InvalidToken):
        return SendFailed("telegram:InvalidToken")  # configuration: retried once fixed
    if isinstance(exc, TelegramError):
        return SendFailed(f"telegram:{type(exc).__name__}")
    return SendFailed(f"telegram:{type(exc).__name__}")


def keyboard(buttons: Sequence[Mapping[str, Any]]) -> InlineKeyboardMarkup | None:
    """Inline buttons: in one row when few and short, else one a row."""
    items = [
        InlineKeyboardButton(str(b.get("title") or b.get("payload")), callback_data=callback_data(
            str(b.get("payload") or b.get("title"))
        ))
        for b in buttons
        if isinstance(b, Mapping) and (b.get("title") or b.get("payload"))
    ]  # fmt: skip
    if not items:
        return None
    if len(items) <= 3 and all(len(i.text) <= 12 for i in items):
        return InlineKeyboardMarkup([items])
    return InlineKeyboardMarkup([[item] for item in items])


class TelegramChannel:
    """Telegram: inline keyboards for buttons, commands as words, paced sends."""

    name = TELEGRAM

    def __init__(self, config: TelegramConfig, limiter: RateLimiter | None = None) -> None:
        self.config = config
        self.limiter = limiter or RateLimiter()
        self._bot: Bot | None = None
        self._ready = asyncio.Lock()

    def authenticate(self, request: InboundRequest) -> None:
        """Check the secret token, then the content type; nothing is parsed before."""
        check_secret(request, self.config.secret_token)
        check_content_type(request)

    def parse(self, request: InboundRequest) -> list[InboundMessage]:
        """The messages of one update."""
        return list(parse_update(request.body).messages)

    def resolve_reply(self, text: str, offered: Sequence[Button]) -> str:
        """A pressed button's hashed payload back to the payload; commands to words."""
        if text.startswith("h:"):
            for button in offered:
                if callback_data(button.payload) == text:
                    return button.payload
        return command_text(text)

    def render(self, messages: Sequence[BotMessage]) -> list[Outbound]:
        """One Telegram message per bot message (split past 4,096 characters), buttons kept."""
        rendered: list[Outbound] = []
        for message in messages:
            parts = split_text(message.text, fits_chars(MAX_MESSAGE_CHARS)) or [message.text]
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                rendered.append(
                    Outbound(
                        body={
                            "text": part,
                            "buttons": [
                                {"title": b.title, "payload": b.payload} for b in message.buttons
                            ]
                            if last
                            else [],
                            "asking": message.asking if last else None,
                        }
                    )
                )
        return rendered

    async def _telegram(self) -> Bot:
        async with self._ready:
            if self._bot is None:
                bot = make_bot(self.config)
                try:
                    await bot.initialize()
                except BaseException:
                    await bot.shutdown()
                    raise
                self._bot = bot
        return self._bot

    async def send(self, address: str, outbound: Outbound) -> str:
        """Send one message at the pace Telegram allows; its message id."""
        if not self.config.token:
            raise SendFailed("telegram:not_configured")
        text = str(outbound.body.get("text") or "")
        if not text.strip():
            raise SendFailed("telegram:empty", permanent=True)
        buttons = outbound.body.get("buttons") or []
        await self.limiter.acquire(address)
        try:
            bot = await self._telegram()
            sent = await bot.send_message(
                chat_id=address,
                text=text,
                reply_markup=keyboard(buttons) if isinstance(buttons, list) else None,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except Exception as exc:
            failure = failure_of(exc)
            if failure.retry_after:
                self.limiter.pause(failure.retry_after)  # flood control is per bot
            raise failure from None
        return str(sent.message_id)

    async def acknowledge(self, callback: CallbackQuery) -> None:
        """Stop the button's spinner and remove the keyboard it was on (best effort)."""
        if not self.config.token:
            return
        try:
            bot = await self._telegram()
            await bot.answer_callback_query(callback.query_id)
            if callback.chat_id is not None and callback.message_id is not None:
                await self.limiter.acquire(str(callback.chat_id))
                await bot.edit_message_reply_markup(
                    chat_id=callback.chat_id, message_id=callback.message_id, reply_markup=None
                )
        except Exception as exc:
            log.info("callback acknowledgement failed: %s", failure_of(exc).reason)

    async def aclose(self) -> None:
        """Close the Bot's connections."""
        bot, self._bot = self._bot, None
        if bot is not None:
            await bot.shutdown()
