"""The safeguarding pager: wakes the on-call lead for a serious escalation, then the next one.

An escalation at or above the threshold (`Settings.escalate_at`) is paged at once to the first
place on the rota, by SMS and/or Telegram. Unacknowledged after `repage_after` (15 minutes by
default), it is paged again, to everyone paged so far and the next place on the rota, and so on
until someone acknowledges it. Pages go through the `pages` outbox with retries and backoff
(a provider's Retry-After is honoured). A page names the severity and the dashboard link only:
nothing about the young person.

`PagerWorker` does all of it in the handoff process; `attach(app, settings)` runs it with the
app. It finds new escalations itself, in the database, wherever they were recorded (the gateway
records them in its own process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Select, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from handoff import pages
from handoff.context import HandoffContext
from handoff.errors import EscalationNotFound
from handoff.models import EscalationRow
from handoff.pager_models import PagingRow
from handoff.pager_rota import RotaSource, RotaTable, contacts_for_round
from handoff.pages import DuePage, Page
from handoff.referrals import utcnow
from handoff.senders import (
    PageSender,
    SendFailed,
    quiet_library_loggers,
    senders_from_settings,
)
from youthlink.config import Settings
from youthlink.crypto import Cipher
from youthlink.errors import ConfigurationError

log = logging.getLogger(__name__)

REPAGE_MINUTES_VARIABLE = "YOUTHLINK_X_PAGER_REPAGE_MINUTES"
# Any fixed number: PostgreSQL advisory lock held while one worker plans rounds.
PLANNING_LOCK_KEY = 7_031_942_119


@dataclass(frozen=True)
class PagerPolicy:
    """When to page, whom, and how hard to try."""

    dashboard_url: str
    threshold: int = 4
    repage_after: timedelta = timedelta(minutes=15)
    # The soonest a round follows the one before when every page of it failed.
    min_round_gap: timedelta = timedelta(minutes=1)
    # How soon to look at the rota again when nobody on it could be paged.
    empty_round_retry: timedelta = timedelta(minutes=1)
    max_attempts: int = 8
    backoff_base: timedelta = timedelta(seconds=2)
    backoff_cap: timedelta = timedelta(minutes=2)
    # A claimed page is retried after this if its worker never reported back.
    lease: timedelta = timedelta(minutes=2)
    send_timeout: float = 30.0
    poll_interval: float = 1.0
    batch: int = 20

    @classmethod
    def from_settings(cls, settings: Settings) -> PagerPolicy:
        """The policy of a deployment: threshold, dashboard address and re-page delay."""
        raw = settings.extra.get(REPAGE_MINUTES_VARIABLE, "15").strip()
        try:
            minutes = float(raw)
        except ValueError as exc:
            raise ConfigurationError(f"{REPAGE_MINUTES_VARIABLE} must be a number") from exc
        if minutes <= 0:
            raise ConfigurationError(f"{REPAGE_MINUTES_VARIABLE} must be more than 0")
        return cls(
            dashboard_url=(settings.public_url or settings.handoff_url).rstrip("/"),
            threshold=settings.escalate_at,
            repage_after=timedelta(minutes=minutes),
        )


@dataclass(frozen=True)
class Pager:
    """What paging needs: the cipher for addresses, the rota, the policy and the channels."""

    cipher: Cipher
    rota: RotaSource
    policy: PagerPolicy
    channels: frozenset[str] = frozenset({"sms", "telegram"})


# -- pure rules ----------------------------------------------------------------------------------


def page_text(
    *, severity: int, escalation_id: str, dashboard_url: str, round_: int, waited: timedelta
) -> str:
    """The page: severity, how long it has waited, the dashboard link. Nothing personal."""
    link = f"{dashboard_url}/escalations/{escalation_id}"
    if round_ == 0:
        return f"YouthLink: new severity-{severity} escalation. Open the dashboard: {link}"
    minutes = max(1, int(waited.total_seconds() // 60))
    return (
        f"YouthLink reminder {round_}: severity-{severity} escalation unacknowledged "
        f"for {minutes} min: {link}"
    )


def backoff(attempt: int, policy: PagerPolicy) -> timedelta:
    """The wait after failed attempt number `attempt` (1, 2, ...): doubling, capped."""
    return min(policy.backoff_base * 2 ** max(0, attempt - 1), policy.backoff_cap)


def retry_delay(failure: SendFailed, attempt: int, policy: PagerPolicy) -> timedelta | None:
    """How long to wait before trying a page again; None to give it up."""
    if failure.permanent or attempt >= policy.max_attempts:
        return None
    if failure.retry_after is not None:
        # The provider's own wait, but never past the next round of pages.
        return min(timedelta(seconds=max(0.0, failure.retry_after)), policy.repage_after)
    return backoff(attempt, policy)


# -- the store side ------------------------------------------------------------------------------


def lock_paging(session: Session, *, wait: bool = True) -> bool:
    """Serialise paging decisions across processes until the transaction ends.

    PostgreSQL takes a transaction-scoped advisory lock (`wait=False`: only if free, returning
    whether it was); SQLite takes its database-wide write lock.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        taken = session.scalar(text(f"SELECT {function}(:key)"), {"key": PLANNING_LOCK_KEY})
        return True if wait else bool(taken)
    if dialect == "sqlite":
        pages.write_lock(session, "escalation_paging", "rounds")
    return True


