"""What every dashboard page shares: the signed-in user, roles, CSRF, rendering, redirects."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from handoff import export, staff_sessions
from handoff.context import HandoffContext
from handoff.conversation import ConversationReader
from handoff.dashboard.config import DashboardConfig
from handoff.dashboard.rulecheck import RuleCheck, RuleCheckReport
from handoff.dashboard.security import (
    PAGE_HEADERS,
    Flash,
    FlashSigner,
    RateLimiter,
    csrf_matches,
    csrf_token,
)
from handoff.queue import Staff
from handoff.staff_errors import Forbidden, HandoffError
from handoff.users import ADMIN, LINK_WORKER, SAFEGUARDING_LEAD, User

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
CASE_ROLES = (LINK_WORKER, SAFEGUARDING_LEAD)
LEADS = (SAFEGUARDING_LEAD,)
ADMINS = (ADMIN,)
OVERSIGHT = (SAFEGUARDING_LEAD, ADMIN)
# Pages someone who must change their password may still reach.
PASSWORD_CHANGE_PATHS = ("/account/password", "/logout")


class NotSignedIn(HandoffError):
    """Please sign in."""


class PasswordChangeRequired(HandoffError):
    """Choose a new password first."""


class CsrfFailed(Forbidden):
    """This form has expired or did not come from this site. Please try again."""


@dataclass
class RuleCheckCache:
    """The latest rule check, so the page does not run it on every visit."""

    report: RuleCheckReport | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Dashboard:
    """The dashboard's shared state, kept on the app."""

    handoff: HandoffContext
    config: DashboardConfig
    secret: bytes
    templates: Jinja2Templates
    reader: ConversationReader | None
    rule_check: RuleCheck
    login_limiter: RateLimiter
    flash_signer: FlashSigner
    rule_report: RuleCheckCache = field(default_factory=RuleCheckCache)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One database transaction (committed on success)."""
        with self.handoff.transaction() as session:
            yield session

    def now(self) -> datetime:
        """The current time (a clock tests can move)."""
        return self.clock()


def dashboard(request: Request) -> Dashboard:
    """The dashboard state of this app."""
    state: Dashboard = request.app.state.dashboard
    return state


def client_address(request: Request) -> str | None:
    """Where a request came from, for the audit log."""
    return request.client.host if request.client else None


def session_token(request: Request) -> str:
    """The session cookie's token ('' when absent)."""
    return request.cookies.get(dashboard(request).config.session_cookie, "")


def signed_in_user(request: Request) -> User:
    """The signed-in user (dependency): NotSignedIn, or PasswordChangeRequired when they
    must replace a one-time password first."""
    cached = getattr(request.state, "user", None)
    if isinstance(cached, User):
        return cached
    state = dashboard(request)
    token = session_token(request)
    user = None
    if token:
        with state.transaction() as session:
            user = staff_sessions.resolve(session, token, state.config.sessions, now=state.now())
    if user is None:
        raise NotSignedIn()
    request.state.user = user
    if user.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired()
    return user


def requires(*roles: str) -> Callable[[Request], User]:
    """A dependency admitting only signed-in users in one of `roles`."""

    def check(request: Request) -> User:
        user = signed_in_user(request)
        if user.role not in roles:
            log.info("refused %s %s to role %s", request.method, _route(request), user.role)
            raise Forbidden()
        return user

    return check


def staff_for(request: Request, user: User) -> Staff:
    """The acting member of staff, with where they are (for the audit log)."""
    return Staff.of(user, client_address(request))


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))


async def csrf_protected(request: Request) -> None:
    """Refuse a form post without this session's CSRF token, or from another origin."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            raise CsrfFailed()
    form = await request.form()
    given = form.get("csrf")
    state = dashboard(request)
    token = session_token(request)
    binding = staff_sessions.token_hash(token) if token else ""
    if not isinstance(given, str) or not csrf_matches(state.secret, "session", binding, given):
        raise CsrfFailed()


def form_token(request: Request) -> str:
    """The CSRF token for forms on this page."""
    token = session_token(request)
    if not token:
        return ""
    return csrf_token(dashboard(request).secret, "session", staff_sessions.token_hash(token))


def nav_for(user: User | None) -> list[tuple[str, str]]:
    """The navigation links a role sees."""
    if user is None:
        return []
    links: list[tuple[str, str]] = []
    if user.role in CASE_ROLES:
        links += [("/queue", "Queue"), ("/caseload", "My caseload")]
    if user.role in LEADS:
        links += [("/escalations", "Escalations"), ("/rules", "Rule check")]
    if user.role in OVERSIGHT:
        links += [("/caseloads", "Caseloads")]
    if user.role in ADMINS:
        links += [("/users", "Users"), ("/rota", "Rota"), ("/settings", "Settings")]
    return links


def home_for(user: User) -> str:
    """Where a role lands after signing in."""
    return "/users" if user.role == ADMIN else "/queue"


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """A page from a template, with the user, navigation, CSRF token and any flash message."""
    state = dashboard(request)
    user = getattr(request.state, "user", None)
    flash = state.flash_signer.loads(request.cookies.get(state.config.flash_cookie))
    values: dict[str, Any] = {
        "user": user,
        "nav": nav_for(user),
        "path": request.url.path,
        "csrf": form_token(request),
        "flash": flash,
        "now": state.now(),
    }
    values.update(context or {})
    response = state.templates.TemplateResponse(request, template, values, status_code=status)
    _secure(response)
    if flash is not None:
        response.delete_cookie(
            state.config.flash_cookie, path="/", secure=state.config.cookie_secure
        )
    return response


def redirect(request: Request, url: str, flash: Flash | None = None) -> RedirectResponse:
    """See other (303) to a page on this site, optionally with a message for it."""
    response = RedirectResponse(safe_next(url), status_code=303)
    _secure(response)
    if flash is not None:
        state = dashboard(request)
        set_cookie(
            request,
            response,
            state.config.flash_cookie,
            state.flash_signer.dumps(flash),
            max_age=120,
        )
    return response


def set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int | None = None
) -> None:
    """A cookie as every dashboard cookie is set: HttpOnly, SameSite=Lax, Secure if set up."""
    config = dashboard(request).config
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=config.cookie_secure,
        httponly=True,
        samesite="lax",
    )


def _secure(response: Response) -> None:
    for name, value in PAGE_HEADERS.items():
        response.headers[name] = value


def safe_next(url: str) -> str:
    """Only local paths: a crafted link must not send people to another site after sign-in."""
    if not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/"
    return url


def ok(text: str) -> Flash:
    """A success message."""
    return Flash("ok", text)


def problem(text: str) -> Flash:
    """An error message."""
    return Flash("error", text)


def install_filters(templates: Jinja2Templates) -> None:
    """Template filters: UK local times and labels for codes."""
    env = templates.env
    env.filters["when"] = export.local_time
    env.filters["label"] = export.label
    env.filters["age_band"] = lambda band: export.AGE_BANDS.get(band, band)
    env.filters["method"] = lambda method: export.METHODS.get(method, method)
