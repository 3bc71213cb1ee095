"""The local channel: a bearer-token HTTP API used by `youthlink chat` and tests.

Replies are delivered by being read back through the API, so sending is immediate.
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Sequence
from typing import Any

from channels.channel import InboundRequest
from channels.errors import BadRequest, TextTooLong, Unauthorized
from channels.messages import BotMessage, Button, InboundMessage, Outbound
from channels.texts import MAX_TEXT_CHARS, clean_text

MAX_ADDRESS_CHARS = 128
MAX_MESSAGE_ID_CHARS = 128
MAX_BODY_BYTES = 256 * 1024

# Channels whose replies the client reads back instead of being pushed to it.
READ_BACK_CHANNELS = frozenset({"local"})


def check_bearer(request: InboundRequest, token: str) -> None:
    """Accept only `Authorization: Bearer <token>`; an unset token disables the endpoint."""
    if not token:
        raise Unauthorized("the local channel is disabled: no YOUTHLINK_LOCAL_TOKEN configured")
    scheme, _, given = request.header("authorization").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode("utf-8", "replace"), token.encode("utf-8")
    ):
        raise Unauthorized()


def parse_address(value: Any) -> str:
    """A local address: a short opaque id chosen by the client (1-128 printable characters)."""
    if not isinstance(value, str):
        raise BadRequest("'address' must be a string")
    address = clean_text(value)
    if not address or len(address) > MAX_ADDRESS_CHARS or not address.isprintable():
        raise BadRequest(f"'address' must be 1-{MAX_ADDRESS_CHARS} printable characters")
    return address


def parse_local_message(body: bytes) -> InboundMessage:
    """Parse `{"address", "text", "message_id"?}`; refuse anything else with a clear reason."""
    if len(body) > MAX_BODY_BYTES:
        raise TextTooLong(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the body must be a JSON object") from exc
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    address = parse_address(data.get("address"))
    text = data.get("text")
    if not isinstance(text, str):
        raise BadRequest("'text' must be a string")
    text = clean_text(text)
    if not text:
        raise BadRequest("'text' is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise TextTooLong(f"'text' is longer than {MAX_TEXT_CHARS} characters")
    message_id = data.get("message_id")
    if message_id is None:
        message_id = uuid.uuid4().hex
    if not isinstance(message_id, str):
        raise BadRequest("'message_id' must be a string")
    message_id = clean_text(message_id)
    if not message_id or len(message_id) > MAX_MESSAGE_ID_CHARS:
        raise BadRequest(f"'message_id' must be 1-{MAX_MESSAGE_ID_CHARS} characters")
    return InboundMessage(
        channel="local", address=address, provider_message_id=message_id, text=text
    )


class LocalChannel:
    """The local channel: keeps buttons as buttons and delivers by being read back."""

    name = "local"

    def __init__(self, token: str) -> None:
        self._token = token

    def authenticate(self, request: InboundRequest) -> None:
        """Check the bearer token."""
        check_bearer(request, self._token)

    def parse(self, request: InboundRequest) -> list[InboundMessage]:
        """One message from a JSON body."""
        return [parse_local_message(request.body)]

    def resolve_reply(self, text: str, offered: Sequence[Button]) -> str:
        """The local client sends payloads itself, so text passes unchanged."""
        return text

    def render(self, messages: Sequence[BotMessage]) -> list[Outbound]:
        """One outbound message per bot message, buttons kept."""
        return [Outbound(body=message.to_json()) for message in messages]

    async def send(self, address: str, outbound: Outbound) -> str:
        """Nothing to push: the client reads replies back from the outbox."""
        return "local-" + uuid.uuid4().hex
