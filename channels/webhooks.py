"""The providers' webhooks: Twilio messages and status callbacks, Telegram updates.

Each route authenticates the request before parsing anything (403 and nothing stored when
that fails), stores what it carries in the inbox in one transaction, wakes the worker and
acknowledges. Replies are sent later by the worker, never inside the request. Malformed
requests get a 4xx, never a 500: a provider retries 5xx answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError

from channels.channel import Channel, InboundRequest
from channels.conversations import opt_out
from channels.database import utcnow
from channels.errors import BadRequest, Unauthorized, describe
from channels.inbox import Stored
from channels.intake import CARRIER, TELEGRAM, Arrival, Intake
from channels.outbox import record_delivery_status
from channels.telegram import WEBHOOK_PATH, TelegramChannel, parse_update, register_webhook
from channels.texts import FALLBACK_HELP_TEXT
from channels.twilio import (
    EMPTY_TWIML,
    MESSAGES_PATH,
    OPTED_OUT_CODES,
    SMS,
    STATUS_PATH,
    WHATSAPP,
    TwilioChannel,
    authenticated_form,
    parse_inbound,
    parse_status,
)
from youthlink.config import Settings

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
REGISTER_RETRY_SECONDS = (5.0, 30.0, 120.0, 600.0)


class BackgroundTasks:
    """Fire-and-forget work of the routes (acknowledging button presses), ended at shutdown.

    Also holds the threads that store arrivals: their own, so an acknowledgement never queues
    behind the worker's database work in the shared pool (it still takes its turn at the
    database itself).
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.intake_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="intake")

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run `work` in the background; its failure is logged, not raised."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("background task %s failed: %s", task.get_name(),
                        describe(task.exception()))  # type: ignore[arg-type]  # fmt: skip

    async def close(self) -> None:
        """Cancel whatever is still running."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.intake_pool.shutdown(wait=False)


def _plain(status: int, text: str = "") -> Response:
    return Response(text, status_code=status, media_type="text/plain")


def _twiml() -> Response:
    return Response(EMPTY_TWIML, status_code=200, media_type="text/xml")


async def read_request(request: Request) -> InboundRequest | None:
    """The request as channels see it, or None when it is too large to be a message."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return None
    return InboundRequest(
        method=request.method,
        url=str(request.url),
        headers=dict(request.headers),
        body=body,
        query=dict(request.query_params),
    )


async def register_in_background(settings: Settings) -> None:
    """Register the Telegram webhook, retrying while Telegram cannot be reached."""
    for delay in (*REGISTER_RETRY_SECONDS, None):
        try:
            await register_webhook(settings)
        except Exception as exc:
            log.warning("Telegram webhook registration failed: %s", describe(exc))
            if delay is None:
                return
            await asyncio.sleep(delay)
        else:
            log.info("Telegram webhook registered")
            return


