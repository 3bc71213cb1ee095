"""The short path's one-statement reads agree with the lookups they replace (SQLite, PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from channels import inbox, outbox
from channels.conversations import conversation_id_for, read_conversation, set_offered
from channels.database import utcnow
from channels.messages import Button, InboundMessage, Outbound
from channels.tables import REPLY, ConversationRow
from channels.turn_state import read_answer_state, read_arrival
from youthlink.crypto import Cipher


def message(mid: str, address: str = "+447700900123") -> InboundMessage:
    return InboundMessage("local", address, mid, f"text of {mid}")


def store(sessions: sessionmaker[Session], cipher: Cipher, mid: str) -> int:
    with sessions.begin() as session:
        return inbox.store_inbound(session, cipher, message(mid), utcnow()).inbox_id


def test_a_first_message_finds_nothing(engine: Engine, cipher: Cipher) -> None:
    first = message("m1")
    conversation_id = conversation_id_for(cipher, "local", first.address)
    with engine.begin() as connection:
        arrival = read_arrival(connection, first, conversation_id)
        answer = read_answer_state(connection, conversation_id, 1)
    assert (arrival.stored, arrival.conversation, arrival.waiting) == (None, None, False)
    assert (answer.answered, answer.later_waiting, answer.conversation) == (False, False, None)


def test_arrival_finds_a_repeat_the_conversation_and_what_is_waiting(
    engine: Engine, sessions: sessionmaker[Session], cipher: Cipher
) -> None:
    first_id = store(sessions, cipher, "m1")
    conversation_id = conversation_id_for(cipher, "local", message("m1").address)
    with sessions.begin() as session:
        set_offered(session, conversation_id, (Button("Yes", "/affirm"), Button("No", "/deny")))
        session.execute(
            update(ConversationRow)
            .where(ConversationRow.conversation_id == conversation_id)
            .values(age_band="13-15", paused=True)
        )

    with engine.begin() as connection:
        repeat = read_arrival(connection, message("m1"), conversation_id)
        new = read_arrival(connection, message("m2"), conversation_id)
        expected = read_conversation(connection, conversation_id)
    assert repeat.stored is not None
    assert (repeat.stored.inbox_id, repeat.stored.created) == (first_id, False)
    assert repeat.stored.conversation_id == conversation_id
    assert new.stored is None
    assert expected is not None and expected.paused and expected.age_band == "13-15"
    assert new.conversation == expected
    assert new.conversation.offered == (Button("Yes", "/affirm"), Button("No", "/deny"))
    assert new.waiting, "the first message is still pending"

    with sessions.begin() as session:
        inbox.mark_done(session, first_id, utcnow())
    with engine.begin() as connection:
        assert not read_arrival(connection, message("m2"), conversation_id).waiting
        other = conversation_id_for(cipher, "local", "+447700900999")
        stranger = read_arrival(connection, message("m1", "+447700900999"), other)
    # The same provider id from another address of the channel is still a repeat.
    assert stranger.stored is not None and stranger.stored.inbox_id == first_id
    assert stranger.conversation is None


def test_answer_state_sees_a_queued_answer_and_only_later_messages(
    engine: Engine, sessions: sessionmaker[Session], cipher: Cipher
) -> None:
    earlier = store(sessions, cipher, "m1")
    current = store(sessions, cipher, "m2")
    conversation_id = conversation_id_for(cipher, "local", message("m1").address)
    with engine.begin() as connection:
        state = read_answer_state(connection, conversation_id, current)
        assert state.conversation == read_conversation(connection, conversation_id)
    assert not state.answered
    assert not state.later_waiting, "an earlier pending message is not a later one"

    later = store(sessions, cipher, "m3")
    with engine.begin() as connection:
        assert read_answer_state(connection, conversation_id, current).later_waiting
    with sessions.begin() as session:
        inbox.mark_done(session, later, utcnow())
        outbox.enqueue(
            session,
            cipher,
            conversation_id=conversation_id,
            channel="local",
            outbound=Outbound({"text": "hello"}),
            kind=REPLY,
            in_reply_to=current,
            now=utcnow(),
        )
    with engine.begin() as connection:
        state = read_answer_state(connection, conversation_id, current)
        assert not read_answer_state(connection, conversation_id, earlier).answered
    assert state.answered
    assert not state.later_waiting
