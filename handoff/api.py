"""The handoff HTTP API for the action server (and the gateway): referrals and escalations."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import importlib
import importlib.util
import logging
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from handoff import escalations, queue, referrals
from handoff.context import ConversationAddressLookup, HandoffContext
from handoff.conversation import ConversationReader, gateway_conversation_reader
from handoff.dashboard import DashboardConfig, create_dashboard
from handoff.dashboard.rulecheck import RuleCheck
from handoff.errors import Conflict, HandoffError, InvalidEscalation, InvalidReferral, NotFound
from youthlink.config import Settings
from youthlink.crypto import Cipher
from youthlink.db import make_engine, make_sessionmaker
from youthlink.errors import YouthLinkError

log = logging.getLogger(__name__)

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Uuid = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F-]{36}$")]


class Unauthorized(HandoffError):
    """A valid service bearer token is required."""


class ReferralSubmission(BaseModel):
    """Body of `POST /api/referrals`."""

    model_config = ConfigDict(extra="forbid")

    referral: dict[str, Any]
    flags: list[Slug] = Field(default_factory=list, max_length=20)


class EscalationSubmission(BaseModel):
    """Body of `POST /api/escalations` (the arguments of `record_escalation`)."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str = Field(min_length=1, max_length=64)
    channel: str = Field(max_length=16)
    severity: int = Field(ge=0, le=5)
    categories: list[Slug] = Field(max_length=20)
    rule_ids: list[Annotated[str, StringConstraints(max_length=80)]] = Field(max_length=50)
    ruleset_version: str = Field(max_length=64)
    excerpt: str = Field(max_length=10_000)
    age_band: str = Field(default="unknown", max_length=16)
    escalation_id: Uuid | None = None


def _status_for(exc: YouthLinkError) -> int:
    if isinstance(exc, Unauthorized):
        return 401
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, InvalidReferral | InvalidEscalation):
        return 422
    if isinstance(exc, Conflict):
        return 409
    return 500


async def _on_error(request: Request, exc: Exception) -> Response:
    """Every project error becomes an HTTP answer here, and nowhere else."""
    assert isinstance(exc, YouthLinkError)
    status = _status_for(exc)
    body: dict[str, Any] = {"detail": str(exc)}
    if isinstance(exc, InvalidReferral):
        body["problems"] = list(exc.problems)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status >= 500:
        # e.g. DecryptionError: the type names the fault.
        log.error("handoff error on %s: %s", _route(request), type(exc).__name__)
        body = {"detail": "internal error"}
    return JSONResponse(body, status_code=status, headers=headers)


async def _on_invalid_request(request: Request, exc: Exception) -> Response:
    """Request validation errors without the submitted values (they may be personal)."""
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in exc.errors()
    ]
    return JSONResponse({"detail": problems}, status_code=422)


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "unknown"


def _context(request: Request) -> HandoffContext:
    context: HandoffContext = request.app.state.handoff
    return context


def _require_service(request: Request) -> None:
    expected = _context(request).settings.service_token.encode("utf-8")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    given = token.strip().encode("utf-8")
    if not expected or scheme.lower() != "bearer" or not hmac.compare_digest(given, expected):
        raise Unauthorized()


Context = Annotated[HandoffContext, Depends(_context)]
api = APIRouter(prefix="/api", dependencies=[Depends(_require_service)])


@api.post("/referrals", status_code=201)
def post_referral(body: ReferralSubmission, context: Context) -> dict[str, str]:
    """Store a referral (merging into an early one for the same conversation)."""
    with context.transaction() as session:
        referral_id = referrals.submit_referral(
            session,
            context.cipher,
            body.referral,
            body.flags,
            address_lookup=context.lookup_for(session),
        )
    return {"referral_id": referral_id}


@api.get("/referrals/{referral_id}")
def get_referral(referral_id: str, context: Context) -> dict[str, Any]:
    """One referral record."""
    with context.transaction() as session:
        return referrals.get_referral(session, context.cipher, referral_id)


@api.get("/referrals")
def list_referrals(conversation_id: str, context: Context) -> list[dict[str, Any]]:
    """The referral records of one conversation, oldest first."""
    with context.transaction() as session:
        return referrals.referrals_for_conversation(session, context.cipher, conversation_id)


@api.delete("/conversations/{conversation_id}/draft")
def delete_draft(conversation_id: str, context: Context) -> dict[str, int]:
    """The young person's DELETE: drop drafts, withdraw and wipe submitted referrals."""
    with context.transaction() as session:
        count = queue.withdraw_for_young_person(session, context.cipher, conversation_id)
        forgotten = forget_gateway_messages(session, context.cipher, conversation_id)
    return {"deleted": count, "messages_forgotten": forgotten}


