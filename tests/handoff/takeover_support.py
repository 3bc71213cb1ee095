"""A real gateway beside the handoff app, for the tests of a link worker's conversation.

The gateway is served by uvicorn in a thread on a free port, over the same SQLite database
and keys as the handoff app, relaying to a fake Rasa; a young person writes to it through
the local channel.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from channels.gateway import create_app as create_gateway
from channels.pipeline import RetryPolicy
from channels.safeguarding import default_safeguarding
from tests.support.db import fresh_settings
from tests.support.fake_rasa import FakeRasa
from tests.support.ports import free_port
from youthlink.config import Settings

FAST_RETRY = RetryPolicy(base_seconds=0.1, cap_seconds=0.3)
CRISIS_TEXT = "i'm going to take all my pills tonight"


def settings_for(database_url: str, fake_rasa: FakeRasa) -> Settings:
    """Fresh keys and tokens, shared by both apps; Rasa's API wants its token."""
    settings = fresh_settings(
        database_url,
        rasa_url=fake_rasa.url,
        gateway_url=f"http://127.0.0.1:{free_port()}",
    )
    fake_rasa.api_token = settings.rasa_token
    return settings


def serve(app: FastAPI, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    """Run `app` with uvicorn in a daemon thread until `server.should_exit`."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    return server, thread


@dataclasses.dataclass
class Gateway:
    """The gateway app, running; a young person writes to it on the local channel."""

    settings: Settings
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.settings.gateway_url

    def start(self) -> Gateway:
        app = create_gateway(
            self.settings,
            safeguarding=default_safeguarding(),
            retry=FAST_RETRY,
            poll_interval=0.05,
            reply_wait=10.0,
        )
        self._server, self._thread = serve(app, int(self.url.rsplit(":", 1)[1]))
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def say(self, address: str, text: str) -> dict[str, Any]:
        """The young person sends a message; the gateway's answer (as the local API gives it)."""
        response = httpx.post(
            f"{self.url}/local/messages",
            json={"address": address, "text": text, "message_id": uuid.uuid4().hex},
            headers={"Authorization": f"Bearer {self.settings.local_token}"},
            timeout=30,
        )
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def received(self, address: str) -> list[dict[str, Any]]:
        """Everything the young person has been sent so far."""
        response = httpx.get(
            f"{self.url}/local/messages",
            params={"address": address, "after": 0},
            headers={"Authorization": f"Bearer {self.settings.local_token}"},
            timeout=30,
        )
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    def standing(self, conversation_id: str) -> dict[str, Any]:
        """The internal API's view of the conversation."""
        response = httpx.get(
            f"{self.url}/internal/conversations/{conversation_id}",
            headers={"Authorization": f"Bearer {self.settings.service_token}"},
            timeout=30,
        )
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


def wait_until(check: Any, timeout: float = 10.0) -> Any:
    """Poll `check()` until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