def add_provider_routes(app: FastAPI) -> BackgroundTasks:
    """Add `POST /twilio/messages`, `POST /twilio/status` and `POST /telegram/webhook`.

    The routes use `app.state.gateway` (see `channels.gateway.create_app`).
    """
    background = BackgroundTasks()

    def gateway_of(request: Request) -> Any:
        return request.app.state.gateway

    def intake_for(gateway: Any, channel: Channel) -> Intake:
        pipeline = gateway.pipeline

        def help_text(age_band: str) -> str:
            try:
                return str(pipeline.safeguarding.help_reply(age_band))
            except Exception as exc:
                log.error("help reply failed: %s", describe(exc))
                return FALLBACK_HELP_TEXT

        return Intake(
            cipher=gateway.cipher,
            channel=channel,
            rules=TELEGRAM if channel.name == "telegram" else CARRIER,
            help_text=help_text,
            pipeline_answers_help=lambda: bool(pipeline.rasa_unavailable),
        )

    async def store(gateway: Any, channel: Channel, arrivals: Sequence[Arrival]) -> list[Stored]:
        intake = intake_for(gateway, channel)
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            try:
                stored: list[Stored] = await loop.run_in_executor(
                    background.intake_pool,
                    gateway.db.call,
                    lambda session: intake.accept(session, arrivals, utcnow()),
                )
                break
            except IntegrityError:
                # The same provider id stored by another replica a moment ago: read it back.
                if attempt == 2:
                    raise
        for item in stored:
            if item.created:
                log.info(
                    "received inbox_id=%s conversation_id=%s channel=%s",
                    item.inbox_id, item.conversation_id, channel.name,
                )  # fmt: skip
            else:
                log.info("duplicate delivery inbox_id=%s channel=%s", item.inbox_id, channel.name)
        if stored:
            gateway.worker.wake()
        return stored

    @app.post(MESSAGES_PATH)
    async def twilio_message(request: Request) -> Response:
        gateway = gateway_of(request)
        inbound = await read_request(request)
        if inbound is None:
            return _plain(413, "too large")
        sms: TwilioChannel = gateway.channels[SMS]
        try:
            form = authenticated_form(inbound, sms.config)
        except Unauthorized as exc:
            log.warning("refused Twilio webhook: %s", exc)
            return _plain(403, "forbidden")
        try:
            arrival = parse_inbound(form)
        except BadRequest as exc:
            log.warning("malformed Twilio webhook: %s", exc)
            return _plain(exc.status_code, "bad request")
        if arrival.messages:
            channel = gateway.channels[arrival.messages[0].channel]
            await store(
                gateway,
                channel,
                [Arrival(m, arrival.opt_out_type, arrival.to or None) for m in arrival.messages],
            )
        return _twiml()

    @app.post(STATUS_PATH)
    async def twilio_status(request: Request) -> Response:
        gateway = gateway_of(request)
        inbound = await read_request(request)
        if inbound is None:
            return _plain(413, "too large")
        try:
            form = authenticated_form(inbound, gateway.channels[SMS].config)
        except Unauthorized as exc:
            log.warning("refused Twilio status callback: %s", exc)
            return _plain(403, "forbidden")
        try:
            report = parse_status(form)
        except BadRequest:
            return _plain(400, "bad request")
        code = report.error_code

        def record(session: Any) -> None:
            now = utcnow()
            conversation_id = record_delivery_status(
                session, (SMS, WHATSAPP), report.message_sid, report.status,
                f"twilio:{code}" if code else None, now,
            )  # fmt: skip
            if conversation_id is not None and code and int(code) in OPTED_OUT_CODES:
                opt_out(session, conversation_id, None, now)

        await gateway.db.run(record)
        return _twiml()

    @app.post(WEBHOOK_PATH)
    async def telegram_update(request: Request) -> Response:
        gateway = gateway_of(request)
        inbound = await read_request(request)
        if inbound is None:
            return _plain(413, "too large")
        channel: TelegramChannel = gateway.channels["telegram"]
        try:
            channel.authenticate(inbound)
        except Unauthorized as exc:
            log.warning("refused Telegram webhook: %s", exc)
            return _plain(403, "forbidden")
        except BadRequest as exc:
            return _plain(exc.status_code, "unsupported media type")
        try:
            arrival = parse_update(inbound.body)
        except BadRequest as exc:
            log.warning("malformed Telegram update: %s", exc)
            return _plain(400, "bad request")
        if arrival.messages:
            await store(gateway, channel, [Arrival(m) for m in arrival.messages])
        if arrival.callback is not None:
            background.spawn(channel.acknowledge(arrival.callback), "telegram-callback")
        return _plain(200, "ok")

    return background


async def close_channels(channels: Sequence[object]) -> None:
    """Close every channel that holds connections (each once)."""
    seen: set[int] = set()
    for channel in channels:
        if id(channel) in seen:
            continue
        seen.add(id(channel))
        close = getattr(channel, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
