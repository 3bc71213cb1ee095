"""Admin pages: users, the on-call rota and the settings in force."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from handoff import audit, rota, users
from handoff.dashboard.web import (
    ADMINS,
    client_address,
    csrf_protected,
    dashboard,
    ok,
    problem,
    redirect,
    render,
    requires,
)
from handoff.errors import NotFound
from handoff.models import ROLES
from handoff.queue import PRIORITY_RANK
from handoff.staff_errors import Forbidden, HandoffError
from handoff.users import ROLE_NAMES, User

router = APIRouter()
Admin = Annotated[User, Depends(requires(*ADMINS))]
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]
EntryId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _act(request: Request, back: str, done: str, action: Callable[[Session], object]) -> Response:
    state = dashboard(request)
    try:
        with state.transaction() as session:
            action(session)
    except (Forbidden, NotFound):
        raise
    except HandoffError as exc:
        return redirect(request, back, problem(str(exc)))
    return redirect(request, back, ok(done))


@router.get("/users")
def users_page(request: Request, user: Admin) -> Response:
    """Everyone who can sign in."""
    state = dashboard(request)
    with state.transaction() as session:
        everyone = users.list_users(session)
    return render(
        request,
        "users.html",
        {
            "people": everyone,
            "roles": ROLES,
            "role_names": ROLE_NAMES,
            "default_cap": state.config.queue.caseload_cap,
        },
    )


def _one_time(request: Request, person: User, password: str, *, created: bool) -> Response:
    # Shown once, on this response only: never stored or sent anywhere else.
    return render(
        request,
        "one_time_password.html",
        {"person": person, "password": password, "created": created},
    )


@router.post("/users", dependencies=[Depends(csrf_protected)])
def add_user(
    request: Request,
    user: Admin,
    username: Annotated[str, Form(max_length=100)] = "",
    role: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Add an account; show its one-time password once."""
    state = dashboard(request)
    try:
        with state.transaction() as session:
            person, password = users.create_user(
                session,
                username,
                role,
                actor=user.actor,
                source=client_address(request),
                now=state.now(),
            )
    except HandoffError as exc:
        return redirect(request, "/users", problem(str(exc)))
    return _one_time(request, person, password, created=True)


@router.post("/users/{user_id}/reset-password", dependencies=[Depends(csrf_protected)])
def reset_password(request: Request, user: Admin, user_id: UserId) -> Response:
    """A new one-time password (signs them out everywhere, unlocks the account)."""
    state = dashboard(request)
    with state.transaction() as session:
        password = users.reset_password(
            session, user_id, actor=user.actor, source=client_address(request), now=state.now()
        )
        person = users.get_user(session, user_id)
    return _one_time(request, person, password, created=False)