@api.post("/escalations", status_code=201)
def post_escalation(body: EscalationSubmission, context: Context) -> dict[str, Any]:
    """Record an escalation; the conversation's referral becomes urgent (or is created)."""
    with context.transaction() as session:
        escalation = escalations.record_escalation(session, context.cipher, **body.model_dump())
    return escalation.to_public_dict()


@api.get("/escalations")
def get_escalations(
    conversation_id: str, context: Context, status: str | None = None
) -> list[dict[str, Any]]:
    """The escalations of one conversation, newest first (without the excerpts)."""
    with context.transaction() as session:
        found = escalations.list_escalations(
            session, context.cipher, conversation_id=conversation_id, status=status
        )
    return [e.to_public_dict() for e in found]


def _health(request: Request) -> Response:
    context = _context(request)
    try:
        with context.sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception:  # any database failure means not healthy
        log.warning("health check: database unavailable")
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


async def _log_requests(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Method, route template, status and time only: never a query string or a body."""
    started = time.perf_counter()
    try:
        response = await call_next(request)
    except Exception as exc:
        # Type and place only: exception messages can carry the values that caused them.
        log.error("unhandled %s on %s at %s", type(exc).__name__, _route(request), _where(exc))
        response = JSONResponse({"detail": "internal error"}, status_code=500)
    elapsed = (time.perf_counter() - started) * 1000
    log.info("%s %s %d %.0fms", request.method, _route(request), response.status_code, elapsed)
    return response


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    address_lookup: ConversationAddressLookup | None = None,
    dashboard: DashboardConfig | None = None,
    conversation_reader: ConversationReader | None = None,
    rule_check: RuleCheck | None = None,
) -> FastAPI:
    """The handoff app. `address_lookup` is the gateway's `lookup_address(session, cipher, id)`.

    The staff dashboard is mounted at `/` (see handoff/dashboard): `dashboard` overrides its
    settings, `conversation_reader` shows the conversation around an escalation and
    `rule_check` runs the safeguarding rules' check.
    """
    cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
    engine = engine if engine is not None else make_engine(settings.database_url)
    if not settings.service_token:
        log.warning("no service token configured: every /api request will be refused")
    app = FastAPI(title="YouthLink handoff", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.handoff = HandoffContext(
        settings=settings,
        cipher=cipher,
        sessions=make_sessionmaker(engine),
        address_lookup=address_lookup,
    )
    app.add_exception_handler(YouthLinkError, _on_error)
    app.add_exception_handler(RequestValidationError, _on_invalid_request)
    app.middleware("http")(_log_requests)
    app.add_api_route("/healthz", _health, methods=["GET"])
    app.include_router(api)
    # Last: the dashboard answers every path the API does not.
    app.mount(
        "/",
        create_dashboard(
            app.state.handoff, dashboard, reader=conversation_reader, rule_check=rule_check
        ),
    )
    return app


def gateway_address_lookup() -> ConversationAddressLookup | None:
    """The gateway's address lookup, when the `channels` package is installed alongside."""
    if importlib.util.find_spec("channels") is None:
        return None
    module = importlib.import_module("channels.conversations")
    lookup: ConversationAddressLookup = module.lookup_address
    return lookup


def forget_gateway_messages(session: Session, cipher: Cipher, conversation_id: str) -> int:
    """Blank the gateway's stored copies of a conversation's messages (for DELETE)."""
    if importlib.util.find_spec("channels") is None:
        return 0
    from channels.erasure import forget_messages

    return forget_messages(session, cipher, conversation_id)


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8081,
    *,
    address_lookup: ConversationAddressLookup | None = None,
) -> None:
    """Migrate the database, then run the handoff app with uvicorn (no access log)."""
    import uvicorn

    from youthlink.heap import freeze_after_startup
    from youthlink.migrations import upgrade

    upgrade(settings.database_url)
    lookup = address_lookup or gateway_address_lookup()
    if lookup is None:
        log.warning("no gateway address lookup: referrals will not get contact addresses")
    app = create_app(
        settings, address_lookup=lookup, conversation_reader=gateway_conversation_reader()
    )
    from handoff.pager import attach as attach_pager

    attach_pager(app, settings)
    attach_retention(app, settings)
    freeze_after_startup(app)
    uvicorn.run(app, host=host, port=port, access_log=False, server_header=False)


def attach_retention(app: FastAPI, settings: Settings) -> None:
    """Apply the retention settings at start-up and then daily, for as long as the app runs."""
    import os

    from youthlink.retention import RetentionPolicy, TrackerStoreCommand, retention_loop

    context = app.state.handoff
    policy = RetentionPolicy.from_env(os.environ)
    tracker = TrackerStoreCommand.from_env(os.environ)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        async with inner(app_) as state:
            stop = asyncio.Event()
            task = asyncio.create_task(
                retention_loop(
                    settings, context.sessions.kw["bind"], policy=policy, tracker=tracker, stop=stop
                ),
                name="retention",
            )
            try:
                yield state
            finally:
                stop.set()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app.router.lifespan_context = lifespan
