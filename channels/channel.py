"""The channel interface every messaging channel (local, SMS, WhatsApp, Telegram) implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from channels.messages import BotMessage, Button, InboundMessage, Outbound


@dataclass(frozen=True)
class InboundRequest:
    """An HTTP request as a channel sees it: enough to authenticate and parse, nothing more."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str:
        """A header value by case-insensitive name, or ''."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return ""


@runtime_checkable
class Channel(Protocol):
    """A messaging channel.

    `authenticate` runs before anything is parsed or stored; `parse` turns an authenticated
    request into messages; `resolve_reply` maps what was typed to an offered payload where the
    channel has its own convention (numbered options on SMS); `render` turns the dialogue's
    messages into what this channel can show; `send` hands one rendered message to the provider.
    """

    name: str

    def authenticate(self, request: InboundRequest) -> None:
        """Raise `Unauthorized` unless the request really comes from this channel's provider."""
        ...

    def parse(self, request: InboundRequest) -> list[InboundMessage]:
        """The messages in an authenticated request; raise `BadRequest` when it is malformed."""
        ...

    def resolve_reply(self, text: str, offered: Sequence[Button]) -> str:
        """The text to relay for what the young person typed, given the buttons last offered."""
        ...

    def render(self, messages: Sequence[BotMessage]) -> list[Outbound]:
        """The dialogue's messages as this channel shows them."""
        ...

    async def send(self, address: str, outbound: Outbound) -> str:
        """Deliver one message; return the provider's message id or raise `DeliveryFailed`."""
        ...
