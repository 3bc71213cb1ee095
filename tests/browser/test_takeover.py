"""A link worker talks with a young person in a real browser: take over, reply, see their
answer arrive, hand back. The handoff app and a real gateway run side by side (uvicorn on
free ports, one SQLite database) with a fake Rasa behind the gateway."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from handoff import queue
from handoff.api import create_app
from handoff.conversation import read_gateway_conversation
from handoff.dashboard import DashboardConfig
from handoff.queue import QueuePolicy
from tests.handoff.dashboard_support import PASSWORD, add_referral, fake_rule_check, make_crew
from tests.handoff.takeover_support import Gateway, serve, settings_for, wait_until
from tests.support.db import sqlite_url_in
from tests.support.fake_rasa import FakeRasa
from tests.support.ports import free_port
from youthlink.crypto import Cipher
from youthlink.db import make_engine, make_sessionmaker
from youthlink.migrations import upgrade

pytestmark = pytest.mark.browser

REPLY = "Hi Jay, I'm Wren, a link worker at YouthLink. Is now a good time to chat?"
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
    .filter(el => el.type !== 'hidden')
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
    .map(el => el.name)"""


@dataclass
class Stack:
    gateway: Gateway
    fake_rasa: FakeRasa
    address: str
    conversation_id: str
    referral_id: str
    handoff_url: str


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    url = sqlite_url_in(tmp_path)
    upgrade(url)
    fake_rasa = FakeRasa().start()
    settings = settings_for(url, fake_rasa)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
    gateway = Gateway(settings).start()
    app = create_app(
        settings,
        engine=engine,
        dashboard=DashboardConfig(cookie_secure=False),
        conversation_reader=read_gateway_conversation,
        rule_check=fake_rule_check(),
    )
    port = free_port()
    server, thread = serve(app, port)
    try:
        crew = make_crew(sessions)
        address = f"yp-{uuid.uuid4().hex[:8]}"
        conversation_id = gateway.say(address, "hi")["conversation_id"]
        referral_id = add_referral(
            sessions,
            cipher,
            conversation_id=conversation_id,
            source={"channel": "local", "conversation_id": conversation_id, "completed": True},
        )
        with sessions.begin() as session:
            queue.claim(
                session, cipher, crew.staff("worker"), referral_id, QueuePolicy(),
                now=datetime.now(UTC),
            )  # fmt: skip
        handoff_url = f"http://127.0.0.1:{port}"
        yield Stack(gateway, fake_rasa, address, conversation_id, referral_id, handoff_url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        gateway.stop()
        fake_rasa.stop()
        engine.dispose()


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    context = browser.new_context(
        base_url=stack.handoff_url,
        viewport={"width": 1280, "height": 800},
        locale="en-GB",
    )
    context.set_default_timeout(10_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def test_a_worker_takes_over_replies_sees_the_answer_and_hands_back(
    page: Page, stack: Stack
) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill("wren.worker")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/referrals/{stack.referral_id}")
    page.get_by_role("link", name="Open the conversation").click()
    expect(page).to_have_url(re.compile(f"/referrals/{stack.referral_id}/conversation$"))
    messages = page.get_by_role("list", name="Messages, oldest first")
    expect(messages).to_contain_text("echo: hi")
    expect(page.locator("#standing")).to_have_text("With the bot")

    page.get_by_role("button", name="Take over the conversation").click()
    expect(page.get_by_role("status")).to_have_text("You have the conversation: the bot is paused.")
    expect(page.locator("#standing")).to_have_text("With a link worker: bot paused")
    assert stack.fake_rasa.events_for(stack.conversation_id) == ["pause"]
    assert page.evaluate(UNLABELLED) == []

    page.get_by_label("Your message").fill(REPLY)
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_have_text("Message sent.")
    expect(messages.locator(".turn--worker")).to_contain_text(REPLY)
    wait_until(lambda: any(m["text"] == REPLY for m in stack.gateway.received(stack.address)))

    assert stack.gateway.say(stack.address, "yeah now is good")["messages"] == []
    page.get_by_role("link", name="Check for new messages").click()
    expect(messages.locator(".turn--young_person").last).to_contain_text("yeah now is good")

    # Left open, the page reloads itself (no scripts) and shows what they write next.
    page.get_by_role("link", name="Keep this page refreshing").click()
    expect(page.get_by_text("This page refreshes every 10 seconds.")).to_be_visible()
    assert stack.gateway.say(stack.address, "i get really anxious at school")["messages"] == []
    expect(messages.locator(".turn--young_person").last).to_contain_text(
        "i get really anxious at school", timeout=20_000
    )
    assert stack.fake_rasa.messages() == ["hi"]

    page.get_by_role("link", name="Stop refreshing to reply").first.click()
    page.get_by_role("button", name="Hand back to the bot").click()
    expect(page.get_by_role("status")).to_have_text("Handed back to the bot.")
    expect(page.locator("#standing")).to_have_text("With the bot")
    expect(page.get_by_role("button", name="Take over the conversation")).to_be_visible()
    assert stack.fake_rasa.events_for(stack.conversation_id) == ["pause", "resume"]
    answered = stack.gateway.say(stack.address, "thanks")
    assert [m["text"] for m in answered["messages"]] == ["echo: thanks"]


def test_another_worker_cannot_open_the_conversation(page: Page, stack: Stack) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill("otto.worker")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    response = page.goto(f"/referrals/{stack.referral_id}/conversation")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not available to you")).to_be_visible()
    expect(page.get_by_text("echo: hi")).to_have_count(0)
