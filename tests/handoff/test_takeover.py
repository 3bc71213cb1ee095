"""A link worker talks with the young person from the dashboard: take over, reply, hand back.

The dashboard calls a real gateway (uvicorn on a free port, the same SQLite database), which
relays to a fake Rasa; the young person writes through the gateway's local channel.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from channels import conversations
from channels.database import utcnow
from handoff import audit, queue
from handoff.conversation import read_gateway_conversation
from handoff.models import AuditRow, ReferralRow
from handoff.queue import QueuePolicy
from tests.handoff.dashboard_support import (
    CSRF,
    Clock,
    DashboardEnv,
    add_referral,
    make_app,
    make_crew,
)
from tests.handoff.takeover_support import CRISIS_TEXT, Gateway, settings_for, wait_until
from tests.support.db import sqlite_url_in
from tests.support.fake_rasa import FakeRasa
from youthlink.crypto import Cipher
from youthlink.db import make_engine, make_sessionmaker
from youthlink.migrations import upgrade

WORKER_TEXT = "Hi Jay, it's Wren from YouthLink. I'm a real person - how are you doing?"
ASKED = "can i talk to an actual person"


@dataclasses.dataclass
class World:
    env: DashboardEnv
    gateway: Gateway
    fake_rasa: FakeRasa
    address: str
    conversation_id: str
    referral_id: str

    def page_path(self, suffix: str = "") -> str:
        return f"/referrals/{self.referral_id}/conversation{suffix}"

    def actions(self) -> list[str]:
        with self.env.sessions.begin() as session:
            return [e.action for e in audit.events_for(session, "referral", self.referral_id)]


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa().start()
    yield fake
    fake.stop()


@pytest.fixture
def world(tmp_path: Path, fake_rasa: FakeRasa) -> Iterator[World]:
    url = sqlite_url_in(tmp_path)
    upgrade(url)
    settings = settings_for(url, fake_rasa)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
    clock = Clock(datetime.now(UTC))
    app = make_app(settings, engine, clock, reader=read_gateway_conversation)
    env = DashboardEnv(settings, engine, sessions, cipher, make_crew(sessions), clock, app)
    gateway = Gateway(settings).start()
    try:
        address = f"yp-{uuid.uuid4().hex[:8]}"
        opened = gateway.say(address, "hi")
        assert [m["text"] for m in opened["messages"]] == ["echo: hi"]
        conversation_id = opened["conversation_id"]
        referral_id = add_referral(
            sessions,
            cipher,
            conversation_id=conversation_id,
            source={"channel": "local", "conversation_id": conversation_id, "completed": True},
        )
        with sessions.begin() as session:
            queue.claim(
                session, cipher, env.crew.staff("worker"), referral_id, QueuePolicy(), now=clock.now
            )
        yield World(env, gateway, fake_rasa, address, conversation_id, referral_id)
    finally:
        gateway.stop()
        engine.dispose()


def csrf(client: object, world: World) -> str:
    page = client.get(world.page_path())  # type: ignore[attr-defined]
    assert page.status_code == 200, page.status_code
    found = CSRF.search(page.text)
    assert found
    return found.group(1)


def test_a_worker_takes_over_replies_and_hands_back(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="channels")
    caplog.set_level("DEBUG", logger="handoff")
    worker = world.env.client("worker")
    page = worker.get(world.page_path())
    assert page.status_code == 200
    assert "echo: hi" in page.text and "With the bot" in page.text
    assert "Take over the conversation" in page.text

    taken = worker.post(world.page_path("/takeover"), data={"csrf": csrf(worker, world)})
    assert taken.status_code == 303
    assert taken.headers["location"] == world.page_path("#reply")
    assert world.fake_rasa.events_for(world.conversation_id) == ["pause"]

    assert world.gateway.say(world.address, ASKED)["messages"] == []
    crisis = world.gateway.say(world.address, CRISIS_TEXT)
    assert [m["kind"] for m in crisis["messages"]] == ["crisis"]
    assert crisis["escalation_id"]
    assert world.fake_rasa.messages() == ["hi"]
    with world.env.sessions.begin() as session:
        escalations = session.execute(
            text("SELECT count(*) FROM escalations WHERE conversation_id = :c"),
            {"c": world.conversation_id},
        ).scalar()
    assert escalations == 1

    page = worker.get(world.page_path())
    assert ASKED in page.text
    assert CRISIS_TEXT.replace("'", "&#39;") in page.text
    assert "Flagged by the safeguarding rules" in page.text
    assert "YouthLink crisis reply" in page.text
    assert "With a link worker: bot paused" in page.text
    assert 'id="reply-text"' in page.text and "Hand back to the bot" in page.text

    sent = worker.post(
        world.page_path("/messages"), data={"text": WORKER_TEXT, "csrf": csrf(worker, world)}
    )
    assert sent.status_code == 303
    received = wait_until(
        lambda: [m for m in world.gateway.received(world.address) if m["kind"] == "worker"]
    )
    assert [m["text"] for m in received] == [WORKER_TEXT]
    page = worker.get(world.page_path())
    assert "You (staff)" in page.text
    assert WORKER_TEXT.replace("'", "&#39;") in page.text

    back = worker.post(world.page_path("/handback"), data={"csrf": csrf(worker, world)})
    assert back.status_code == 303
    assert world.fake_rasa.events_for(world.conversation_id) == ["pause", "resume"]
    assert world.gateway.standing(world.conversation_id)["paused"] is False
    answered = world.gateway.say(world.address, "ok cool")
    assert [m["text"] for m in answered["messages"]] == ["echo: ok cool"]
    assert "With the bot" in worker.get(world.page_path()).text

    actions = world.actions()
    for action in (
        "conversation.viewed",
        "conversation.taken_over",
        "conversation.message_sent",
        "conversation.handed_back",
    ):
        assert action in actions
    with world.env.sessions.begin() as session:
        rows = session.scalars(select(AuditRow)).all()
        trail = json.dumps([[r.action, r.record_id, r.detail, r.source] for r in rows])
        row = session.get(ReferralRow, world.referral_id)
        assert row is not None and row.touched_at is not None
    logged = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("channels", "handoff"))
    )
    assert "conversation_id=" + world.conversation_id in logged
    for private in (WORKER_TEXT, ASKED, CRISIS_TEXT, world.address):
        assert private not in trail
        assert private not in logged


def test_a_worker_who_has_not_claimed_it_is_refused(world: World) -> None:
    other = world.env.client("other_worker")
    token = csrf(world.env.client("worker"), world)
    assert other.get(world.page_path()).status_code == 403
    for suffix, form in (
        ("/takeover", {}),
        ("/messages", {"text": "hello from someone else"}),
        ("/handback", {}),
    ):
        other_token = CSRF.search(other.get("/account/password").text)
        assert other_token
        response = other.post(world.page_path(suffix), data={**form, "csrf": other_token.group(1)})
        assert response.status_code == 403, suffix
    admin = world.env.client("admin")
    assert admin.get(world.page_path()).status_code == 403
    assert world.fake_rasa.events_for(world.conversation_id) == []
    assert world.gateway.standing(world.conversation_id)["paused"] is False
    assert not any(m["kind"] == "worker" for m in world.gateway.received(world.address))
    assert token  # the holder's own page still works

    lead = world.env.client("lead")
    assert lead.get(world.page_path()).status_code == 200


def test_a_referral_nobody_holds_cannot_be_talked_to_by_a_worker(world: World) -> None:
    waiting = add_referral(world.env.sessions, world.env.cipher, conversation_id="c_waiting")
    worker = world.env.client("worker")
    assert worker.get(f"/referrals/{waiting}").status_code == 200  # may read it, to claim
    assert worker.get(f"/referrals/{waiting}/conversation").status_code == 403
    referral_page = worker.get(f"/referrals/{world.referral_id}").text
    assert f"/referrals/{world.referral_id}/conversation" in referral_page
    assert "/conversation" not in worker.get(f"/referrals/{waiting}").text


def test_forms_need_the_csrf_token(world: World) -> None:
    worker = world.env.client("worker")
    assert worker.post(world.page_path("/takeover"), data={}).status_code == 403
    assert worker.post(world.page_path("/takeover"), data={"csrf": "forged"}).status_code == 403
    assert world.fake_rasa.events_for(world.conversation_id) == []


def test_an_opted_out_young_person_gets_no_worker_reply(world: World) -> None:
    worker = world.env.client("worker")
    worker.post(world.page_path("/takeover"), data={"csrf": csrf(worker, world)})
    with world.env.sessions.begin() as session:
        conversations.opt_out(session, world.conversation_id, None, utcnow())
    refused = worker.post(
        world.page_path("/messages"), data={"text": WORKER_TEXT, "csrf": csrf(worker, world)}
    )
    assert refused.status_code == 303
    page = worker.get(world.page_path())
    assert "They have opted out (they sent STOP), so nothing can be sent to them." in page.text
    assert "Opted out" in page.text and 'id="reply-text"' not in page.text
    assert not any(m["kind"] == "worker" for m in world.gateway.received(world.address))
    assert "conversation.message_sent" not in world.actions()


def test_rasa_not_answering_is_reported_and_the_handback_completes_later(world: World) -> None:
    worker = world.env.client("worker")
    world.fake_rasa.api_status_code = 503
    worker.post(world.page_path("/takeover"), data={"csrf": csrf(worker, world)})
    page = worker.get(world.page_path())
    assert "has not confirmed the pause yet (http_503)" in page.text
    assert world.gateway.say(world.address, "hello??")["messages"] == []  # paused regardless

    back = worker.post(world.page_path("/handback"), data={"csrf": csrf(worker, world)})
    assert back.status_code == 303
    page = worker.get(world.page_path())
    assert "Handing back to the bot" in page.text
    assert "their messages still come here until it does" in page.text
    assert world.gateway.say(world.address, "anyone?")["messages"] == []
    assert world.fake_rasa.messages() == ["hi"]

    world.fake_rasa.api_status_code = 200
    wait_until(lambda: not world.gateway.standing(world.conversation_id)["paused"])
    # The pause never got through before it was no longer wanted: Rasa only hears the resume.
    assert world.fake_rasa.events_for(world.conversation_id) == ["resume"]
    assert "With the bot" in worker.get(world.page_path()).text
    with world.env.sessions.begin() as session:
        handed = [
            e.detail
            for e in audit.events_for(session, "referral", world.referral_id)
            if e.action == "conversation.handed_back"
        ]
    assert handed == [{"rasa": "pending", "complete": False}]


def test_the_gateway_being_down_is_said_plainly_and_nothing_is_audited(world: World) -> None:
    worker = world.env.client("worker")
    token = csrf(worker, world)
    world.gateway.stop()
    taken = worker.post(world.page_path("/takeover"), data={"csrf": token})
    assert taken.status_code == 303
    page = worker.get(world.page_path())
    assert "cannot be reached right now: nothing was changed or sent" in page.text
    assert "conversation.taken_over" not in world.actions()
    with world.env.sessions.begin() as session:
        paused = session.execute(
            text("SELECT paused FROM conversations WHERE conversation_id = :c"),
            {"c": world.conversation_id},
        ).scalar()
    assert not paused


def test_the_page_can_keep_itself_refreshing_without_scripts(world: World) -> None:
    worker = world.env.client("worker")
    plain = worker.get(world.page_path("?auto=1"))
    assert "refresh" not in {k.lower() for k in plain.headers}  # nothing to wait for yet
    worker.post(world.page_path("/takeover"), data={"csrf": csrf(worker, world)})
    watching = worker.get(world.page_path("?auto=1"))
    assert watching.headers["refresh"] == "10; url=" + world.page_path("?auto=1&latest=1")
    again = worker.get(world.page_path("?auto=1&latest=1"))
    assert again.status_code == 303
    assert again.headers["location"] == world.page_path("?auto=1#latest")
    assert 'id="reply-text"' not in watching.text  # a reload would lose what was typed
    assert "Stop refreshing to reply" in watching.text
    assert "script" not in watching.text.lower()
    assert "refresh" not in {k.lower() for k in worker.get(world.page_path()).headers}


def test_a_lead_may_take_over_a_case_someone_else_holds(world: World) -> None:
    with world.env.sessions.begin() as session:
        before = session.get(ReferralRow, world.referral_id).touched_at  # type: ignore[union-attr]
    lead = world.env.client("lead")
    taken = lead.post(world.page_path("/takeover"), data={"csrf": csrf(lead, world)})
    assert taken.status_code == 303
    lead.post(world.page_path("/messages"), data={"text": "Hello", "csrf": csrf(lead, world)})
    page = world.env.client("worker").get(world.page_path())
    assert "lena.lead (staff)" in page.text
    with world.env.sessions.begin() as session:
        row = session.get(ReferralRow, world.referral_id)
        assert row is not None and row.touched_at == before  # the holder did nothing


def test_a_worker_whose_case_closed_can_still_hand_back_but_not_reply(world: World) -> None:
    worker = world.env.client("worker")
    worker.post(world.page_path("/takeover"), data={"csrf": csrf(worker, world)})
    with world.env.sessions.begin() as session:
        queue.close(
            session,
            world.env.cipher,
            world.env.crew.staff("worker"),
            world.referral_id,
            "declined",
            now=world.env.clock.now,
        )
    page = worker.get(world.page_path())
    assert page.status_code == 200
    assert "so you cannot reply any more" in page.text and 'id="reply-text"' not in page.text
    token = csrf(worker, world)
    refused = worker.post(world.page_path("/messages"), data={"text": "hi", "csrf": token})
    assert refused.status_code == 403
    assert worker.post(world.page_path("/takeover"), data={"csrf": token}).status_code == 403
    back = worker.post(world.page_path("/handback"), data={"csrf": token})
    assert back.status_code == 303
    assert world.gateway.standing(world.conversation_id)["paused"] is False
    page = worker.get(world.page_path())
    assert "the conversation is with the bot" in page.text
    assert "Take over the conversation" not in page.text
    assert world.env.client("other_worker").get(world.page_path()).status_code == 403
