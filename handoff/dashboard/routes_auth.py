"""Signing in and out, and choosing a new password."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from handoff import staff_sessions, users
from handoff.dashboard.security import csrf_matches, csrf_token
from handoff.dashboard.web import (
    client_address,
    csrf_protected,
    dashboard,
    home_for,
    ok,
    redirect,
    render,
    safe_next,
    session_token,
    set_cookie,
    signed_in_user,
)
from handoff.staff_errors import InvalidInput, LoginFailed
from handoff.users import User

log = logging.getLogger(__name__)
router = APIRouter()

SIGN_IN_FAILED = (
    "Those details did not work. After 5 failed tries an account is locked for 15 minutes; "
    "an admin can reset it."
)


def _login_page(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    state = dashboard(request)
    secret = request.cookies.get(state.config.login_cookie) or secrets.token_urlsafe(24)
    token = csrf_token(state.secret, "login", secret)
    next_url = safe_next(request.query_params.get("next", "/"))
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "error": error, "next": next_url},
        status=status,
    )
    set_cookie(request, response, state.config.login_cookie, secret, max_age=3600)
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    """The sign-in page."""
    return _login_page(request)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next_url: Annotated[str, Form(alias="next", max_length=500)] = "/",
) -> Response:
    """Check the password; start a session."""
    state = dashboard(request)
    secret = request.cookies.get(state.config.login_cookie, "")
    if not csrf_matches(state.secret, "login", secret, csrf):
        return _login_page(request, error="That form had expired. Please try again.", status=403)
    now = state.now()
    address = client_address(request) or "unknown"
    if not state.login_limiter.allow(address, now):
        log.warning("sign-in rate limit reached")
        return _login_page(
            request, error="Too many sign-in attempts. Wait a few minutes.", status=429
        )
    user: User | None = None
    with state.transaction() as session:
        try:
            user = users.authenticate(
                session, username, password, policy=state.config.lockout, source=address, now=now
            )
        except LoginFailed:
            user = None
        token = None if user is None else staff_sessions.open_session(session, user.id, now=now)
    if user is None or token is None:
        return _login_page(request, error=SIGN_IN_FAILED, status=401)
    target = "/account/password" if user.must_change_password else safe_next(next_url)
    if target == "/":
        target = home_for(user)
    response = redirect(request, target)
    set_cookie(request, response, state.config.session_cookie, token)
    response.delete_cookie(state.config.login_cookie, path="/", secure=state.config.cookie_secure)
    return response


@router.post("/logout", dependencies=[Depends(signed_in_user), Depends(csrf_protected)])
def logout(request: Request) -> Response:
    """End this session."""
    state = dashboard(request)
    with state.transaction() as session:
        staff_sessions.end_session(session, session_token(request))
    response = redirect(request, "/login", ok("You are signed out."))
    response.delete_cookie(state.config.session_cookie, path="/", secure=state.config.cookie_secure)
    return response


@router.get("/")
def home(request: Request) -> Response:
    """Each role's first page."""
    return redirect(request, home_for(signed_in_user(request)))


@router.get("/account/password")
def password_form(request: Request, user: Annotated[User, Depends(signed_in_user)]) -> Response:
    """Choose a new password."""
    return render(request, "password.html", {"forced": user.must_change_password})


@router.post("/account/password", dependencies=[Depends(csrf_protected)])
def change_password(
    request: Request,
    user: Annotated[User, Depends(signed_in_user)],
    current: Annotated[str, Form(max_length=1000)] = "",
    new: Annotated[str, Form(max_length=1000)] = "",
    confirm: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Set a new password (the current one is checked)."""
    state = dashboard(request)
    error = None
    if new != confirm:
        error = "The two new passwords are not the same."
    else:
        try:
            with state.transaction() as session:
                users.change_password(
                    session,
                    user.id,
                    current,
                    new,
                    source=client_address(request),
                    now=state.now(),
                )
        except InvalidInput as exc:
            error = str(exc)
    if error is not None:
        context = {"forced": user.must_change_password, "error": error}
        return render(request, "password.html", context, status=400)
    return redirect(request, home_for(user), ok("Your password is changed."))
