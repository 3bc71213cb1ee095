"""The dashboard app, mounted at `/` of the handoff app (the API keeps `/api/*`)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from handoff.context import HandoffContext
from handoff.conversation import ConversationReader
from handoff.dashboard import (
    routes_admin,
    routes_auth,
    routes_conversation,
    routes_escalations,
    routes_queue,
)
from handoff.dashboard.config import DashboardConfig
from handoff.dashboard.rulecheck import RuleCheck, default_rule_check
from handoff.dashboard.security import FlashSigner, RateLimiter
from handoff.dashboard.web import (
    TEMPLATES,
    CsrfFailed,
    Dashboard,
    NotSignedIn,
    PasswordChangeRequired,
    install_filters,
    redirect,
    render,
)
from handoff.errors import NotFound
from handoff.staff_errors import Forbidden
from youthlink.errors import YouthLinkError

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"


def create_dashboard(
    context: HandoffContext,
    config: DashboardConfig | None = None,
    *,
    reader: ConversationReader | None = None,
    rule_check: RuleCheck | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The staff dashboard: server-rendered pages over the handoff store."""
    settings = context.settings
    config = config or DashboardConfig.from_settings(settings)
    if settings.secret_key:
        secret = settings.secret_key.encode("utf-8")
    else:
        # Development without a key: forms and messages last as long as this process.
        log.warning("no YOUTHLINK_SECRET_KEY: using a per-process key for dashboard forms")
        secret = secrets.token_bytes(32)
    templates = Jinja2Templates(directory=str(TEMPLATES))
    install_filters(templates)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.dashboard = Dashboard(
        handoff=context,
        config=config,
        secret=secret,
        templates=templates,
        reader=reader,
        rule_check=rule_check or default_rule_check(),
        login_limiter=RateLimiter(config.login_rate.attempts, config.login_rate.window),
        flash_signer=FlashSigner(secret),
        clock=clock or (lambda: datetime.now(UTC)),
    )
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for router in (
        routes_auth.router,
        routes_queue.router,
        routes_conversation.router,
        routes_escalations.router,
        routes_admin.router,
    ):
        app.include_router(router)
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(PasswordChangeRequired, _password_change)
    app.add_exception_handler(YouthLinkError, _on_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    return app


async def _not_signed_in(request: Request, exc: Exception) -> Response:
    target = "/login"
    if request.method == "GET" and request.url.path not in ("/", "/login"):
        target += "?next=" + request.url.path
    return redirect(request, target)


async def _password_change(request: Request, exc: Exception) -> Response:
    return redirect(request, "/account/password")


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    return render(request, "error.html", {"title": title, "message": message}, status=status)


async def _on_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, CsrfFailed):
        return _error_page(request, 403, "Please try again", str(exc))
    if isinstance(exc, Forbidden):
        return _error_page(request, 403, "Not available to you", str(exc))
    if isinstance(exc, NotFound):
        return _error_page(request, 404, "Not found", str(exc))
    # Type only: messages of unexpected errors can carry the values that caused them.
    log.error("dashboard error on %s: %s", request.url.path.split("/")[1], type(exc).__name__)
    return _error_page(request, 500, "Something went wrong", "Please try again in a moment.")


async def _invalid_request(request: Request, exc: Exception) -> Response:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    if any(tuple(error.get("loc") or ())[:1] == ("path",) for error in errors):
        return _error_page(request, 404, "Not found", "There is no such page.")
    return _error_page(request, 400, "That did not work", "Some of what was sent is not valid.")


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    if status == 404:
        return _error_page(request, 404, "Not found", "There is no such page.")
    if status == 405:
        return _error_page(request, 405, "Not allowed", "That page does not take this request.")
    return _error_page(request, status, "That did not work", "Please try again.")
