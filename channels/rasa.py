"""The relay to Rasa's REST channel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from channels.errors import RasaUnavailable

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=3.0)
"""Connecting fails fast (Rasa down); a turn may take a while (custom actions)."""


class RasaClient:
    """Sends one young person's message to Rasa and returns what the bot says."""

    def __init__(self, base_url: str, client: httpx.AsyncClient) -> None:
        self._url = base_url.rstrip("/") + "/webhooks/rest/webhook"
        self._client = client

    async def send(
        self, sender: str, message: str, metadata: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """POST to the REST webhook; raise `RasaUnavailable` on anything but a JSON list."""
        payload = {"sender": sender, "message": message, "metadata": dict(metadata)}
        try:
            response = await self._client.post(self._url, json=payload)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"Rasa not reachable ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"Rasa answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise RasaUnavailable("Rasa answered with something that is not JSON") from exc
        if not isinstance(data, list):
            raise RasaUnavailable("Rasa answered with JSON that is not a list of messages")
        return [item for item in data if isinstance(item, dict)]
