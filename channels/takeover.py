"""A link worker takes a conversation over from the bot, replies, and hands it back.

The staff dashboard (the handoff app) calls this internal API with the service token; it
answers only on the loopback interface:

    POST /internal/conversations/{id}/takeover  paused now; Rasa told to pause (idempotent)
    POST /internal/conversations/{id}/messages  {"text", "worker_ref"}: a worker's message,
                                                rendered for the channel, queued in the outbox
                                                (kind "worker", encrypted)
    POST /internal/conversations/{id}/handback  Rasa told to resume; relayed again once it has
    GET  /internal/conversations/{id}           where the conversation stands

While paused, the young person's messages are still stored and screened (crisis replies and
escalations as ever) but not relayed to Rasa: the worker reads them in the dashboard. The
gateway's `paused` flag decides what is relayed; Rasa is kept in step by
`channels.rasa_control`, retried until it takes each event.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from channels import outbox, rasa_control
from channels.channel import Channel
from channels.conversations import Conversation
from channels.database import Database, utcnow
from channels.errors import BadRequest, GatewayError, TextTooLong, Unauthorized, describe
from channels.messages import BotMessage, Outbound
from channels.rasa_control import (
    CONTROL_TIMEOUT,
    PAUSE,
    RESUME,
    Claimed,
    ControlFailed,
    Pending,
    RasaControl,
)
from channels.tables import ConversationRow
from channels.texts import clean_text
from youthlink.config import Settings
from youthlink.crypto import Cipher

log = logging.getLogger(__name__)

WORKER = "worker"
"""The outbox kind of a link worker's message."""

MAX_WORKER_TEXT = 1600
"""Longest message a worker can send (Twilio's limit for one message body)."""

MAX_BODY_BYTES = 64 * 1024
LEASE = timedelta(seconds=30)
# How long a takeover or hand-back waits for its event when an older one is still in flight.
SETTLE_SECONDS = 8.0
_WORKER_REF = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
ConversationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$")]


class ConversationNotFound(GatewayError):
    """There is no such conversation."""


class Refused(GatewayError):
    """The conversation cannot take this now."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class NotLocal(GatewayError):
    """The internal API answers only on the loopback interface."""


@dataclass(frozen=True)
class ControlRetry:
    """How long to wait before telling Rasa again (it is never given up)."""

    base_seconds: float = 1.0
    cap_seconds: float = 60.0

    def delay(self, attempts: int) -> timedelta:
        """Exponential backoff after `attempts` failures, capped."""
        seconds = self.base_seconds * (2 ** max(0, attempts - 1))
        return timedelta(seconds=min(self.cap_seconds, seconds))


@dataclass(frozen=True)
class Standing:
    """Where a conversation stands: with the bot or a person, and whether Rasa is in step."""

    conversation_id: str
    channel: str
    paused: bool
    stopped: bool
    pending: Pending | None

    @property
    def handing_back(self) -> bool:
        """Handed back, but Rasa has not resumed yet: still paused until it has."""
        return self.pending is not None and self.pending.event == RESUME

    def to_json(self) -> dict[str, Any]:
        """The API's answer."""
        return {
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "paused": self.paused,
            "opted_out": self.stopped,
            "rasa": "pending" if self.pending is not None else "in_step",
            "pending_event": None if self.pending is None else self.pending.event,
            "attempts": 0 if self.pending is None else self.pending.attempts,
            "last_error": None if self.pending is None else self.pending.last_error,
        }


