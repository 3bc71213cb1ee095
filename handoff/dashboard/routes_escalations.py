"""The escalation log and the rule check, for safeguarding leads."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response

from handoff import escalation_review
from handoff.dashboard.web import (
    LEADS,
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
from handoff.escalation_review import OUTCOMES, EscalationFilter
from handoff.models import ESCALATION_STATUSES
from handoff.staff_errors import Forbidden, HandoffError, InvalidInput
from handoff.users import User

router = APIRouter()
Lead = Annotated[User, Depends(requires(*LEADS))]
EscalationId = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{36}$")]
SAFEGUARDING_CATEGORIES = (
    "suicide",
    "self_harm",
    "abuse",
    "sexual_abuse",
    "criminal_exploitation",
    "harm_to_others",
    "eating_disorder",
    "substance_misuse",
    "immediate_danger",
)


def _day(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput("dates look like 2026-11-28") from exc


@router.get("/escalations")
def escalations_page(
    request: Request,
    user: Lead,
    status: Annotated[str, Query(max_length=20)] = "",
    severity: Annotated[int, Query(ge=0, le=5)] = 0,
    category: Annotated[str, Query(max_length=40, pattern=r"^[a-z_]*$")] = "",
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Every escalation, newest first, filtered."""
    state = dashboard(request)
    error = None
    try:
        wanted = EscalationFilter(
            status=status if status in ESCALATION_STATUSES else None,
            min_severity=severity or None,
            category=category or None,
            date_from=_day(date_from),
            date_to=_day(date_to),
        )
    except InvalidInput as exc:
        error, wanted = str(exc), EscalationFilter()
    with state.transaction() as session:
        found = escalation_review.list_log(
            session,
            state.handoff.cipher,
            staff_for(request, user),
            wanted=wanted,
            page=page,
            per_page=state.config.per_page,
        )
        counts = escalation_review.open_counts(session)
    today = state.now().astimezone(ZoneInfo(escalation_review.LOCAL_ZONE)).date()
    return render(
        request,
        "escalations.html",
        {
            "page": found,
            "counts": counts,
            "error": error,
            "params": {
                "status": wanted.status or "",
                "severity": wanted.min_severity or 0,
                "category": wanted.category or "",
                "from": date_from if wanted.date_from else "",
                "to": date_to if wanted.date_to else "",
            },
            "statuses": ESCALATION_STATUSES,
            "categories": SAFEGUARDING_CATEGORIES,
            "export_from": (today - timedelta(days=30)).isoformat(),
            "export_to": today.isoformat(),
        },
        status=400 if error else 200,
    )


@router.get("/escalations/export.csv")
def export_csv(
    request: Request,
    user: Lead,
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    """The log for a date range as CSV (no excerpts, no action text; audited)."""
    state = dashboard(request)
    try:
        start, end = _day(date_from), _day(date_to)
        if start is None or end is None:
            raise InvalidInput("give a start and an end date")
        with state.transaction() as session:
            body = escalation_review.export_csv(
                session,
                state.handoff.cipher,
                staff_for(request, user),
                date_from=start,
                date_to=end,
                now=state.now(),
            )
    except Forbidden:
        raise
    except HandoffError as exc:
        return redirect(request, "/escalations", problem(str(exc)))
    filename = f"escalations-{start.isoformat()}-to-{end.isoformat()}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/escalations/{escalation_id}")
def escalation_page(request: Request, user: Lead, escalation_id: EscalationId) -> Response:
    """One escalation with the triggering excerpt (decrypted here only; the view is audited)."""
    state = dashboard(request)
    with state.transaction() as session:
        detail = escalation_review.open_escalation(
            session,
            state.handoff.cipher,
            staff_for(request, user),
            escalation_id,
            reader=state.reader,
            now=state.now(),
        )
    return render(
        request,
        "escalation.html",
        {"detail": detail, "e": detail.escalation, "outcomes": OUTCOMES},
    )


@router.post("/escalations/{escalation_id}/acknowledge", dependencies=[Depends(csrf_protected)])
def acknowledge(request: Request, user: Lead, escalation_id: EscalationId) -> Response:
    """I have seen it."""
    state = dashboard(request)
    back = f"/escalations/{escalation_id}"
    try:
        with state.transaction() as session:
            escalation_review.acknowledge(
                session,
                state.handoff.cipher,
                staff_for(request, user),
                escalation_id,
                by=user.username,
                now=state.now(),
            )
    except (Forbidden, NotFound):
        raise
    except HandoffError as exc:
        return redirect(request, back, problem(str(exc)))
    return redirect(request, back, ok("Acknowledged."))


@router.post("/escalations/{escalation_id}/close", dependencies=[Depends(csrf_protected)])
def close(
    request: Request,
    user: Lead,
    escalation_id: EscalationId,
    outcome: Annotated[str, Form(max_length=40)] = "",
    action_taken: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Record the action taken and close."""
    state = dashboard(request)
    back = f"/escalations/{escalation_id}"
    try:
        with state.transaction() as session:
            escalation_review.close(
                session,
                state.handoff.cipher,
                staff_for(request, user),
                escalation_id,
                by=user.username,
                outcome=outcome,
                action_taken=action_taken,
                now=state.now(),
            )
    except (Forbidden, NotFound):
        raise
    except HandoffError as exc:
        return redirect(request, back, problem(str(exc)))
    return redirect(request, back, ok("Closed."))


@router.get("/rules")
def rules_page(request: Request, user: Lead) -> Response:
    """The latest result of the safeguarding rules' own check (run now if never run)."""
    state = dashboard(request)
    cache = state.rule_report
    if cache.report is None:
        with cache.lock:
            if cache.report is None:
                cache.report = state.rule_check()
    return render(request, "rules.html", {"report": cache.report})


@router.post("/rules/run", dependencies=[Depends(csrf_protected)])
def run_rules(request: Request, user: Lead) -> Response:
    """Run the check again (one run at a time)."""
    state = dashboard(request)
    cache = state.rule_report
    if not cache.lock.acquire(blocking=False):
        return redirect(request, "/rules", problem("A check is already running."))
    try:
        cache.report = state.rule_check()
    finally:
        cache.lock.release()
    return redirect(request, "/rules", ok("The check has run."))