def _start_round(
    session: Session, state: PagingRow, escalation: EscalationRow, pager: Pager, now: datetime
) -> int:
    """Enqueue the pages of the next round; how many."""
    round_ = state.rounds
    body = page_text(
        severity=escalation.severity,
        escalation_id=escalation.escalation_id,
        dashboard_url=pager.policy.dashboard_url,
        round_=round_,
        waited=now - escalation.created_at,
    )
    count = 0
    for contact in contacts_for_round(pager.rota.on_call(session), round_):
        for channel, address in sorted(contact.addresses.items()):
            if channel not in pager.channels or not address:
                continue
            pages.enqueue(
                session,
                pager.cipher,
                escalation_id=escalation.escalation_id,
                round_=round_,
                contact_ref=contact.ref,
                channel=channel,
                address=address,
                body=body,
                now=now,
            )
            count += 1
    state.rounds = round_ + 1
    state.last_round_at = now
    if count:
        state.next_round_at = now + pager.policy.repage_after
        log.info(
            "escalation %s: round %d, %d page(s) queued", escalation.escalation_id, round_, count
        )
    else:
        state.next_round_at = now + pager.policy.empty_round_retry
        log.error(
            "escalation %s: nobody on the rota can be paged (round %d)",
            escalation.escalation_id,
            round_,
        )
    session.flush()
    return count


def page_for_escalation(
    session: Session, escalation_id: str, pager: Pager, *, now: datetime | None = None
) -> list[Page]:
    """Page the first place on the rota for an open escalation at or above the threshold.

    Idempotent: an escalation already being paged gets no new pages. Returns the
    escalation's pages (none when it is below the threshold or no longer open).
    """
    now = now or utcnow()
    lock_paging(session)
    escalation = session.get(EscalationRow, escalation_id)
    if escalation is None:
        raise EscalationNotFound()
    if session.get(PagingRow, escalation_id) is not None:
        return pages.pages_for_escalation(session, escalation_id)
    if escalation.severity < pager.policy.threshold or escalation.status != "open":
        return []
    state = PagingRow(
        escalation_id=escalation_id,
        severity=escalation.severity,
        rounds=0,
        started_at=now,
        last_round_at=now,
        next_round_at=now,
    )
    session.add(state)
    session.flush()
    _start_round(session, state, escalation, pager, now)
    return pages.pages_for_escalation(session, escalation_id)


def _unpaged(threshold: int) -> Select[str]:
    return (
        select(EscalationRow.escalation_id)
        .outerjoin(PagingRow, PagingRow.escalation_id == EscalationRow.escalation_id)
        .where(
            PagingRow.escalation_id.is_(None),
            EscalationRow.status == "open",
            EscalationRow.severity >= threshold,
        )
        .order_by(EscalationRow.created_at, EscalationRow.escalation_id)
    )


def _answered() -> Select[PagingRow, str]:
    return (
        select(PagingRow, EscalationRow.status)
        .join(EscalationRow, EscalationRow.escalation_id == PagingRow.escalation_id)
        .where(PagingRow.next_round_at.is_not(None), EscalationRow.status != "open")
    )


def _due_rounds(now: datetime) -> Select[PagingRow, EscalationRow]:
    return (
        select(PagingRow, EscalationRow)
        .join(EscalationRow, EscalationRow.escalation_id == PagingRow.escalation_id)
        .where(PagingRow.next_round_at <= now, EscalationRow.status == "open")
        .order_by(PagingRow.next_round_at)
    )


def planning_due(session: Session, pager: Pager, now: datetime) -> bool:
    """Whether an escalation waits to be paged, re-paged or stopped (reads only, no lock)."""
    return any(
        session.execute(query.limit(1)).first() is not None
        for query in (_unpaged(pager.policy.threshold), _answered(), _due_rounds(now))
    )


