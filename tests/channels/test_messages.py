"""Folding Rasa's REST output into bot messages."""

from __future__ import annotations

from typing import Any

import pytest

from channels.messages import BotMessage, Button, fold_rasa_messages, offered_buttons

pytestmark = pytest.mark.unit


def test_asking_is_folded_into_the_preceding_text_and_never_shown() -> None:
    raw = [
        {"recipient_id": "c", "text": "Hi!"},
        {
            "recipient_id": "c",
            "text": "Is it ok?",
            "buttons": [{"title": "Yes", "payload": "/affirm"}],
        },
        {"recipient_id": "c", "custom": {"asking": "consent"}},
        {"recipient_id": "c", "custom": {"something": "else"}},
    ]
    assert fold_rasa_messages(raw) == [
        BotMessage(text="Hi!"),
        BotMessage(text="Is it ok?", buttons=(Button("Yes", "/affirm"),), asking="consent"),
    ]


def test_asking_in_the_same_message_and_orphan_asking() -> None:
    assert fold_rasa_messages([{"custom": {"asking": "age"}}]) == []
    folded = fold_rasa_messages([{"text": "Age?", "custom": {"asking": "age"}}])
    assert folded == [BotMessage(text="Age?", asking="age")]


def test_malformed_items_are_skipped() -> None:
    raw: list[Any] = [None, 3, {"text": ""}, {"text": "ok", "buttons": "nope"}, {"buttons": [{}]}]
    assert fold_rasa_messages(raw) == [BotMessage(text="ok")]


def test_offered_buttons_across_a_batch() -> None:
    messages = [
        BotMessage("a", (Button("Yes", "/affirm"),)),
        BotMessage("b", (Button("Yes!", "/affirm"), Button("No", "/deny"))),
    ]
    assert [b.payload for b in offered_buttons(messages)] == ["/affirm", "/deny"]
