"""The handoff API as the actions use it: submit a referral, delete a conversation's draft."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from actions.settings import ActionSettings

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class HandoffError(Exception):
    """The handoff API did not take the request."""


class HandoffUnavailable(HandoffError):
    """The handoff API could not be reached, even after retrying."""


class HandoffRejected(HandoffError):
    """The handoff API refused the request (retrying would not help)."""


@dataclass(frozen=True)
class HandoffClient:
    """Calls the handoff API with the service token, retrying while it is down or busy."""

    base_url: str
    token: str
    retry_delays: Sequence[float] = ()
    timeout: float = 5.0

    @classmethod
    def from_settings(cls, settings: ActionSettings) -> HandoffClient:
        return cls(settings.handoff_url.rstrip("/"), settings.service_token, settings.retry_delays)

    async def submit(self, referral: Mapping[str, Any], flags: Sequence[str] = ()) -> str:
        """POST a referral; return the referral id the handoff API answers with."""
        body = {"referral": dict(referral), "flags": list(flags)}
        status, data = await self._request("POST", "/api/referrals", body)
        if status not in (200, 201) or not isinstance(data, dict) or not data.get("referral_id"):
            raise HandoffRejected(f"referral not accepted (HTTP {status})")
        logger.info("referral submitted: id=%s flags=%d", data["referral_id"], len(flags))
        return str(data["referral_id"])

    async def delete_draft(self, conversation_id: str) -> None:
        """DELETE what a conversation holds; nothing there counts as done."""
        path = f"/api/conversations/{quote(conversation_id, safe='')}/draft"
        status, _ = await self._request("DELETE", path, None)
        if status not in (200, 202, 204, 404):
            raise HandoffRejected(f"draft not deleted (HTTP {status})")

    async def _request(
        self, method: str, path: str, body: Mapping[str, Any] | None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        attempts = len(self.retry_delays) + 1
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
            for attempt in range(attempts):
                try:
                    async with session.request(method, self.base_url + path, json=body) as response:
                        if response.status not in RETRY_STATUSES:
                            return response.status, await _json_or_none(response)
                        problem = f"HTTP {response.status}"
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    problem = type(exc).__name__
                logger.warning(
                    "handoff %s %s failed (%s), attempt %d of %d",
                    method, path.split("/")[2], problem, attempt + 1, attempts,
                )  # fmt: skip
                if attempt < len(self.retry_delays):
                    await asyncio.sleep(self.retry_delays[attempt])
        raise HandoffUnavailable(f"handoff API unavailable after {attempts} attempts")


async def _json_or_none(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except ValueError:
        return None