def parse_worker_message(body: bytes) -> tuple[str, str]:
    """`{"text", "worker_ref"}` → (cleaned text, worker ref); BadRequest / TextTooLong."""
    if len(body) > MAX_BODY_BYTES:
        raise TextTooLong(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the body must be a JSON object") from exc
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    text, worker_ref = data.get("text"), data.get("worker_ref")
    if not isinstance(text, str):
        raise BadRequest("'text' must be a string")
    text = clean_text(text)
    if not text:
        raise BadRequest("'text' is empty")
    if len(text) > MAX_WORKER_TEXT:
        raise TextTooLong(f"'text' is longer than {MAX_WORKER_TEXT} characters")
    if not isinstance(worker_ref, str) or not _WORKER_REF.match(worker_ref):
        raise BadRequest("'worker_ref' must be a short id such as user:12")
    return text, worker_ref


class Takeover:
    """Pausing, replying and handing back, each its own transaction; Rasa told as it goes."""

    def __init__(
        self,
        db: Database,
        cipher: Cipher,
        channels: Mapping[str, Channel],
        control: RasaControl,
        *,
        wake: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
        retry: ControlRetry | None = None,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.channels = channels
        self.control = control
        self.wake = wake
        self.clock = clock
        self.retry = retry or ControlRetry()

    async def take_over(self, conversation_id: str) -> Standing:
        """Pause the conversation now; tell Rasa (or keep trying)."""
        log.info("taking over conversation_id=%s", conversation_id)
        return await self._tell_rasa(conversation_id, PAUSE)

    async def hand_back(self, conversation_id: str) -> Standing:
        """Tell Rasa to resume; the pause ends when it has (at once if it answers now)."""
        log.info("handing back conversation_id=%s", conversation_id)
        return await self._tell_rasa(conversation_id, RESUME)

    async def _tell_rasa(self, conversation_id: str, event: str) -> Standing:
        claimed = await self.db.run(lambda session: self._want(session, conversation_id, event))
        if claimed is not None:
            await self._send(claimed)
        else:
            # An older event is on its way to Rasa; the retry loop sends this one right after.
            await self._settle(conversation_id, SETTLE_SECONDS)
        return await self.standing(conversation_id)

    async def _settle(self, conversation_id: str, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            standing = await self.standing(conversation_id)
            if standing.pending is None or standing.pending.attempts > 0:
                return
            await asyncio.sleep(0.05)

    async def send_message(self, conversation_id: str, text: str, worker_ref: str) -> list[int]:
        """Queue a worker's message for the conversation's channel; the outbox ids."""
        ids = await self.db.run(
            lambda session: self._queue_message(session, conversation_id, text, worker_ref)
        )
        self.wake()
        return ids

    async def standing(self, conversation_id: str) -> Standing:
        """Where the conversation stands now."""
        return await self.db.run(lambda session: self._standing(session, conversation_id))

    async def retry_due(self) -> int:
        """Send every event whose retry is due; how many Rasa took."""
        sent = 0
        while True:
            claimed = await self.db.run(
                lambda session: rasa_control.claim_due(session, self.clock(), LEASE)
            )
            if claimed is None:
                return sent
            sent += int(await self._send(claimed))

    async def run(self, poll_interval: float = 1.0) -> None:
        """Retry what Rasa has not taken, until cancelled."""
        if self.db.is_sqlite:
            # One gateway process per SQLite database: nothing is in flight after a restart.
            await self.db.run(rasa_control.release_leases)
        while True:
            try:
                await self.retry_due()
            except Exception as exc:
                log.error("retrying Rasa events failed: %s", describe(exc))
            await asyncio.sleep(poll_interval)

    async def _send(self, claimed: Claimed) -> bool:
        try:
            await self.control.send(claimed.conversation_id, claimed.event)
        except Exception as exc:
            reason = exc.reason if isinstance(exc, ControlFailed) else type(exc).__name__
            attempts = claimed.attempts + 1
            retry_at = self.clock() + self.retry.delay(attempts)
            log_at = logging.WARNING if attempts == 1 or attempts % 10 == 0 else logging.INFO
            log.log(
                log_at,
                "Rasa did not take %s conversation_id=%s attempt=%s reason=%s",
                claimed.event, claimed.conversation_id, attempts, reason,
            )  # fmt: skip
            await self.db.run(
                lambda session: rasa_control.not_taken(session, claimed, reason, retry_at)
            )
            return False
        applied = await self.db.run(lambda session: rasa_control.taken(session, claimed))
        log.info(
            "Rasa took %s conversation_id=%s applied=%s",
            claimed.event, claimed.conversation_id, applied,
        )  # fmt: skip
        return applied

    def _want(self, session: Session, conversation_id: str, event: str) -> Claimed | None:
        row = session.get(ConversationRow, conversation_id, with_for_update=True)
        if row is None:
            raise ConversationNotFound()
        if event == PAUSE:
            row.paused = True
        return rasa_control.want(session, conversation_id, event, self.clock(), LEASE)

    def _queue_message(
        self, session: Session, conversation_id: str, text: str, worker_ref: str
    ) -> list[int]:
        row = session.get(ConversationRow, conversation_id)
        if row is None:
            raise ConversationNotFound()
        conversation = Conversation.from_row(row)
        if conversation.stopped:
            raise Refused("opted_out", "the young person has opted out: nothing can be sent")
        if not conversation.paused:
            raise Refused("not_taken_over", "take the conversation over before replying")
        channel = self.channels.get(conversation.channel)
        if channel is None:
            raise Refused("no_channel", "this conversation's channel is not set up here")
        now = self.clock()
        ids = []
        for rendered in channel.render([BotMessage(text=text)]):
            body = {**rendered.body, "worker_ref": worker_ref}
            ids.append(
                outbox.enqueue(
                    session,
                    self.cipher,
                    conversation_id=conversation_id,
                    channel=conversation.channel,
                    outbound=Outbound(body),
                    kind=WORKER,
                    in_reply_to=None,
                    now=now,
                )
            )
        log.info(
            "worker message queued conversation_id=%s outbox_ids=%s worker_ref=%s",
            conversation_id, ",".join(map(str, ids)), worker_ref,
        )  # fmt: skip
        return ids

    def _standing(self, session: Session, conversation_id: str) -> Standing:
        row = session.get(ConversationRow, conversation_id, populate_existing=True)
        if row is None:
            raise ConversationNotFound()
        conversation = Conversation.from_row(row)
        return Standing(
            conversation_id=conversation_id,
            channel=conversation.channel,
            paused=conversation.paused,
            stopped=conversation.stopped,
            pending=rasa_control.pending(session, conversation_id),
        )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_takeover_routes(app: FastAPI, settings: Settings) -> None:
    """Add the `/internal/conversations/…` routes and the task that keeps Rasa in step.

    Uses `app.state.gateway` (see `channels.gateway.create_app`); Rasa is retried on the
    pipeline's backoff, capped at four times its cap, and polled as often as the worker polls.
    """
    token = settings.service_token.encode("utf-8")

    async def authorised(request: Request) -> None:
        # Behind a local reverse proxy, uvicorn's proxy headers give the real client here.
        if not _is_loopback(request.client.host if request.client else ""):
            raise NotLocal()
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if not token:
            raise Unauthorized("the internal API is disabled: no YOUTHLINK_SERVICE_TOKEN set")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode("utf-8", "replace"), token
        ):
            raise Unauthorized()

    def takeover_of(request: Request) -> Takeover:
        return request.app.state.takeover  # type: ignore[no-any-return]

    router = APIRouter(prefix="/internal/conversations", dependencies=[Depends(authorised)])

    @router.get("/{conversation_id}")
    async def get_standing(request: Request, conversation_id: ConversationId) -> JSONResponse:
        standing = await takeover_of(request).standing(conversation_id)
        return JSONResponse(standing.to_json())

    @router.post("/{conversation_id}/takeover")
    async def post_takeover(request: Request, conversation_id: ConversationId) -> JSONResponse:
        standing = await takeover_of(request).take_over(conversation_id)
        return JSONResponse(standing.to_json())

    @router.post("/{conversation_id}/handback")
    async def post_handback(request: Request, conversation_id: ConversationId) -> JSONResponse:
        standing = await takeover_of(request).hand_back(conversation_id)
        # 202: accepted, but the bot has the conversation only once Rasa has resumed it.
        return JSONResponse(standing.to_json(), status_code=202 if standing.paused else 200)

    @router.post("/{conversation_id}/messages")
    async def post_message(request: Request, conversation_id: ConversationId) -> JSONResponse:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise TextTooLong("the request body is too large")
        text, worker_ref = parse_worker_message(await request.body())
        ids = await takeover_of(request).send_message(conversation_id, text, worker_ref)
        return JSONResponse(
            {"conversation_id": conversation_id, "outbox_ids": ids}, status_code=201
        )

    async def not_local(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=403)

    async def not_found(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=404)

    async def refused(_request: Request, exc: Exception) -> JSONResponse:
        reason = exc.reason if isinstance(exc, Refused) else "refused"
        return JSONResponse({"error": str(exc), "reason": reason}, status_code=409)

    app.add_exception_handler(NotLocal, not_local)
    app.add_exception_handler(ConversationNotFound, not_found)
    app.add_exception_handler(Refused, refused)
    app.include_router(router)

    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[Any]:
        async with inner(app_) as state:
            gateway = app_.state.gateway
            policy = gateway.pipeline.retry
            retry = ControlRetry(policy.base_seconds, 4 * policy.cap_seconds)
            async with httpx.AsyncClient(timeout=CONTROL_TIMEOUT) as client:
                takeover = Takeover(
                    gateway.db,
                    gateway.cipher,
                    gateway.channels,
                    RasaControl(settings.rasa_url, settings.rasa_token, client),
                    wake=gateway.worker.wake,
                    clock=gateway.pipeline.clock,
                    retry=retry,
                )
                app_.state.takeover = takeover
                task = asyncio.create_task(
                    takeover.run(gateway.worker.poll_interval), name="rasa-control"
                )
                try:
                    yield state
                finally:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app.router.lifespan_context = lifespan
