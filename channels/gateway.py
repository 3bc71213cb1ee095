"""The gateway's HTTP app: the local channel API, health, and the background worker."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from channels import inbox, outbox
from channels.channel import Channel, InboundRequest
from channels.contain_errors import ContainErrors
from channels.conversations import find_conversation_id
from channels.database import Database, utcnow
from channels.delivery import Delivery
from channels.errors import BadRequest, TextTooLong, Unauthorized
from channels.inbox import InboxItem
from channels.local import LocalChannel, parse_address
from channels.outbox import OutboxItem
from channels.pipeline import Pipeline, RetryPolicy
from channels.rasa import DEFAULT_TIMEOUT, RasaClient
from channels.safeguarding import Safeguarding, default_safeguarding
from channels.tables import DONE, FAILED
from channels.takeover import add_takeover_routes
from channels.telegram import TelegramChannel, TelegramConfig
from channels.twilio import SMS, WHATSAPP, TwilioChannel, TwilioConfig, TwilioSender
from channels.webhooks import add_provider_routes, close_channels, register_in_background
from channels.worker import Signal, Worker
from youthlink.config import Settings
from youthlink.crypto import Cipher
from youthlink.db import make_engine

log = logging.getLogger(__name__)

REPLY_WAIT_SECONDS = 30.0
LOCAL_PATH = "/local/messages"


@dataclass(frozen=True)
class Gateway:
    """Everything the routes need, built once at start-up."""

    db: Database
    cipher: Cipher
    channels: Mapping[str, Channel]
    pipeline: Pipeline
    worker: Worker
    reply_wait: float


@dataclass(frozen=True)
class Outcome:
    """What became of one stored message, as the local API reports it."""

    conversation_id: str
    messages: list[OutboxItem]
    escalation_id: str | None
    pending: bool


def _message_json(item: OutboxItem) -> dict[str, Any]:
    body = dict(item.body)
    return {
        "id": item.id,
        "kind": item.kind,
        "text": body.get("text", ""),
        "buttons": body.get("buttons", []),
        "asking": body.get("asking"),
    }


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {
        "conversation_id": outcome.conversation_id,
        "messages": [_message_json(m) for m in outcome.messages],
        "escalation_id": outcome.escalation_id,
        "pending": outcome.pending,
        "cursor": max((m.id for m in outcome.messages), default=0),
    }


MAX_BODY_BYTES = 1024 * 1024


async def _inbound(request: Request) -> InboundRequest:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise TextTooLong("the request body is too large")
    # Read with a cap: a chunked body declares no length.
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TextTooLong("the request body is too large")
        chunks.append(chunk)
    return InboundRequest(
        method=request.method,
        url=str(request.url),
        headers=dict(request.headers),
        body=b"".join(chunks),
        query=dict(request.query_params),
    )


class LocalPostFirst:
    """The gateway's ASGI app: the local API's POST goes straight to its handler, everything
    else to the FastAPI app.

    Every message of the local channel is such a POST, and FastAPI's stack of middleware around
    a route (seven layers, each wrapping `send`) cost about 7% of the gateway's CPU for
    one. The handler's errors are answered by the handlers the app registers for them, and
    `ContainErrors` wraps it as it wraps the app.
    """

    def __init__(self, app: FastAPI, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self.app = app
        self.handler = handler
        self._post = ContainErrors(self._serve_post)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch one ASGI call."""
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == LOCAL_PATH:
            scope["app"] = self.app  # what `request.app` is, as Starlette sets it
            await self._post(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _serve_post(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.handler(request)
        except Exception as exc:
            answer = self._handler_for(exc)
            if answer is None:
                raise
            result = answer(request, exc)
            response = await result if inspect.isawaitable(result) else result
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Any:
        # The app's handler for the nearest class of `exc`, as Starlette looks it up; the
        # catch-all (Exception) stays with ContainErrors.
        for kind in type(exc).__mro__:
            if kind is not Exception and kind in self.app.exception_handlers:
                return self.app.exception_handlers[kind]
        return None


def settled(item: InboxItem, rasa_unavailable: bool) -> bool:
    """Whether the local API's answer about this message is final: it is done with (or Rasa is
    being waited for), and an escalation it raised is recorded, so the answer carries its id.

    A paused conversation's message is done with as soon as it is claimed, which can be before
    its escalation is recorded.
    """
    finished = item.status in (DONE, FAILED)
    waiting_for_rasa = item.screened and (item.attempts > 0 or rasa_unavailable)
    escalation_recorded = not item.escalated or item.escalation_id is not None
    return escalation_recorded and (finished or waiting_for_rasa)


def _read_outcome(
    session: Session, gateway: Gateway, inbox_id: int, conversation_id: str
) -> tuple[Outcome, bool]:
    item = inbox.get_item(session, gateway.cipher, inbox_id)
    messages = outbox.replies_for(session, gateway.cipher, inbox_id)
    if item is None:
        return Outcome(conversation_id, messages, None, pending=False), True
    outcome = Outcome(
        conversation_id=conversation_id,
        messages=messages,
        escalation_id=item.escalation_id,
        pending=item.status not in (DONE, FAILED),
    )
    return outcome, settled(item, gateway.pipeline.rasa_unavailable)


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    safeguarding: Safeguarding | None = None,
    retry: RetryPolicy | None = None,
    poll_interval: float = 0.5,
    reply_wait: float = REPLY_WAIT_SECONDS,
) -> LocalPostFirst:
    """The gateway app; its worker starts and stops with the app's lifespan."""
    cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
    channel_map: dict[str, Channel] = {"local": LocalChannel(settings.local_token)}
    twilio_config = TwilioConfig.from_settings(settings)
    twilio_sender = TwilioSender(twilio_config)
    telegram_config = TelegramConfig.from_settings(settings)
    channel_map[SMS] = TwilioChannel(SMS, twilio_config, twilio_sender)
    channel_map[WHATSAPP] = TwilioChannel(WHATSAPP, twilio_config, twilio_sender)
    channel_map["telegram"] = TelegramChannel(telegram_config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned_engine = engine is None
        db = Database(engine if engine is not None else make_engine(settings.database_url))
        guard = safeguarding if safeguarding is not None else default_safeguarding()
        connector = aiohttp.TCPConnector(force_close=not settings.rasa_keepalive)
        # Rasa sets no cookies: a jar that keeps none has nothing to match on each request.
        async with aiohttp.ClientSession(
            connector=connector, timeout=DEFAULT_TIMEOUT, cookie_jar=aiohttp.DummyCookieJar()
        ) as client:
            pipeline = Pipeline(
                db,
                cipher,
                channel_map,
                RasaClient(settings.rasa_url, client),
                guard,
                escalate_at=settings.escalate_at,
                retry=retry,
            )
            worker = Worker(
                pipeline,
                poll_interval=poll_interval,
                changed=Signal(),
                deliver=Delivery(pipeline).deliver,
            )
            app.state.gateway = Gateway(db, cipher, channel_map, pipeline, worker, reply_wait)
            task = asyncio.create_task(worker.run(), name="gateway-worker")
            if telegram_config.token and telegram_config.public_url:
                providers.spawn(register_in_background(settings), "telegram-webhook")
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await providers.close()
                await close_channels(list(channel_map.values()))
                db.close()
                if owned_engine:
                    db.engine.dispose()

    app = FastAPI(title="YouthLink gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    providers = add_provider_routes(app)
    add_takeover_routes(app, settings)

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_request: Request, exc: Unauthorized) -> JSONResponse:
        return JSONResponse(
            {"error": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(BadRequest)
    async def _bad_request(_request: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status_code)

    app.add_middleware(ContainErrors)

    def gateway_of(request: Request) -> Gateway:
        return request.app.state.gateway  # type: ignore[no-any-return]

    @app.get("/healthz")
    async def healthz(request: Request) -> dict[str, Any]:
        gateway = gateway_of(request)
        await gateway.db.run(lambda session: session.execute(text("SELECT 1")))
        return {
            "status": "ok",
            "rasa": "unavailable" if gateway.pipeline.rasa_unavailable else "ok",
        }

    async def post_local_message(request: Request) -> JSONResponse:
        gateway = gateway_of(request)
        channel = gateway.channels["local"]
        inbound = await _inbound(request)
        channel.authenticate(inbound)
        (message,) = channel.parse(inbound)
        received = await gateway.pipeline.receive(message, utcnow())
        stored = received.stored
        if received.prepared is not None:
            # Screened clean and claimed as it was stored: relay it now, without the worker.
            # Answered, it is logged once, by the answer (the log line names its conversation).
            answered = await asyncio.shield(gateway.worker.relay_now(received.prepared))
            if answered is not None:
                outcome = Outcome(stored.conversation_id, answered.messages, None, pending=False)
                return JSONResponse(_outcome_json(outcome))
        if stored.created:
            log.info(
                "received inbox_id=%s conversation_id=%s channel=local",
                stored.inbox_id,
                stored.conversation_id,
            )
        changed = gateway.worker.changed.watch(stored.inbox_id)
        gateway.worker.wake()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + gateway.reply_wait
        if stored.created:
            # Nothing can be settled before the worker has screened it: wait for that first.
            await changed.wait(min(0.5, gateway.reply_wait))
        while True:
            # Watch before reading, so a change made while reading is not missed.
            changed = gateway.worker.changed.watch(stored.inbox_id)
            outcome, settled = await gateway.db.run(
                lambda session: _read_outcome(
                    session, gateway, stored.inbox_id, stored.conversation_id
                )
            )
            remaining = deadline - loop.time()
            if settled or remaining <= 0:
                return JSONResponse(_outcome_json(outcome))
            await changed.wait(min(0.5, remaining))

    # A plain Starlette route: it takes the request as it is, so FastAPI's per-request
    # dependency machinery (a tenth of the gateway's CPU per message) has nothing to do.
    app.add_route(LOCAL_PATH, post_local_message, methods=["POST"])

    @app.get(LOCAL_PATH)
    async def get_local_messages(request: Request) -> JSONResponse:
        gateway = gateway_of(request)
        inbound = await _inbound(request)
        gateway.channels["local"].authenticate(inbound)
        address = parse_address(request.query_params.get("address"))
        after_raw = request.query_params.get("after", "0")
        if not after_raw.isdigit() or len(after_raw) > 18:
            raise BadRequest("'after' must be a whole number (an outbox id)")
        after = int(after_raw)

        def read(session: Session) -> tuple[str | None, list[OutboxItem]]:
            conversation_id = find_conversation_id(session, gateway.cipher, "local", address)
            if conversation_id is None:
                return None, []
            return conversation_id, outbox.messages_after(
                session, gateway.cipher, conversation_id, after
            )

        conversation_id, items = await gateway.db.run(read)
        return JSONResponse(
            {
                "conversation_id": conversation_id,
                "messages": [_message_json(m) for m in items],
                "cursor": max((m.id for m in items), default=after),
            }
        )

    return LocalPostFirst(app, post_local_message)


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Migrate the database, then run the gateway until interrupted.

    The access log stays off: query strings of the local API carry addresses.
    """
    import uvicorn

    from youthlink.heap import freeze_after_startup
    from youthlink.migrations import upgrade

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs every request URL at INFO; the gateway logs what matters itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # A Telegram URL holds the bot token; the SDKs log numbers and texts at DEBUG.
    for name in ("httpcore", "telegram", "twilio", "aiohttp"):
        logging.getLogger(name).setLevel(logging.WARNING)
    upgrade(settings.database_url)
    app = create_app(settings)
    freeze_after_startup(app.app)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
        log_level="info",
    )
