"""The relay to Rasa's REST channel.

aiohttp rather than httpx here: this call is made for every message, and httpx's per-request
machinery (anyio cancel scopes, a lock and an event per request) cost the gateway about twice
as much CPU as aiohttp for the same call.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import aiohttp
from yarl import URL

from channels.errors import RasaUnavailable

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=60.0, sock_connect=3.0)
"""Connecting fails fast (Rasa down); a turn may take a while (custom actions)."""


class RasaClient:
    """Sends one young person's message to Rasa and returns what the bot says."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        # Parsed once: aiohttp parses a URL given as text on every request.
        self._url = URL(base_url.rstrip("/") + "/webhooks/rest/webhook")
        self._session = session

    async def send(
        self, sender: str, message: str, metadata: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """POST to the REST webhook; raise `RasaUnavailable` on anything but a JSON list."""
        payload = {"sender": sender, "message": message, "metadata": dict(metadata)}
        try:
            async with self._session.post(self._url, json=payload) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"Rasa answered HTTP {response.status}")
                body = await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise RasaUnavailable(f"Rasa not reachable ({type(exc).__name__})") from exc
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise RasaUnavailable("Rasa answered with something that is not JSON") from exc
        if not isinstance(data, list):
            raise RasaUnavailable("Rasa answered with JSON that is not a list of messages")
        return [item for item in data if isinstance(item, dict)]
