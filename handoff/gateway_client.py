"""The handoff app's calls to the gateway's internal API (a link worker's conversation).

`POST {gateway_url}/internal/conversations/{id}/takeover | messages | handback` with the
service token; see `channels/takeover.py` for the other side. Errors come back as
`HandoffError`s whose messages are fit to show the worker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from handoff.errors import HandoffError
from youthlink.config import Settings

log = logging.getLogger(__name__)

# The gateway answers takeover and hand-back after one try at Rasa (a few seconds at most).
TIMEOUT = httpx.Timeout(15.0, connect=3.0)


class GatewayError(HandoffError):
    """The gateway could not do that. Please try again in a moment."""


class GatewayUnavailable(GatewayError):
    """The gateway cannot be reached right now: nothing was changed or sent. Try again soon."""


class GatewayUnsure(GatewayError):
    """The gateway did not answer in time: check the messages below before sending again."""


class GatewayRefused(GatewayError):
    """The gateway refused this."""

    def __init__(self, message: str | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class ConversationGone(GatewayError):
    """The gateway no longer holds this conversation (the young person may have deleted it)."""


@dataclass(frozen=True)
class Standing:
    """Where a conversation stands, as the gateway reports it."""

    paused: bool
    opted_out: bool
    rasa: str
    pending_event: str | None = None
    last_error: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> Standing:
        """From the gateway's answer."""
        if not isinstance(data, dict):
            raise GatewayError()
        return cls(
            paused=bool(data.get("paused")),
            opted_out=bool(data.get("opted_out")),
            rasa=str(data.get("rasa") or ""),
            pending_event=data.get("pending_event"),
            last_error=data.get("last_error"),
        )

    @property
    def rasa_pending(self) -> bool:
        """Rasa has not yet taken the pause or resume (the gateway keeps trying)."""
        return self.rasa == "pending"


REFUSALS = {
    "opted_out": "They have opted out (they sent STOP), so nothing can be sent to them.",
    "not_taken_over": "Take the conversation over before replying.",
    "no_channel": "Their channel is not set up on this gateway, so nothing can be sent.",
}


class GatewayClient:
    """Talks to the gateway with the service token; one short-lived connection per call."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._transport = transport

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayClient:
        """`YOUTHLINK_GATEWAY_URL` and `YOUTHLINK_SERVICE_TOKEN`."""
        return cls(settings.gateway_url, settings.service_token)

    def take_over(self, conversation_id: str) -> Standing:
        """Pause the bot for this conversation."""
        return Standing.from_json(self._call("POST", conversation_id, "/takeover"))

    def hand_back(self, conversation_id: str) -> Standing:
        """Give the conversation back to the bot (complete once Rasa has resumed it)."""
        return Standing.from_json(self._call("POST", conversation_id, "/handback"))

    def standing(self, conversation_id: str) -> Standing:
        """Where the conversation stands now."""
        return Standing.from_json(self._call("GET", conversation_id, ""))

    def send(self, conversation_id: str, text: str, worker_ref: str) -> list[int]:
        """Queue a worker's message; the gateway's outbox ids."""
        data = self._call(
            "POST",
            conversation_id,
            "/messages",
            json={"text": text, "worker_ref": worker_ref},
            sends=True,
        )
        ids = data.get("outbox_ids") if isinstance(data, dict) else None
        return [int(i) for i in ids] if isinstance(ids, list) else []

    def _call(
        self,
        method: str,
        conversation_id: str,
        suffix: str,
        *,
        json: Any = None,
        sends: bool = False,
    ) -> Any:
        url = f"{self._base}/internal/conversations/{quote(conversation_id, safe='')}{suffix}"
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            with httpx.Client(timeout=TIMEOUT, transport=self._transport) as client:
                response = client.request(method, url, json=json, headers=headers)
        except httpx.TimeoutException as exc:
            log.warning("gateway timed out on %s%s", method, suffix or " standing")
            # A message may have been queued before the answer was lost.
            raise (GatewayUnsure() if sends else GatewayUnavailable()) from exc
        except httpx.HTTPError as exc:
            log.warning("gateway unreachable on %s%s: %s", method, suffix, type(exc).__name__)
            raise GatewayUnavailable() from exc
        return self._answer(response, suffix)

    def _answer(self, response: httpx.Response, suffix: str) -> Any:
        try:
            data = response.json()
        except ValueError:
            data = {}
        status = response.status_code
        if status in (200, 201, 202):
            return data
        log.warning("gateway answered %s on %s", status, suffix or "standing")
        if status == 404:
            raise ConversationGone()
        if status == 409:
            reason = str(data.get("reason", "")) if isinstance(data, dict) else ""
            raise GatewayRefused(REFUSALS.get(reason, "The gateway refused this."), reason)
        if status in (401, 403):
            raise GatewayRefused(
                "The gateway did not accept this service's credentials "
                "(YOUTHLINK_SERVICE_TOKEN must match on both).",
                "unauthorised",
            )
        if status in (400, 413):
            raise GatewayRefused("The gateway could not accept that message (is it too long?).")
        raise GatewayError()
