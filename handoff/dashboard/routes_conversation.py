"""Talking with the young person: the conversation page, taking over from the bot, replying
and handing back (through the gateway; see `handoff.takeover`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response

from handoff import takeover, users
from handoff.dashboard.web import (
    CASE_ROLES,
    csrf_protected,
    dashboard,
    ok,
    problem,
    redirect,
    render,
    requires,
    staff_for,
)
from handoff.gateway_client import GatewayClient, GatewayError, GatewayUnsure
from handoff.users import User

router = APIRouter()
CaseWorker = Annotated[User, Depends(requires(*CASE_ROLES))]
ReferralId = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{36}$")]
REFRESH_SECONDS = 10
MAX_MESSAGE_CHARS = 1600


def _page(referral_id: str, anchor: str = "") -> str:
    return f"/referrals/{referral_id}/conversation{anchor}"


def _gateway(request: Request) -> GatewayClient:
    return GatewayClient.from_settings(dashboard(request).handoff.settings)


@router.get("/referrals/{referral_id}/conversation")
def conversation_page(
    request: Request,
    user: CaseWorker,
    referral_id: ReferralId,
    auto: Annotated[bool, Query()] = False,
    latest: Annotated[bool, Query()] = False,
) -> Response:
    """The conversation with the young person, newest at the bottom (the view is audited).

    `?latest=1` comes back here scrolled to the newest message: a link to the page itself with
    only a `#fragment` would scroll without fetching what arrived since.
    """
    if latest:
        return redirect(request, _page(referral_id, ("?auto=1" if auto else "") + "#latest"))
    state = dashboard(request)
    staff = staff_for(request, user)
    cipher = state.handoff.cipher
    with state.transaction() as session:
        case = takeover.open_case(session, staff, referral_id, to_talk=False)
        view = takeover.read_conversation(session, cipher, case.conversation_id)
        safe = takeover.safe_to_contact(session, cipher, referral_id)
        names = users.usernames(session)
        takeover.record(
            session,
            staff,
            takeover.VIEWED,
            case,
            state.now(),
            {"messages": 0 if view is None else len(view.lines)},
        )
    refreshing = auto and view is not None and view.paused
    response = render(
        request,
        "conversation.html",
        {
            "case": case,
            "view": view,
            "safe_to_contact": safe,
            "names": names,
            "refreshing": refreshing,
            "refresh_seconds": REFRESH_SECONDS,
            "max_chars": MAX_MESSAGE_CHARS,
        },
    )
    if refreshing:
        # Scripts are not allowed on these pages; the browser reloads it by itself.
        again = _page(referral_id, "?auto=1&latest=1")
        response.headers["Refresh"] = f"{REFRESH_SECONDS}; url={again}"
    return response


@router.post(
    "/referrals/{referral_id}/conversation/takeover", dependencies=[Depends(csrf_protected)]
)
def take_over(request: Request, user: CaseWorker, referral_id: ReferralId) -> Response:
    """Pause the bot: the young person's messages come here until handed back."""
    state = dashboard(request)
    staff = staff_for(request, user)
    with state.transaction() as session:
        case = takeover.open_case(session, staff, referral_id)
    try:
        standing = _gateway(request).take_over(case.conversation_id)
    except GatewayError as exc:
        return redirect(request, _page(referral_id), problem(str(exc)))
    with state.transaction() as session:
        takeover.record(
            session, staff, takeover.TAKEN_OVER, case, state.now(), {"rasa": standing.rasa}
        )
    message = "You have the conversation: the bot is paused."
    if standing.rasa_pending:
        message += (
            " The bot's server has not confirmed yet; the gateway keeps trying. Their"
            " messages come to you either way."
        )
    return redirect(request, _page(referral_id, "#reply"), ok(message))


@router.post(
    "/referrals/{referral_id}/conversation/messages", dependencies=[Depends(csrf_protected)]
)
def send_message(
    request: Request,
    user: CaseWorker,
    referral_id: ReferralId,
    text: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Send a message to the young person through the channel they use."""
    state = dashboard(request)
    staff = staff_for(request, user)
    back = _page(referral_id, "#reply")
    with state.transaction() as session:
        case = takeover.open_case(session, staff, referral_id)
    text = text.strip()
    if not text:
        return redirect(request, back, problem("Write a message first."))
    if len(text) > MAX_MESSAGE_CHARS:
        return redirect(
            request, back, problem(f"Messages can be at most {MAX_MESSAGE_CHARS} characters.")
        )
    try:
        ids = _gateway(request).send(case.conversation_id, text, staff.actor)
    except GatewayUnsure as exc:
        with state.transaction() as session:
            takeover.record(
                session, staff, takeover.MESSAGE_SENT, case, state.now(), {"confirmed": False}
            )
        return redirect(request, back, problem(str(exc)))
    except GatewayError as exc:
        return redirect(request, back, problem(str(exc)))
    with state.transaction() as session:
        takeover.record(
            session,
            staff,
            takeover.MESSAGE_SENT,
            case,
            state.now(),
            {"confirmed": True, "outbox_ids": ids},
        )
    return redirect(request, back, ok("Message sent."))


@router.post(
    "/referrals/{referral_id}/conversation/handback", dependencies=[Depends(csrf_protected)]
)
def hand_back(request: Request, user: CaseWorker, referral_id: ReferralId) -> Response:
    """Give the conversation back to the bot."""
    state = dashboard(request)
    staff = staff_for(request, user)
    with state.transaction() as session:
        case = takeover.open_case(session, staff, referral_id, to_talk=False)
    try:
        standing = _gateway(request).hand_back(case.conversation_id)
    except GatewayError as exc:
        return redirect(request, _page(referral_id), problem(str(exc)))
    with state.transaction() as session:
        takeover.record(
            session,
            staff,
            takeover.HANDED_BACK,
            case,
            state.now(),
            {"rasa": standing.rasa, "complete": not standing.paused},
        )
    if standing.paused:
        return redirect(
            request,
            _page(referral_id),
            problem(
                "Handing back: the bot's server has not confirmed yet, so their messages still"
                " come here. The gateway keeps trying and hands back as soon as it answers."
            ),
        )
    return redirect(request, _page(referral_id), ok("Handed back to the bot."))