@router.post("/users/{user_id}/role", dependencies=[Depends(csrf_protected)])
def set_role(
    request: Request,
    user: Admin,
    user_id: UserId,
    role: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Change someone's role."""
    state, source = dashboard(request), client_address(request)
    return _act(
        request,
        "/users",
        "Role changed.",
        lambda s: users.set_role(
            s, user_id, role, actor=user.actor, source=source, now=state.now()
        ),
    )


@router.post("/users/{user_id}/cap", dependencies=[Depends(csrf_protected)])
def set_cap(
    request: Request,
    user: Admin,
    user_id: UserId,
    cap: Annotated[str, Form(max_length=5, pattern=r"^\d*$")] = "",
) -> Response:
    """Set someone's caseload cap (empty: the default)."""
    state, source = dashboard(request), client_address(request)
    value = int(cap) if cap else None
    return _act(
        request,
        "/users",
        "Caseload cap saved.",
        lambda s: users.set_caseload_cap(
            s, user_id, value, actor=user.actor, source=source, now=state.now()
        ),
    )


@router.post("/users/{user_id}/deactivate", dependencies=[Depends(csrf_protected)])
def deactivate(request: Request, user: Admin, user_id: UserId) -> Response:
    """Stop someone signing in (ends their sessions at once)."""
    state, source = dashboard(request), client_address(request)
    if user_id == user.id:
        return redirect(request, "/users", problem("You cannot deactivate yourself."))
    return _act(
        request,
        "/users",
        "Deactivated.",
        lambda s: users.set_active(
            s, user_id, False, actor=user.actor, source=source, now=state.now()
        ),
    )


@router.post("/users/{user_id}/activate", dependencies=[Depends(csrf_protected)])
def activate(request: Request, user: Admin, user_id: UserId) -> Response:
    """Let someone sign in again."""
    state, source = dashboard(request), client_address(request)
    return _act(
        request,
        "/users",
        "Activated.",
        lambda s: users.set_active(
            s, user_id, True, actor=user.actor, source=source, now=state.now()
        ),
    )


@router.get("/rota")
def rota_page(request: Request, user: Admin) -> Response:
    """The order in which safeguarding leads are paged (contacts masked; the view audited)."""
    state = dashboard(request)
    with state.transaction() as session:
        entries = rota.list_entries(session, state.handoff.cipher)
        leads = [
            p for p in users.list_users(session) if p.active and p.role == users.SAFEGUARDING_LEAD
        ]
        audit.record(
            session,
            actor=user.actor,
            action="rota.viewed",
            record_type="rota",
            source=client_address(request),
            detail={"entries": len(entries)},
            now=state.now(),
        )
    return render(
        request,
        "rota.html",
        {"entries": entries, "leads": leads, "mask": rota.mask},
    )


@router.post("/rota", dependencies=[Depends(csrf_protected)])
def add_rota_entry(
    request: Request,
    user: Admin,
    lead: Annotated[int, Form(ge=1)] = 0,
    phone: Annotated[str, Form(max_length=40)] = "",
    telegram_chat: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Add a lead to the end of the rota."""
    state, source = dashboard(request), client_address(request)
    cipher = state.handoff.cipher
    return _act(
        request,
        "/rota",
        "Added to the rota.",
        lambda s: rota.add_entry(
            s,
            cipher,
            lead,
            phone=phone,
            telegram_chat=telegram_chat,
            actor=user.actor,
            source=source,
            now=state.now(),
        ),
    )


@router.post("/rota/{entry_id}/{change}", dependencies=[Depends(csrf_protected)])
def change_rota_entry(
    request: Request,
    user: Admin,
    entry_id: EntryId,
    change: Annotated[str, Path(pattern=r"^(up|down|pause|resume|remove)$")],
) -> Response:
    """Move, pause, resume or remove a rota entry."""
    state, source = dashboard(request), client_address(request)
    now = state.now()

    def apply(session: Session) -> None:
        if change in ("up", "down"):
            step = -1 if change == "up" else 1
            rota.move(session, entry_id, step, actor=user.actor, source=source, now=now)
        elif change in ("pause", "resume"):
            rota.set_active(
                session, entry_id, change == "resume", actor=user.actor, source=source, now=now
            )
        else:
            rota.remove(session, entry_id, actor=user.actor, source=source, now=now)

    return _act(request, "/rota", "Rota updated.", apply)


@router.get("/settings")
def settings_page(request: Request, user: Admin) -> Response:
    """The targets, caps and security settings in force (read-only)."""
    state = dashboard(request)
    config = state.config
    targets = [
        (priority, config.queue.target(priority).total_seconds() / 3600)
        for priority in PRIORITY_RANK
    ]
    return render(
        request,
        "settings.html",
        {
            "config": config,
            "targets": targets,
            "hours": config.queue.hours,
            "escalate_at": state.handoff.settings.escalate_at,
            "claim_expiry_hours": config.queue.claim_expiry.total_seconds() / 3600,
            "idle_minutes": int(config.sessions.idle.total_seconds() // 60),
            "lifetime_hours": config.sessions.lifetime.total_seconds() / 3600,
            "lock_minutes": int(config.lockout.lock_for.total_seconds() // 60),
        },
    )
