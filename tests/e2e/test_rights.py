"""The young person's rights through the running stack: PRIVACY, "what do you know about me?",
DELETE mid-way and after sending (the referral, the stored messages and the Rasa tracker)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from channels.chat_client import GatewayClient, exchange
from tests.support.stack import Stack
from youthlink.config import Settings
from youthlink.crypto import Cipher

pytestmark = pytest.mark.e2e

NAME = "Zephyrine"
OWN_WORDS = "my quokka-shaped worries about exams"
INTERESTS = "skateboarding at the xylophone park"
TRACKER_SENDER_PURPOSE = "rasa-tracker"  # bot.tracker_store.SENDER_HASH_PURPOSE (Rasa env)


class Chat:
    """One young person on the local channel: send a message, get the bot's messages back."""

    def __init__(self, stack: Stack, http: httpx.Client) -> None:
        self.gateway = GatewayClient(Settings.from_env(stack.env), http)
        self.address = "rights-" + uuid.uuid4().hex
        self.conversation_id = ""

    def say(self, text: str) -> tuple[str, str | None]:
        """All the bot's text in reply, and the question it is asking now (if any)."""
        self.conversation_id, messages = exchange(self.gateway, self.address, text, wait=60)
        said = "\n".join(str(m.get("text") or "") for m in messages)
        return said, _asking(messages)


def _asking(messages: Sequence[Mapping[str, Any]]) -> str | None:
    return next((str(m["asking"]) for m in reversed(messages) if m.get("asking")), None)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=90) as client:
        yield client


def _cipher(stack: Stack) -> Cipher:
    keys = stack.env["YOUTHLINK_ENCRYPTION_KEYS"].split(",")
    return Cipher.from_keys(keys, stack.env["YOUTHLINK_HASH_KEY"])


def tracker_events(stack: Stack, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's stored Rasa events, decrypted."""
    cipher = _cipher(stack)
    engine = sa.create_engine(f"sqlite:///{Path(stack.workdir) / 'tracker.db'}")
    try:
        with engine.connect() as conn:
            tokens = conn.execute(
                sa.text("SELECT data_encrypted FROM tracker_events WHERE sender_key = :key"),
                {"key": cipher.lookup_hash(TRACKER_SENDER_PURPOSE, conversation_id)},
            ).scalars()
            return [json.loads(str(cipher.decrypt(token))) for token in tokens]
    finally:
        engine.dispose()


def stored_messages(stack: Stack, conversation_id: str) -> list[str]:
    """What the gateway still holds of the conversation's messages, both ways, decrypted."""
    cipher = _cipher(stack)
    engine = sa.create_engine(stack.env["YOUTHLINK_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            found = [
                str(cipher.decrypt(token))
                for table, column in (("inbox", "text_encrypted"), ("outbox", "body_encrypted"))
                for token in conn.execute(
                    sa.text(f"SELECT {column} FROM {table} WHERE conversation_id = :c"),
                    {"c": conversation_id},
                ).scalars()
            ]
    finally:
        engine.dispose()
    return found


def referrals(stack: Stack, http: httpx.Client, conversation_id: str) -> list[dict[str, Any]]:
    response = http.get(
        f"{stack.url('handoff')}/api/referrals",
        params={"conversation_id": conversation_id},
        headers={"Authorization": f"Bearer {stack.env['YOUTHLINK_SERVICE_TOKEN']}"},
    )
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()
    return found


def assert_erased(stack: Stack, conversation_id: str) -> None:
    events = tracker_events(stack, conversation_id)
    assert not [e for e in events if e["event"] == "user"], "no message of theirs may be kept"
    everything = json.dumps(events) + json.dumps(stored_messages(stack, conversation_id))
    for sentinel in (NAME, "quokka", "xylophone"):
        assert sentinel not in everything, sentinel


def assert_logs_clean(stack: Stack) -> None:
    """The summary shows their name to them: it must not reach any log."""
    time.sleep(1.0)  # let the processes flush their logs
    for path in Path(stack.workdir).glob("*.log"):
        text = path.read_text(encoding="utf-8", errors="replace")
        for sentinel in (NAME, "quokka", "xylophone"):
            assert sentinel not in text, f"{sentinel!r} leaked into {path.name}"


def start(chat: Chat) -> None:
    """Greeting, consent, age 15, name: the bot is asking what is going on."""
    assert chat.say("hi")[1] == "consent"
    assert chat.say("yes")[1] == "age"
    assert chat.say("15")[1] == "preferred_name"
    assert chat.say(NAME)[1] == "concerns"


def test_rights_mid_form_then_delete_erases_everything(stack: Stack, http: httpx.Client) -> None:
    chat = Chat(stack, http)
    start(chat)

    said, asking = chat.say("wat do u know about me")
    assert f"the name you gave ({NAME})" in said and "your age (15)" in said
    assert "Nothing has gone to a link worker yet." in said
    assert asking == "concerns"  # then the pending question again

    said, asking = chat.say("PRIVACY")
    assert "Privacy (v1.0)" in said  # the 13-15 text, with its version
    assert asking == "concerns"

    assert chat.say(OWN_WORDS)[1] == "interests"
    said, _ = chat.say("what have u saved about me")
    assert "what you said is going on" in said and "quokka" not in said

    said, asking = chat.say("DELETE")
    assert asking == "delete_confirm"
    assert "safeguarding team keeps a record" in said
    said, asking = chat.say("yes")
    assert "I've deleted" in said and asking is None
    assert_erased(stack, chat.conversation_id)

    said, asking = chat.say("hi")
    assert "I'm the YouthLink assistant" in said and asking == "consent"
    assert_logs_clean(stack)


def test_delete_after_sending_withdraws_the_referral_and_erases_the_chat(
    stack: Stack, http: httpx.Client
) -> None:
    chat = Chat(stack, http)
    start(chat)
    answers = {
        "concerns": OWN_WORDS,
        "interests": INTERESTS,
        "what_matters": "skip",
        "area": "LS7",
        "contact_ok": "yes",
        "best_times": "after 4",
        "confirm": "yes",
    }
    asking: str | None = "concerns"
    while asking is not None:
        said, asking = chat.say(answers[asking])
    assert "I've sent it" in said
    (sent,) = referrals(stack, http, chat.conversation_id)
    assert sent["young_person"]["preferred_name"] == NAME

    said, _ = chat.say("what info do u have on me")
    assert "You've sent your referral, so a link worker can see it." in said
    assert "your area (LS7)" in said and "xylophone" not in said

    said, asking = chat.say("delete")
    assert asking == "delete_confirm" and "takes back your referral" in said
    said, _ = chat.say("yes")
    assert "I've deleted" in said

    (withdrawn,) = referrals(stack, http, chat.conversation_id)
    assert withdrawn["status"] == "withdrawn"
    assert withdrawn["young_person"].get("preferred_name") is None
    assert_erased(stack, chat.conversation_id)

    said, asking = chat.say("hi")
    assert "I'm the YouthLink assistant" in said and asking == "consent"
    assert_logs_clean(stack)