def page_new_escalations(
    session: Session, pager: Pager, *, now: datetime, limit: int = 50
) -> list[str]:
    """Start paging every open escalation at or above the threshold that is not paged yet."""
    lock_paging(session)
    started = list(session.scalars(_unpaged(pager.policy.threshold).limit(limit)))
    for escalation_id in started:
        page_for_escalation(session, escalation_id, pager, now=now)
    return started


def stop_answered(session: Session, *, now: datetime) -> list[str]:
    """Stop paging escalations someone acknowledged or closed; cancel their unsent pages."""
    stopped = []
    for state, status in session.execute(_answered()).all():
        state.next_round_at = None
        state.stopped_at = now
        state.stopped_because = status
        cancelled = pages.cancel_pending(session, state.escalation_id, now=now)
        log.info(
            "escalation %s %s: paging stopped, %d page(s) cancelled",
            state.escalation_id,
            status,
            cancelled,
        )
        stopped.append(state.escalation_id)
    session.flush()
    return stopped


def escalate_unacknowledged(session: Session, now: datetime, pager: Pager) -> list[str]:
    """Re-page every escalation still open when its next round is due; their ids.

    Each re-page goes to everyone paged so far and the next place on the rota. Escalations
    acknowledged or closed meanwhile are stopped instead, and never re-paged.
    """
    lock_paging(session)
    stop_answered(session, now=now)
    query = _due_rounds(now).with_for_update(skip_locked=True, of=PagingRow)
    repaged = []
    for state, escalation in session.execute(query).all():
        _start_round(session, state, escalation, pager, now)
        repaged.append(escalation.escalation_id)
    return repaged


@dataclass(frozen=True)
class Outcome:
    """What came of one delivery attempt."""

    page: DuePage
    provider_id: str | None = None
    failure: SendFailed | None = field(default=None, repr=False)


def record_outcome(session: Session, outcome: Outcome, pager: Pager, now: datetime) -> str:
    """Store what came of an attempt; the page's status afterwards."""
    page = outcome.page
    if outcome.failure is None:
        pages.mark_sent(session, page.page_id, provider_id=outcome.provider_id or "", now=now)
        log.info(
            "page %s sent: escalation %s, round %d, %s, attempt %d",
            page.page_id,
            page.escalation_id,
            page.round,
            page.channel,
            page.attempt,
        )
        return "sent"
    failure = outcome.failure
    delay = retry_delay(failure, page.attempt, pager.policy)
    if delay is not None:
        pages.retry_later(session, page.page_id, reason=failure.reason, at=now + delay)
        log.warning(
            "page %s attempt %d failed (%s): retry in %.0fs",
            page.page_id,
            page.attempt,
            failure.reason,
            delay.total_seconds(),
        )
        return "pending"
    pages.mark_failed(session, page.page_id, reason=failure.reason, now=now)
    log.error(
        "page %s failed for good after %d attempt(s) (%s): escalation %s",
        page.page_id,
        page.attempt,
        failure.reason,
        page.escalation_id,
    )
    _bring_next_round_forward(session, page, pager, now)
    return "failed"


def _bring_next_round_forward(session: Session, page: DuePage, pager: Pager, now: datetime) -> None:
    """When nobody in the latest round can be reached any more, page the next place soon."""
    state = session.get(PagingRow, page.escalation_id)
    if state is None or state.next_round_at is None or page.round != state.rounds - 1:
        return
    if pages.live_in_round(session, page.escalation_id, page.round):
        return
    soonest = max(now, state.last_round_at + pager.policy.min_round_gap)
    if soonest < state.next_round_at:
        state.next_round_at = soonest
        log.warning(
            "escalation %s: every page of round %d failed, next round brought forward",
            page.escalation_id,
            page.round,
        )
    session.flush()


# -- the worker ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PassReport:
    """What one pass of the worker did."""

    started: tuple[str, ...] = ()
    repaged: tuple[str, ...] = ()
    attempted: int = 0
    sent: int = 0
    failed: int = 0


