"""The queue, my caseload, one referral (notes, contact attempts, transitions, exports) and
the worker caseloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from handoff import export, queue, users
from handoff.dashboard.web import (
    CASE_ROLES,
    OVERSIGHT,
    csrf_protected,
    dashboard,
    ok,
    problem,
    redirect,
    render,
    requires,
    staff_for,
)
from handoff.errors import NotFound
from handoff.notes import ATTEMPT_METHODS, ATTEMPT_RESULTS
from handoff.queue import OUTCOMES, PRIORITY_RANK, QueueFilter, Staff
from handoff.staff_errors import Forbidden, HandoffError
from handoff.users import User

router = APIRouter()
CaseWorker = Annotated[User, Depends(requires(*CASE_ROLES))]
Overseer = Annotated[User, Depends(requires(*OVERSIGHT))]
ReferralId = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{36}$")]
STATUS_CHOICES = {
    "new": ("new",),
    "claimed": ("claimed",),
    "contacted": ("contacted",),
    "open": ("new", "claimed", "contacted"),
    "closed": ("closed",),
    "withdrawn": ("withdrawn",),
}
MESSAGES = {
    "claim": "Claimed.",
    "release": "Back in the queue.",
    "note": "Note added.",
    "attempt": "Contact attempt recorded.",
    "close": "Closed.",
    "withdraw": "Withdrawn.",
    "reassign": "Reassigned.",
}


def _act(
    request: Request,
    back: str,
    done: str,
    action: Callable[[Session], object],
) -> Response:
    """Run one queue action in a transaction; back to the page with what happened.

    Refusals of access and unknown ids are answered as such; anything else the worker can
    fix (a full caseload, a missing note) comes back as a message on the page.
    """
    state = dashboard(request)
    try:
        with state.transaction() as session:
            action(session)
    except (Forbidden, NotFound):
        raise
    except HandoffError as exc:
        return redirect(request, back, problem(str(exc)))
    return redirect(request, back, ok(done))


def _filter_from(status: str, priority: str, category: str, overdue: bool) -> QueueFilter:
    return QueueFilter(
        statuses=STATUS_CHOICES.get(status, ("new",)),
        priority=priority if priority in PRIORITY_RANK else None,
        category=category or None,
        overdue_only=overdue,
    )


@router.get("/queue")
def queue_page(
    request: Request,
    user: CaseWorker,
    status: Annotated[str, Query(max_length=20)] = "new",
    priority: Annotated[str, Query(max_length=20)] = "",
    category: Annotated[str, Query(max_length=40, pattern=r"^[a-z_]*$")] = "",
    overdue: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Referrals waiting, most pressing first (no personal data on this page)."""
    state = dashboard(request)
    now = state.now()
    wanted = _filter_from(status, priority, category, overdue)
    with state.transaction() as session:
        found = queue.list_queue(
            session,
            state.config.queue,
            wanted=wanted,
            page=page,
            per_page=state.config.per_page,
            now=now,
        )
        report = queue.overdue_report(session, state.config.queue, now=now, limit=0)
        names = users.usernames(session)
        mine = len(queue.my_caseload(session, staff_for(request, user), state.config.queue))
    params = {
        "status": status if status in STATUS_CHOICES else "new",
        "priority": wanted.priority or "",
        "category": category,
        "overdue": overdue,
    }
    return render(
        request,
        "queue.html",
        {
            "page": found,
            "report": report,
            "names": names,
            "params": params,
            "statuses": STATUS_CHOICES,
            "priorities": PRIORITY_RANK,
            "mine": mine,
            "cap": state.config.queue.caseload_cap
            if user.caseload_cap is None
            else user.caseload_cap,
            "staff": staff_for(request, user),
            "can_view": queue.can_view,
        },
    )


