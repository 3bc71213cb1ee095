"""SMS and WhatsApp through Twilio: signed webhooks in, the Messages REST API out.

Twilio signs every webhook with `X-Twilio-Signature` over the URL it called and the form
fields. The URL is rebuilt from `YOUTHLINK_PUBLIC_URL` (what Twilio was given) plus the path
and query the gateway received, so validation holds behind a proxy that rewrites the host or
strips a path prefix. Without a public URL the URL the gateway saw is used.

WhatsApp arrives on the same webhook with `whatsapp:` addresses. Addresses are stored without
the prefix; the channel ("sms" or "whatsapp") says how to reach them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.rest import Client

from channels.channel import InboundRequest
from channels.errors import BadRequest, Unauthorized
from channels.messages import BotMessage, Button, InboundMessage, Outbound
from channels.send_failure import SendFailed
from channels.sms_render import (
    DEFAULT_MAX_SEGMENTS,
    WHATSAPP_MAX_CHARS,
    fits_chars,
    fits_segments,
    render_texts,
    resolve_option,
)
from channels.texts import MAX_TEXT_CHARS, clean_text
from youthlink.config import Settings
from youthlink.twilio_client import TwilioRateLimited, twilio_client

SMS = "sms"
WHATSAPP = "whatsapp"
MESSAGES_PATH = "/twilio/messages"
STATUS_PATH = "/twilio/status"
SIGNATURE_HEADER = "X-Twilio-Signature"
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

MAX_FORM_FIELDS = 200
# A phone number (E.164, or a short code without "+").
_NUMBER = re.compile(r"^\+?[0-9]{3,15}$")
_SID = re.compile(r"^[A-Za-z0-9]{2,64}$")
# Error codes that will not change by trying again.
OPTED_OUT_CODES = frozenset({21610})  # "Attempt to send to unsubscribed recipient"
CREDENTIAL_CODES = frozenset({20003})  # a configuration mistake: retried once it is fixed


@dataclass(frozen=True)
class TwilioConfig:
    """What the Twilio channels need from the settings."""

    account_sid: str = ""
    auth_token: str = ""
    from_number: str = ""
    api_base: str = ""
    public_url: str = ""
    max_segments: int = DEFAULT_MAX_SEGMENTS

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioConfig:
        """Read the Twilio part of the settings."""
        # `sms_max_segments` is optional in Settings (YOUTHLINK_SMS_MAX_SEGMENTS).
        max_segments = getattr(settings, "sms_max_segments", None) or DEFAULT_MAX_SEGMENTS
        return cls(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            from_number=settings.twilio_from_number,
            api_base=settings.twilio_api_base,
            public_url=settings.public_url,
            max_segments=max(1, int(max_segments)),
        )

    @property
    def status_callback(self) -> str | None:
        """Where Twilio reports delivery, when the gateway has a public URL."""
        return self.public_url.rstrip("/") + STATUS_PATH if self.public_url else None


class Form(dict[str, list[str]]):
    """Form fields, every value of repeated ones (what Twilio's validator expects)."""

    def getall(self, name: str) -> list[str]:
        """Every value of `name` (Twilio's validator signs them all)."""
        return list(self[name])

    def one(self, name: str) -> str:
        """The first value of `name`, or ''."""
        values = self.get(name)
        return values[0] if values else ""


def parse_form(body: bytes) -> Form:
    """A url-encoded body's fields; undecodable bytes become U+FFFD, never an error."""
    form = Form()
    try:
        pairs = parse_qsl(
            body.decode("utf-8", "replace"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="replace",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except ValueError as exc:
        raise BadRequest("too many form fields") from exc
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form


def webhook_url(request: InboundRequest, public_url: str) -> str:
    """The URL Twilio called: the public base URL + the path and query the gateway received."""
    if not public_url:
        return request.url
    parts = urlsplit(request.url)
    return public_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")


def check_signature(request: InboundRequest, form: Form, config: TwilioConfig) -> None:
    """Raise `Unauthorized` unless Twilio signed this request with our auth token."""
    if not config.auth_token:
        raise Unauthorized("the Twilio channel is disabled: no TWILIO_AUTH_TOKEN configured")
    signature = request.header(SIGNATURE_HEADER)
    if not signature:
        raise Unauthorized("no X-Twilio-Signature")
    algorithm = get_signature_algorithm(request.header(SIGNATURE_SETTINGS_HEADER))
    url = webhook_url(request, config.public_url)
    if not RequestValidator(config.auth_token).validate(url, form, signature, algorithm):
        raise Unauthorized("the X-Twilio-Signature does not match")
    account = form.one("AccountSid")
    if account and config.account_sid and account != config.account_sid:
        raise Unauthorized("the request is for another Twilio account")


def authenticated_form(request: InboundRequest, config: TwilioConfig) -> Form:
    """The form of a request Twilio signed; `Unauthorized` otherwise (nothing parsed further)."""
    try:
        form = parse_form(request.body)
    except BadRequest as exc:
        raise Unauthorized("the body is not a form Twilio would sign") from exc
    check_signature(request, form, config)
    return form


@dataclass(frozen=True)
class TwilioArrival:
    """One inbound Twilio message: what to store, plus what only the webhook needs."""

    messages: tuple[InboundMessage, ...]
    opt_out_type: str
    to: str


def split_address(raw: str) -> tuple[str, str]:
    """(channel, bare number) of a Twilio address (`+44...` or `whatsapp:+44...`)."""
    value = raw.strip()
    channel = SMS
    if value.lower().startswith("whatsapp:"):
        channel, value = WHATSAPP, value.split(":", 1)[1].strip()
    if not _NUMBER.match(value):
        raise BadRequest("'From' is not a phone number Twilio can reply to")
    return channel, value


def media_kind(form: Form) -> str | None:
    """What kind of attachment the message carries (never its URL), or None."""
    try:
        count = int(form.one("NumMedia") or "0")
    except ValueError:
        count = 0
    content_type = form.one("MediaContentType0").lower()
    if count > 0 or content_type:
        for prefix, kind in (("image/", "image"), ("audio/", "audio"), ("video/", "video")):
            if content_type.startswith(prefix):
                return kind
        return "file"
    if form.one("Latitude") or form.one("Longitude"):
        return "location"
    return None


def parse_inbound(form: Form) -> TwilioArrival:
    """The messages of an inbound webhook.

    A message with an attachment and a caption becomes two: the attachment (no text, so the
    gateway can say it reads only text) and then the caption as an ordinary message.
    Media URLs and coordinates are never kept.
    """
    sid = form.one("MessageSid") or form.one("SmsMessageSid")
    if not _SID.match(sid):
        raise BadRequest("'MessageSid' is missing or malformed")
    channel, address = split_address(form.one("From"))
    text = clean_text(form.one("Body"))[:MAX_TEXT_CHARS]
    kind = media_kind(form)
    messages: list[InboundMessage] = []
    if kind is not None:
        messages.append(InboundMessage(channel, address, f"{sid}:media", text="", media_kind=kind))
    if text or kind is None:
        messages.append(InboundMessage(channel, address, sid, text=text))
    return TwilioArrival(
        messages=tuple(messages),
        opt_out_type=form.one("OptOutType").strip().upper()[:10],
        to=form.one("To").strip()[:64],
    )


@dataclass(frozen=True)
class StatusReport:
    """A delivery status callback."""

    message_sid: str
    status: str
    error_code: str | None


def parse_status(form: Form) -> StatusReport:
    """A status callback's message id, status and error code."""
    sid = form.one("MessageSid") or form.one("SmsSid")
    status = (form.one("MessageStatus") or form.one("SmsStatus")).strip().lower()
    if not _SID.match(sid) or not status.isalpha() or len(status) > 20:
        raise BadRequest("not a status callback")
    code = form.one("ErrorCode").strip()
    return StatusReport(sid, status, code if code.isdigit() else None)


def failure_of(exc: BaseException) -> SendFailed:
    """A Twilio SDK or transport error as a `SendFailed` (codes, never messages)."""
    if isinstance(exc, TwilioRateLimited):
        return SendFailed(f"twilio:{exc.status}", retry_after=exc.retry_after)
    if isinstance(exc, TwilioException):
        status = getattr(exc, "status", None)
        code = getattr(exc, "code", None)
        reason = f"twilio:{code or status or type(exc).__name__}"
        if code in OPTED_OUT_CODES:
            return SendFailed(reason, opted_out=True)
        if code in CREDENTIAL_CODES or status in (401, 403):
            return SendFailed(reason)
        permanent = isinstance(status, int) and 400 <= status < 500 and status not in (408, 429)
        return SendFailed(reason, permanent=permanent)
    return SendFailed(f"twilio:{type(exc).__name__}")


class TwilioSender:
    """Twilio's Messages API through the SDK's asynchronous client (never blocks the loop)."""

    def __init__(self, config: TwilioConfig) -> None:
        self.config = config
        self._client: Client | None = None

    def _twilio(self) -> Client:
        # aiohttp wants its session made inside the running loop: made on first use.
        if self._client is None:
            self._client = twilio_client(
                self.config.account_sid,
                self.config.auth_token,
                api_base=self.config.api_base,
                asynchronous=True,
            )
        return self._client

    async def create(self, to: str, from_: str, body: str) -> str:
        """Send one message; Twilio's message sid."""
        if not (self.config.account_sid and self.config.auth_token and from_):
            raise SendFailed("twilio:not_configured")
        extra: dict[str, Any] = {}
        if self.config.status_callback:
            extra["status_callback"] = self.config.status_callback
        try:
            message = await self._twilio().messages.create_async(
                to=to, from_=from_, body=body, **extra
            )
        except Exception as exc:
            raise failure_of(exc) from None
        return str(message.sid)

    async def aclose(self) -> None:
        """Close the HTTP session."""
        client, self._client = self._client, None
        if client is not None and isinstance(client.http_client, AsyncTwilioHttpClient):
            await client.http_client.close()


class TwilioChannel:
    """SMS or WhatsApp: numbered options for buttons, replies kept to a few segments."""

    def __init__(self, name: str, config: TwilioConfig, sender: TwilioSender) -> None:
        if name not in (SMS, WHATSAPP):
            raise ValueError(f"not a Twilio channel: {name}")
        self.name = name
        self.config = config
        self.sender = sender

    def authenticate(self, request: InboundRequest) -> None:
        """Check `X-Twilio-Signature`."""
        authenticated_form(request, self.config)

    def parse(self, request: InboundRequest) -> list[InboundMessage]:
        """The messages of an inbound webhook (see `parse_inbound`)."""
        return list(parse_inbound(parse_form(request.body)).messages)

    def resolve_reply(self, text: str, offered: Sequence[Button]) -> str:
        """A number (or an option's title) picks the option last offered."""
        return resolve_option(text, offered)

    def render(self, messages: Sequence[BotMessage]) -> list[Outbound]:
        """Plain texts: numbered options; SMS within the segment budget, in GSM-7 if it can."""
        if self.name == SMS:
            texts = render_texts(messages, fits_segments(self.config.max_segments))
        else:
            texts = render_texts(messages, fits_chars(WHATSAPP_MAX_CHARS), gsm_friendly=False)
        asking = next((m.asking for m in reversed(messages) if m.asking), None)
        return [
            Outbound(body={"text": text, "asking": asking if i == len(texts) - 1 else None})
            for i, text in enumerate(texts)
        ]

    def reply_from(self, body: Mapping[str, Any]) -> str:
        """Our number to send from: the one they wrote to, else the configured one."""
        chosen = str(body.get("from") or "").strip()
        if not chosen:
            chosen = self.config.from_number
            if self.name == WHATSAPP and chosen and not chosen.startswith("whatsapp:"):
                chosen = "whatsapp:" + chosen
        return chosen

    async def send(self, address: str, outbound: Outbound) -> str:
        """Send one text; `from` in the body is the number the young person wrote to."""
        text = str(outbound.body.get("text") or "")
        if not text.strip():
            raise SendFailed("twilio:empty", permanent=True)
        to = address if self.name == SMS else f"whatsapp:{address}"
        return await self.sender.create(to, self.reply_from(outbound.body), text)

    async def aclose(self) -> None:
        """Close the shared sender."""
        await self.sender.aclose()