class PagerWorker:
    """Delivers due pages and runs the paging rounds, every `poll_interval` or when woken.

    Database work runs in threads and sending is asynchronous, so the event loop it shares
    (e.g. the handoff API's) is never blocked.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        pager: Pager,
        senders: Mapping[str, PageSender],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.pager = pager
        self.senders = dict(senders)
        self.clock = clock
        self._wake = asyncio.Event()
        self._stopping = False

    @property
    def policy(self) -> PagerPolicy:
        return self.pager.policy

    def wake(self) -> None:
        """Run a pass now (e.g. right after recording an escalation in this process)."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the current pass, then leave `run`."""
        self._stopping = True
        self._wake.set()

    async def aclose(self) -> None:
        """Close the senders' connections."""
        for sender in self.senders.values():
            with contextlib.suppress(Exception):
                await sender.aclose()

    async def run(self) -> None:
        """Pass after pass until `stop()`; a failing pass is logged and retried."""
        self._stopping = False
        log.info("pager running: channels %s", ",".join(sorted(self.senders)) or "none")
        while not self._stopping:
            busy = False
            try:
                report = await self.run_once()
                busy = report.attempted >= self.policy.batch
            except Exception as exc:  # the type only: messages can carry values
                log.error("pager pass failed: %s", type(exc).__name__)
            if busy or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.policy.poll_interval)
            self._wake.clear()
        log.info("pager stopped")

    async def run_once(self) -> PassReport:
        """Start and re-page rounds that are due, then attempt every page that is due."""
        started, repaged = await asyncio.to_thread(self._plan, self.clock())
        due = await asyncio.to_thread(self._claim, self.clock())
        outcomes = await asyncio.gather(*(self._deliver(page) for page in due))
        statuses = await asyncio.to_thread(self._record, outcomes)
        return PassReport(
            started=tuple(started),
            repaged=tuple(repaged),
            attempted=len(outcomes),
            sent=statuses.count("sent"),
            failed=statuses.count("failed"),
        )

    def _plan(self, now: datetime) -> tuple[list[str], list[str]]:
        try:
            with self.sessions.begin() as session:
                # Look before locking: an idle pager never takes SQLite's write lock.
                if not planning_due(session, self.pager, now):
                    return [], []
                if not lock_paging(session, wait=False):
                    return [], []
                started = page_new_escalations(session, self.pager, now=now)
                repaged = escalate_unacknowledged(session, now, self.pager)
                return started, repaged
        except IntegrityError:
            log.warning("pager: another worker planned the same round; trying again")
            return [], []

    def _claim(self, now: datetime) -> list[DuePage]:
        with self.sessions.begin() as session:
            if not pages.any_due(session, now):
                return []
            return pages.claim_due(
                session,
                self.pager.cipher,
                now=now,
                lease=self.policy.lease,
                limit=self.policy.batch,
            )

    async def _deliver(self, page: DuePage) -> Outcome:
        sender = self.senders.get(page.channel)
        if sender is None:
            return Outcome(page, failure=SendFailed(f"{page.channel}:no_sender", permanent=True))
        try:
            provider_id = await asyncio.wait_for(
                sender.send(page.address, page.body), self.policy.send_timeout
            )
        except SendFailed as failure:
            return Outcome(page, failure=failure)
        except TimeoutError:
            return Outcome(page, failure=SendFailed(f"{page.channel}:timeout"))
        except Exception as exc:  # a sender bug must not lose the page
            return Outcome(page, failure=SendFailed(f"{page.channel}:{type(exc).__name__}"))
        return Outcome(page, provider_id=provider_id)

    def _record(self, outcomes: Sequence[Outcome]) -> list[str]:
        statuses = []
        for outcome in outcomes:
            # One transaction each: a page that went is recorded even if another one fails to.
            with self.sessions.begin() as session:
                statuses.append(record_outcome(session, outcome, self.pager, self.clock()))
        return statuses


def attach(
    app: FastAPI,
    settings: Settings,
    *,
    rota: RotaSource | None = None,
    senders: Mapping[str, PageSender] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> PagerWorker | None:
    """Run a `PagerWorker` for as long as the handoff app (`create_app`) runs.

    Senders come from the settings (Twilio and/or Telegram credentials) unless given; with none
    there is nothing to page with, and None is returned. The rota is the `rota_entries` table
    unless given. The worker is also at `app.state.pager`.
    """
    context: HandoffContext = app.state.handoff
    quiet_library_loggers()
    chosen = dict(senders) if senders is not None else senders_from_settings(settings)
    if not chosen:
        log.warning("pager off: no Twilio or Telegram credentials, leads will not be paged")
        app.state.pager = None
        return None
    pager = Pager(
        cipher=context.cipher,
        rota=rota if rota is not None else RotaTable(context.cipher),
        policy=PagerPolicy.from_settings(settings),
        channels=frozenset(chosen),
    )
    worker = PagerWorker(context.sessions, pager, chosen, clock=clock)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        async with inner(app_) as state:
            task = asyncio.create_task(worker.run(), name="pager")
            try:
                yield state
            finally:
                worker.stop()
                await task
                await worker.aclose()

    app.router.lifespan_context = lifespan
    app.state.pager = worker
    return worker
