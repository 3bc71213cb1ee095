"""Messages as plain records: what arrives, what the bot says, what goes out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InboundMessage:
    """One message from a young person, parsed from a channel's request."""

    channel: str
    address: str
    provider_message_id: str
    text: str
    media_kind: str | None = None


@dataclass(frozen=True)
class Button:
    """A quick reply the bot offers: shown as `title`, sent back as `payload`."""

    title: str
    payload: str


@dataclass(frozen=True)
class BotMessage:
    """One message from the dialogue, channel-neutral; `asking` names the question it asks."""

    text: str
    buttons: tuple[Button, ...] = ()
    asking: str | None = None
    image: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The local channel's shape: text, buttons (title/payload) and asking."""
        return {
            "text": self.text,
            "buttons": buttons_to_json(self.buttons),
            "asking": self.asking,
        }


@dataclass(frozen=True)
class Outbound:
    """A message rendered for one channel: `body` is what that channel's sender needs."""

    body: Mapping[str, Any]


def _buttons(raw: Any) -> tuple[Button, ...]:
    if not isinstance(raw, list):
        return ()
    buttons = []
    for item in raw:
        if isinstance(item, Mapping):
            title = str(item.get("title", "")).strip()
            payload = str(item.get("payload", title)).strip()
            if title or payload:
                buttons.append(Button(title=title or payload, payload=payload or title))
    return tuple(buttons)


def fold_rasa_messages(raw: Sequence[Any]) -> list[BotMessage]:
    """Turn Rasa REST channel output into bot messages.

    `{"custom": {"asking": key}}` messages are folded into the preceding text message as
    `asking` and never shown; other custom payloads are dropped.
    """
    messages: list[BotMessage] = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        custom = item.get("custom")
        text = item.get("text")
        asking = None
        if isinstance(custom, Mapping) and isinstance(custom.get("asking"), str):
            asking = custom["asking"]
        if isinstance(text, str) and text.strip():
            image = item.get("image") if isinstance(item.get("image"), str) else None
            messages.append(
                BotMessage(
                    text=text, buttons=_buttons(item.get("buttons")), asking=asking, image=image
                )
            )
        elif asking is not None and messages:
            last = messages[-1]
            messages[-1] = BotMessage(
                text=last.text, buttons=last.buttons, asking=asking, image=last.image
            )
    return messages


def offered_buttons(messages: Sequence[BotMessage]) -> tuple[Button, ...]:
    """The buttons offered by a batch of bot messages, in order, without repeated payloads."""
    seen: dict[str, Button] = {}
    for message in messages:
        for button in message.buttons:
            seen.setdefault(button.payload, button)
    return tuple(seen.values())


def buttons_to_json(buttons: Sequence[Button]) -> list[dict[str, str]]:
    """Buttons as JSON-ready dicts."""
    return [{"title": b.title, "payload": b.payload} for b in buttons]


def buttons_from_json(raw: Any) -> tuple[Button, ...]:
    """Buttons back from their JSON form; anything malformed is skipped."""
    return _buttons(raw)
