"""Browser tests: the handoff app served by uvicorn in a thread on a free port (a migrated
SQLite database of its own), driven by Playwright with Debian's chromium."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from handoff.api import create_app
from handoff.conversation import read_gateway_conversation
from handoff.dashboard import DashboardConfig
from tests.handoff.dashboard_support import Crew, fake_rule_check, make_crew
from tests.support.db import fresh_settings, skip_or_fail, sqlite_url_in
from tests.support.ports import free_port
from youthlink.config import Settings
from youthlink.crypto import Cipher
from youthlink.db import make_engine, make_sessionmaker
from youthlink.migrations import upgrade

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@dataclass
class Served:
    """A running handoff app and what the tests need to seed it."""

    url: str
    app: FastAPI
    settings: Settings
    sessions: sessionmaker[Session]
    cipher: Cipher
    crew: Crew


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    url = sqlite_url_in(tmp_path)
    upgrade(url)
    settings = fresh_settings(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    app = create_app(
        settings,
        engine=engine,
        dashboard=DashboardConfig(cookie_secure=False),
        conversation_reader=read_gateway_conversation,
        rule_check=fake_rule_check(),
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the handoff app did not start")
        time.sleep(0.05)
    cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
    try:
        crew = make_crew(sessions)
        yield Served(f"http://127.0.0.1:{port}", app, settings, sessions, cipher, crew)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing (apt-get install chromium, or make browser-deps)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    context = browser.new_context(
        base_url=served.url, viewport={"width": 1280, "height": 800}, locale="en-GB"
    )
    context.set_default_timeout(10_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()
