"""STOP in the outbox: what may still be sent to a conversation that opted out, and to whom."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from channels import conversations, inbox, outbox
from channels.conversations import Conversation, get_conversation, is_opted_out
from channels.database import utcnow
from channels.messages import InboundMessage, Outbound
from channels.outbox import OutboxItem, refusal
from channels.tables import CRISIS, HOLDING, NOTICE_HELP, OPTED_OUT, PAGE, REPLY, OutboxRow
from youthlink.crypto import Cipher


def item(
    kind: str, channel: str = "sms", in_reply_to: int | None = 5, notice: str | None = None
) -> OutboxItem:
    return OutboxItem(1, "c_x", channel, kind, "pending", 0, {"text": "x"}, in_reply_to, notice)


def conversation(opted_out: bool = True, stop_id: int | None = 3) -> Conversation:
    return Conversation("c_x", "sms", opted_out, False, None, (), None, stop_id)


@pytest.mark.unit
def test_nothing_is_refused_before_stop() -> None:
    for kind in (REPLY, CRISIS, HOLDING, PAGE):
        assert refusal(item(kind), conversation(opted_out=False, stop_id=None)) is None
    assert refusal(item(REPLY), None) is None


@pytest.mark.unit
def test_after_stop_only_the_exceptions_go() -> None:
    stopped = conversation()
    # Replies, holding replies, link workers' messages, pages: refused.
    assert refusal(item(REPLY), stopped) == OPTED_OUT
    assert refusal(item(REPLY, in_reply_to=None), stopped) == OPTED_OUT
    assert refusal(item(HOLDING, in_reply_to=3), stopped) == OPTED_OUT
    assert refusal(item(PAGE), stopped) == OPTED_OUT
    # The confirmation of STOP itself, and HELP, go.
    assert refusal(item(REPLY, in_reply_to=3), stopped) is None
    assert refusal(item(REPLY, notice=NOTICE_HELP), stopped) is None
    # Crisis replies: never by SMS; on WhatsApp and Telegram they go.
    assert refusal(item(CRISIS, "sms"), stopped) == OPTED_OUT
    assert refusal(item(CRISIS, "whatsapp"), stopped) is None
    assert refusal(item(CRISIS, "telegram"), stopped) is None
    # Telegram's /stop (a stop asked for, the conversation still relayed) counts too.
    asked = conversation(opted_out=False, stop_id=3)
    assert asked.stopped
    assert refusal(item(REPLY, "telegram"), asked) == OPTED_OUT
    assert refusal(item(REPLY, "telegram", in_reply_to=3), asked) is None


def test_opt_out_state_and_lookup_for_other_senders(
    sessions: sessionmaker[Session], cipher: Cipher
) -> None:
    now = utcnow()
    with sessions.begin() as session:
        stored = inbox.store_inbound(
            session, cipher, InboundMessage("sms", "+447700900150", "SM1", "STOP"), now
        )
        assert not is_opted_out(session, cipher, "sms", "+447700900150")
        conversations.opt_out(session, stored.conversation_id, stored.inbox_id, now)
    with sessions.begin() as session:
        found = get_conversation(session, stored.conversation_id)
        assert found is not None and found.opted_out and found.opt_out_inbox_id == stored.inbox_id
        assert found.opted_out_at is not None
        assert is_opted_out(session, cipher, "sms", "+447700900150")
        assert not is_opted_out(session, cipher, "whatsapp", "+447700900150")
        assert not is_opted_out(session, cipher, "sms", "+447700900151")
        assert conversations.opt_in(session, stored.conversation_id) is True
        assert conversations.opt_in(session, stored.conversation_id) is False
    with sessions.begin() as session:
        assert not is_opted_out(session, cipher, "sms", "+447700900150")


def test_delivery_status_never_moves_back(sessions: sessionmaker[Session], cipher: Cipher) -> None:
    now = utcnow()
    with sessions.begin() as session:
        stored = inbox.store_inbound(
            session, cipher, InboundMessage("sms", "+447700900152", "SM2", "hi"), now
        )
        outbox_id = outbox.enqueue(
            session,
            cipher,
            conversation_id=stored.conversation_id,
            channel="sms",
            outbound=Outbound({"text": "hello"}),
            kind=REPLY,
            in_reply_to=stored.inbox_id,
            now=now,
        )
        outbox.mark_sent(session, outbox_id, "SMabc", now)
    channels = ("sms", "whatsapp")
    with sessions.begin() as session:
        for status in ("delivered", "sent", "queued"):  # callbacks out of order
            found = outbox.record_delivery_status(session, channels, "SMabc", status, None, now)
            assert found == stored.conversation_id
        assert (
            outbox.record_delivery_status(session, channels, "SMunknown", "delivered", None, now)
            is None
        )
        assert (
            outbox.record_delivery_status(session, ("telegram",), "SMabc", "failed", None, now)
            is None
        )
    with sessions.begin() as session:
        row = session.get(OutboxRow, outbox_id)
        assert row is not None and row.delivery_status == "delivered"
        outbox.record_delivery_status(session, channels, "SMabc", "read", None, now + timedelta(1))
    with sessions.begin() as session:
        row = session.get(OutboxRow, outbox_id)
        assert row is not None and row.delivery_status == "read"