@router.post("/queue/claim-next", dependencies=[Depends(csrf_protected)])
def claim_next(request: Request, user: CaseWorker) -> Response:
    """Take the most pressing referral waiting."""
    state = dashboard(request)
    staff = staff_for(request, user)
    try:
        with state.transaction() as session:
            referral_id = queue.claim_next(
                session, state.handoff.cipher, staff, state.config.queue, now=state.now()
            )
    except HandoffError as exc:
        return redirect(request, "/queue", problem(str(exc)))
    return redirect(request, f"/referrals/{referral_id}", ok("Claimed: this case is yours now."))


@router.get("/caseload")
def caseload_page(request: Request, user: CaseWorker) -> Response:
    """The open cases I hold."""
    state = dashboard(request)
    with state.transaction() as session:
        items = queue.my_caseload(
            session, staff_for(request, user), state.config.queue, now=state.now()
        )
    cap = state.config.queue.cap_for(user.caseload_cap)
    return render(request, "caseload.html", {"items": items, "cap": cap})


@router.get("/referrals/{referral_id}")
def referral_page(request: Request, user: CaseWorker, referral_id: ReferralId) -> Response:
    """One referral, decrypted (the view is audited)."""
    state = dashboard(request)
    staff = staff_for(request, user)
    with state.transaction() as session:
        view = queue.open_referral(
            session,
            state.handoff.cipher,
            staff,
            referral_id,
            state.config.queue,
            now=state.now(),
        )
        workers = queue.assignable_workers(session)
    return render(
        request,
        "referral.html",
        {
            "view": view,
            "record": view.record,
            "item": view.item,
            "staff": staff,
            "holds": view.item.owner_id == user.id,
            "may_act": staff.is_lead or view.item.owner_id == user.id,
            "workers": workers,
            "methods": ATTEMPT_METHODS,
            "results": ATTEMPT_RESULTS,
            "outcomes": OUTCOMES,
        },
    )


def _staff(request: Request, user: User) -> tuple[Staff, queue.QueuePolicy]:
    return staff_for(request, user), dashboard(request).config.queue


@router.post("/referrals/{referral_id}/claim", dependencies=[Depends(csrf_protected)])
def claim(request: Request, user: CaseWorker, referral_id: ReferralId) -> Response:
    """Claim this referral."""
    staff, policy = _staff(request, user)
    cipher, now = dashboard(request).handoff.cipher, dashboard(request).now()
    return _act(
        request,
        f"/referrals/{referral_id}",
        MESSAGES["claim"],
        lambda s: queue.claim(s, cipher, staff, referral_id, policy, now=now),
    )


@router.post("/referrals/{referral_id}/release", dependencies=[Depends(csrf_protected)])
def release(request: Request, user: CaseWorker, referral_id: ReferralId) -> Response:
    """Give it back to the queue."""
    staff, _ = _staff(request, user)
    cipher, now = dashboard(request).handoff.cipher, dashboard(request).now()
    return _act(
        request,
        "/queue",
        MESSAGES["release"],
        lambda s: queue.release(s, cipher, staff, referral_id, now=now),
    )


