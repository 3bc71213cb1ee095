"""Gateway fixtures: a fake Rasa, a migrated database and a gateway served on a free port."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import Engine

from channels.gateway import create_app
from channels.pipeline import RetryPolicy
from channels.safeguarding import Safeguarding, default_safeguarding
from tests.support.db import (  # noqa: F401  (fixtures)
    cipher,
    database_url,
    engine,
    fresh_settings,
    pg_database,
    pg_url,
    sessions,
    settings,
    sqlite_url,
)
from tests.support.fake_rasa import FakeRasa
from tests.support.ports import free_port
from youthlink.config import Settings

FAST_RETRY = RetryPolicy(base_seconds=0.1, cap_seconds=0.3)


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa().start()
    yield fake
    fake.gate.set()
    fake.stop()


@pytest.fixture
def safeguarding() -> Safeguarding:
    """The real rules engine and escalation log."""
    return default_safeguarding()


@dataclasses.dataclass
class RunningGateway:
    """A gateway app served by uvicorn inside the test's event loop; can be restarted."""

    settings: Settings
    safeguarding: Safeguarding
    port: int = dataclasses.field(default_factory=free_port)
    reply_wait: float = 10.0
    poll_interval: float = 0.05
    engine: Engine | None = None
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.local_token}"}

    async def start(self) -> None:
        app = create_app(
            self.settings,
            safeguarding=self.safeguarding,
            engine=self.engine,
            retry=FAST_RETRY,
            poll_interval=self.poll_interval,
            reply_wait=self.reply_wait,
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning",
            timeout_graceful_shutdown=1, lifespan="on",
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(200):
            if self._server.started:
                return
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)
        raise TimeoutError("gateway did not start")

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, 10)
        self._server = None
        self._task = None

    async def post(
        self, address: str, text: str, message_id: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        body = {"address": address, "text": text, "message_id": message_id or uuid.uuid4().hex}
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.post(
                f"{self.url}/local/messages", json=body, headers=self.headers, **kwargs
            )

    async def fetch(self, address: str, after: int = 0) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.get(
                f"{self.url}/local/messages",
                params={"address": address, "after": after},
                headers=self.headers,
            )
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    async def wait_for(
        self, address: str, predicate: Any, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Poll the conversation's messages until `predicate(messages)` holds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            messages = (await self.fetch(address))["messages"]
            if predicate(messages):
                return list(messages)
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition not met; messages: {messages}")
            await asyncio.sleep(0.05)


@pytest.fixture
def gateway_settings(sqlite_url: str, fake_rasa: FakeRasa) -> Settings:  # noqa: F811
    return fresh_settings(sqlite_url, rasa_url=fake_rasa.url)


@pytest.fixture
async def gateway(
    gateway_settings: Settings, safeguarding: Safeguarding
) -> AsyncIterator[RunningGateway]:
    running = RunningGateway(gateway_settings, safeguarding)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
def running_for_fuzz(
    gateway_settings: Settings, safeguarding: Safeguarding
) -> Iterator[RunningGateway]:
    """A gateway served from its own thread, for synchronous (hypothesis) tests."""
    import threading

    running = RunningGateway(gateway_settings, safeguarding, reply_wait=5.0)
    app = create_app(
        gateway_settings, safeguarding=safeguarding, retry=FAST_RETRY, poll_interval=0.05,
        reply_wait=running.reply_wait,
    )  # fmt: skip
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=running.port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(300):
        if server.started:
            break
        threading.Event().wait(0.02)
    yield running
    server.should_exit = True
    thread.join(timeout=10)