@router.post("/referrals/{referral_id}/notes", dependencies=[Depends(csrf_protected)])
def add_note(
    request: Request,
    user: CaseWorker,
    referral_id: ReferralId,
    note: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Add a note."""
    staff, _ = _staff(request, user)
    cipher, now = dashboard(request).handoff.cipher, dashboard(request).now()
    return _act(
        request,
        f"/referrals/{referral_id}#notes",
        MESSAGES["note"],
        lambda s: queue.add_note(s, cipher, staff, referral_id, note, now=now),
    )


@router.post("/referrals/{referral_id}/attempts", dependencies=[Depends(csrf_protected)])
def record_attempt(
    request: Request,
    user: CaseWorker,
    referral_id: ReferralId,
    method: Annotated[str, Form(max_length=20)] = "",
    result: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Record a contact attempt."""
    staff, _ = _staff(request, user)
    cipher, now = dashboard(request).handoff.cipher, dashboard(request).now()
    return _act(
        request,
        f"/referrals/{referral_id}#contact",
        MESSAGES["attempt"],
        lambda s: queue.record_attempt(
            s, cipher, staff, referral_id, method=method, result=result, note=note, now=now
        ),
    )


@router.post("/referrals/{referral_id}/close", dependencies=[Depends(csrf_protected)])
def close(
    request: Request,
    user: CaseWorker,
    referral_id: ReferralId,
    outcome: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Close with an outcome."""
    staff, _ = _staff(request, user)
    cipher, now = dashboard(request).handoff.cipher, dashboard(request).now()
    return _act(
        request,
        f"/referrals/{referral_id}",
        MESSAGES["close"],
        lambda s: queue.close(s, cipher, staff, referral_id, outcome, note=note, now=now),
    )


@router.post("/referrals/{referral_id}/withdraw", dependencies=[Depends(csrf_protected)])
def withdraw(request: Request, user: CaseWorker, referral_id: ReferralId) -> Response:
    """The young person stopped: withdraw."""
    staff, _ = _staff(request, user)
    cipher, now = dashboard(request).handoff.cipher, dashboard(request).now()
    return _act(
        request,
        f"/referrals/{referral_id}",
        MESSAGES["withdraw"],
        lambda s: queue.withdraw(s, cipher, staff, referral_id, now=now),
    )


@router.post("/referrals/{referral_id}/reassign", dependencies=[Depends(csrf_protected)])
def reassign(
    request: Request,
    user: CaseWorker,
    referral_id: ReferralId,
    to_user: Annotated[int, Form(ge=1)] = 0,
) -> Response:
    """Hand the case to another worker."""
    staff, policy = _staff(request, user)
    cipher, now = dashboard(request).handoff.cipher, dashboard(request).now()
    back = f"/referrals/{referral_id}" if staff.is_lead or to_user == user.id else "/caseload"
    return _act(
        request,
        back,
        MESSAGES["reassign"],
        lambda s: queue.reassign(s, cipher, staff, referral_id, to_user, policy, now=now),
    )


@router.get("/referrals/{referral_id}/export.json")
def export_json(request: Request, user: CaseWorker, referral_id: ReferralId) -> Response:
    """The referral as the shared schema's JSON (audited)."""
    state = dashboard(request)
    with state.transaction() as session:
        record, _ = queue.export_record(
            session,
            state.handoff.cipher,
            staff_for(request, user),
            referral_id,
            "json",
            state.config.queue,
            now=state.now(),
        )
    return _download(export.to_json(record), "application/json", f"referral-{referral_id}.json")


@router.get("/referrals/{referral_id}/export.txt")
def export_text(request: Request, user: CaseWorker, referral_id: ReferralId) -> Response:
    """A plain-text summary to paste into a case system (audited)."""
    state = dashboard(request)
    with state.transaction() as session:
        record, item = queue.export_record(
            session,
            state.handoff.cipher,
            staff_for(request, user),
            referral_id,
            "text",
            state.config.queue,
            now=state.now(),
        )
        names = users.usernames(session)
    worker = None if item.owner_id is None else names.get(item.owner_id)
    due = item.due_at if item.status in queue.AWAITING_CONTACT else None
    text = export.to_text(record, due_at=due, worker=worker)
    return _download(text, "text/plain; charset=utf-8", f"referral-{referral_id}.txt")


def _download(body: str, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/caseloads")
def caseloads_page(request: Request, user: Overseer) -> Response:
    """Every worker's caseload, and what is overdue."""
    state = dashboard(request)
    now = state.now()
    with state.transaction() as session:
        loads = queue.caseloads(session, state.config.queue, now=now)
        report = queue.overdue_report(session, state.config.queue, now=now)
        names = users.usernames(session)
    return render(
        request,
        "caseloads.html",
        {"loads": loads, "report": report, "names": names, "may_open": user.role != "admin"},
    )
