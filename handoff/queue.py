"""The link-worker queue: every status change of a referral, each one transaction, each audited.

    new ──claim──> claimed ──contact reached──> contacted ──close(outcome)──> closed
     ^               │ │                            │
     └──release/expiry┘ └──────────close────────────┘      any open one ──> withdrawn

Urgent referrals come first, then priority, then routine; oldest first within each. Each
priority has a target time to first contact counted in working hours; a referral not yet
contacted past its due time is overdue. Claiming takes the next referral with one statement
(`FOR UPDATE SKIP LOCKED` on PostgreSQL), up to each worker's caseload cap; a claim nobody
touches for a while goes back to the queue.

Only what the young person finished (`submitted`) reaches link workers; a referral created
early by a safeguarding escalation, without their consent to share, is for safeguarding leads.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    cast,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from handoff import audit, notes, referrals, users
from handoff.errors import InvalidTransition, ReferralNotFound
from handoff.escalations import Escalation
from handoff.models import EscalationRow, ReferralRow, UserRow
from handoff.notes import ContactAttempt, Note
from handoff.referrals import decrypt_record, rows_for_conversation, store_record
from handoff.staff_errors import CaseloadFull, Forbidden, InvalidInput, NothingToClaim
from handoff.users import LINK_WORKER, SAFEGUARDING_LEAD, User
from handoff.workhours import WorkingHours
from youthlink.crypto import Cipher

log = logging.getLogger(__name__)

PRIORITY_RANK = {"urgent": 0, "priority": 1, "routine": 2}
DEFAULT_TARGETS = {
    "urgent": timedelta(hours=4),
    "priority": timedelta(hours=16),  # 2 working days of 8 hours
    "routine": timedelta(hours=40),  # 5 working days
}
OUTCOMES = {
    "connected_to_activity": "Connected to an activity",
    "signposted_elsewhere": "Signposted elsewhere",
    "no_response": "No response after 3 attempts",
    "declined": "Declined",
    "moved_away": "Moved away",
    "other": "Other (see note)",
}
NO_RESPONSE_ATTEMPTS = 3
AWAITING_CONTACT = ("new", "claimed")
HELD = ("claimed", "contacted")
OPEN = ("new", "claimed", "contacted")
TRANSITIONS = frozenset(
    {
        ("new", "claimed"),
        ("claimed", "new"),
        ("claimed", "contacted"),
        ("claimed", "closed"),
        ("contacted", "closed"),
        ("new", "withdrawn"),
        ("claimed", "withdrawn"),
        ("contacted", "withdrawn"),
    }
)
CASE_ROLES = (LINK_WORKER, SAFEGUARDING_LEAD)
_SLUG = re.compile(r"^[a-z_]{1,40}$")
STALE_BATCH = 100


@dataclass(frozen=True)
class QueuePolicy:
    """Targets, working hours, claim expiry and the default caseload cap."""

    targets: Mapping[str, timedelta] = field(default_factory=lambda: dict(DEFAULT_TARGETS))
    hours: WorkingHours = field(default_factory=WorkingHours)
    claim_expiry: timedelta = timedelta(hours=4)
    caseload_cap: int = 15

    def target(self, priority: str) -> timedelta:
        """Time to first contact for a priority (working time)."""
        return self.targets.get(priority, DEFAULT_TARGETS["routine"])

    def due(self, created_at: datetime, priority: str) -> datetime:
        """When first contact is due for a referral created at `created_at`."""
        return self.hours.due(created_at, self.target(priority))

    def cap_for(self, user_cap: int | None) -> int:
        """A worker's cap: their own if set, else the default."""
        return self.caseload_cap if user_cap is None else user_cap


@dataclass(frozen=True)
class Staff:
    """Who is acting, in what role, and from where (for the audit log)."""

    user_id: int
    role: str
    source: str | None = None

    @classmethod
    def of(cls, user: User, source: str | None = None) -> Staff:
        """The acting member of staff for a signed-in user."""
        return cls(user.id, user.role, source)

    @property
    def actor(self) -> str:
        """The audit actor code."""
        return audit.user_actor(self.user_id)

    @property
    def is_lead(self) -> bool:
        """Safeguarding leads see and may act on every referral."""
        return self.role == SAFEGUARDING_LEAD

    @property
    def works_cases(self) -> bool:
        """Whether this role works referrals at all (admins do not)."""
        return self.role in CASE_ROLES


@dataclass(frozen=True)
class QueueItem:
    """One referral as the queue shows it: clear columns only, nothing personal."""

    referral_id: str
    status: str
    priority: str
    created_at: datetime
    due_at: datetime
    overdue: bool
    submitted: bool
    flagged: bool
    highest_severity: int
    age_band: str
    channel: str
    flags: tuple[str, ...]
    interest_categories: tuple[str, ...]
    concern_categories: tuple[str, ...]
    owner_id: int | None
    claimed_at: datetime | None
    touched_at: datetime | None
    first_contact_at: datetime | None
    closed_at: datetime | None
    outcome: str | None

    @classmethod
    def from_row(cls, row: ReferralRow, policy: QueuePolicy, now: datetime) -> QueueItem:
        """From a stored row; due time and overdue flag computed for `now`."""
        due_at = policy.due(row.created_at, row.priority)
        return cls(
            referral_id=row.referral_id,
            status=row.status,
            priority=row.priority,
            created_at=row.created_at,
            due_at=due_at,
            overdue=row.status in AWAITING_CONTACT and now > due_at,
            submitted=row.submitted,
            flagged=row.flagged,
            highest_severity=row.highest_severity,
            age_band=row.age_band,
            channel=row.channel,
            flags=tuple(row.flags or ()),
            interest_categories=tuple(row.interest_categories or ()),
            concern_categories=tuple(row.concern_categories or ()),
            owner_id=row.owner_id,
            claimed_at=row.claimed_at,
            touched_at=row.touched_at,
            first_contact_at=row.first_contact_at,
            closed_at=row.closed_at,
            outcome=row.outcome,
        )

    @property
    def for_leads_only(self) -> bool:
        """Created early by an escalation: the young person has not finished or consented."""
        return not self.submitted


@dataclass(frozen=True)
class QueueFilter:
    """What the queue page shows."""

    statuses: tuple[str, ...] = ("new",)
    priority: str | None = None
    overdue_only: bool = False
    category: str | None = None
    owner_id: int | None = None
    flagged_only: bool = False


@dataclass(frozen=True)
class Page:
    """One page of queue items."""

    items: tuple[QueueItem, ...]
    number: int
    pages: int
    total: int


@dataclass(frozen=True)
class Caseload:
    """How many open cases one worker holds, against their cap."""

    user_id: int
    username: str
    role: str
    claimed: int
    contacted: int
    overdue: int
    cap: int

    @property
    def open_cases(self) -> int:
        """Claimed plus contacted."""
        return self.claimed + self.contacted

    @property
    def full(self) -> bool:
        """Whether claims are refused for now."""
        return self.open_cases >= self.cap


@dataclass(frozen=True)
class OverdueReport:
    """Referrals past their first-contact target, by priority, most pressing first."""

    counts: Mapping[str, int]
    items: tuple[QueueItem, ...]

    @property
    def total(self) -> int:
        """All overdue referrals."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class ReferralView:
    """Everything the referral page shows; `record` holds the decrypted personal fields."""

    item: QueueItem
    record: Mapping[str, Any] = field(repr=False)
    notes: tuple[Note, ...] = field(repr=False)
    attempts: tuple[ContactAttempt, ...] = field(repr=False)
    escalations: tuple[Escalation, ...]
    usernames: Mapping[int, str]


# -- small helpers ---------------------------------------------------------------------------


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _rank() -> ColumnElement[int]:
    return case(
        {"urgent": PRIORITY_RANK["urgent"], "priority": PRIORITY_RANK["priority"]},
        value=ReferralRow.priority,
        else_=PRIORITY_RANK["routine"],
    )


def _queue_order() -> tuple[Any, ...]:
    return (_rank(), ReferralRow.created_at, ReferralRow.referral_id)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _write_lock(session: Session) -> None:
    """On SQLite, take the database write lock before reading what will be changed (a
    deferred transaction upgrading from read to write can fail instead of waiting)."""
    if _dialect(session) == "sqlite":
        session.execute(text("UPDATE referrals SET status = status WHERE 0 = 1"))


def _lock_worker(session: Session, user_id: int) -> None:
    """Serialise one worker's claims, so two at once cannot both pass the caseload check."""
    if _dialect(session) == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"caseload:{user_id}"},
        )
    else:
        _write_lock(session)


def _locked_row(session: Session, referral_id: str) -> ReferralRow:
    _write_lock(session)
    row = session.scalar(
        select(ReferralRow)
        .where(ReferralRow.referral_id == referral_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise ReferralNotFound()
    return row


def _move(row: ReferralRow, to: str) -> str:
    """Check a transition against the table; return the status it leaves."""
    if (row.status, to) not in TRANSITIONS:
        raise InvalidTransition(f"a {row.status} referral cannot become {to}")
    previous, row.status = row.status, to
    return previous


def _sync_record(cipher: Cipher, row: ReferralRow, now: datetime) -> None:
    """Carry the row's status into the encrypted schema record (exports and merges read it)."""
    record = decrypt_record(cipher, row)
    record["status"] = row.status
    store_record(cipher, row, record, now=now)


def _audit(
    session: Session,
    staff: Staff | None,
    action: str,
    referral_id: str,
    now: datetime,
    detail: Mapping[str, str | int | None] | None = None,
) -> None:
    audit.record(
        session,
        actor=audit.SYSTEM if staff is None else staff.actor,
        action=action,
        record_type="referral",
        record_id=referral_id,
        source=None if staff is None else staff.source,
        detail=detail or {},
        now=now,
    )


def _require_case_role(staff: Staff) -> None:
    if not staff.works_cases:
        raise Forbidden()


def can_view(staff: Staff, row: ReferralRow | QueueItem) -> bool:
    """Leads see every referral; a link worker sees what they could claim and their own."""
    if staff.is_lead:
        return True
    if staff.role != LINK_WORKER:
        return False
    if row.owner_id == staff.user_id:
        return True
    return row.status == "new" and row.submitted


def can_act(staff: Staff, row: ReferralRow) -> bool:
    """Leads may act on any referral; a link worker on the cases they hold."""
    if staff.is_lead:
        return True
    return staff.role == LINK_WORKER and row.owner_id == staff.user_id


def _require_act(staff: Staff, row: ReferralRow) -> None:
    if not can_act(staff, row):
        raise Forbidden()


def _open_cases(session: Session, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(ReferralRow)
            .where(ReferralRow.owner_id == user_id, ReferralRow.status.in_(HELD))
        )
        or 0
    )


def _check_cap(session: Session, user_id: int, policy: QueuePolicy) -> None:
    user = session.get(UserRow, user_id)
    if user is None or not user.active or user.role not in CASE_ROLES:
        raise InvalidInput("cases can only go to an active link worker or safeguarding lead")
    if _open_cases(session, user_id) >= policy.cap_for(user.caseload_cap):
        raise CaseloadFull()


# -- listing ---------------------------------------------------------------------------------


def _overdue_condition(policy: QueuePolicy, now: datetime) -> ColumnElement[bool]:
    per_priority = []
    for priority in PRIORITY_RANK:
        cutoff, inclusive = policy.hours.overdue_cutoff(now, policy.target(priority))
        created = ReferralRow.created_at <= cutoff if inclusive else ReferralRow.created_at < cutoff
        per_priority.append(and_(ReferralRow.priority == priority, created))
    return and_(ReferralRow.status.in_(AWAITING_CONTACT), or_(*per_priority))


def _has_category(slug: str) -> ColumnElement[bool]:
    # JSON lists of slugs: a quoted match is exact, and works on SQLite and PostgreSQL alike.
    needle = f'%"{slug}"%'
    return or_(
        cast(ReferralRow.concern_categories, String).like(needle),
        cast(ReferralRow.interest_categories, String).like(needle),
    )


def _conditions(
    wanted: QueueFilter, policy: QueuePolicy, now: datetime
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.statuses:
        conditions.append(ReferralRow.status.in_(wanted.statuses))
    if wanted.priority is not None:
        if wanted.priority not in PRIORITY_RANK:
            raise InvalidInput("unknown priority")
        conditions.append(ReferralRow.priority == wanted.priority)
    if wanted.category is not None:
        if not _SLUG.match(wanted.category):
            raise InvalidInput("unknown category")
        conditions.append(_has_category(wanted.category))
    if wanted.owner_id is not None:
        conditions.append(ReferralRow.owner_id == wanted.owner_id)
    if wanted.flagged_only:
        conditions.append(ReferralRow.flagged.is_(True))
    if wanted.overdue_only:
        conditions.append(_overdue_condition(policy, now))
    return conditions


def list_queue(
    session: Session,
    policy: QueuePolicy,
    *,
    wanted: QueueFilter = QueueFilter(),
    page: int = 1,
    per_page: int = 25,
    now: datetime | None = None,
) -> Page:
    """One page of referrals, most pressing first (clear columns only: no decryption)."""
    now = now or _utcnow()
    conditions = _conditions(wanted, policy, now)
    total = int(
        session.scalar(select(func.count()).select_from(ReferralRow).where(*conditions)) or 0
    )
    pages = max(1, math.ceil(total / per_page))
    number = min(max(1, page), pages)
    rows = session.scalars(
        select(ReferralRow)
        .where(*conditions)
        .order_by(*_queue_order())
        .offset((number - 1) * per_page)
        .limit(per_page)
    )
    items = tuple(QueueItem.from_row(r, policy, now) for r in rows)
    return Page(items=items, number=number, pages=pages, total=total)


def my_caseload(
    session: Session, staff: Staff, policy: QueuePolicy, *, now: datetime | None = None
) -> list[QueueItem]:
    """The open cases this worker holds, most pressing first."""
    _require_case_role(staff)
    now = now or _utcnow()
    rows = session.scalars(
        select(ReferralRow)
        .where(ReferralRow.owner_id == staff.user_id, ReferralRow.status.in_(HELD))
        .order_by(*_queue_order())
    )
    return [QueueItem.from_row(r, policy, now) for r in rows]


def overdue_report(
    session: Session, policy: QueuePolicy, *, now: datetime | None = None, limit: int = 50
) -> OverdueReport:
    """Referrals not yet contacted past their target: counts by priority and the worst few."""
    now = now or _utcnow()
    condition = _overdue_condition(policy, now)
    counted = session.execute(
        select(ReferralRow.priority, func.count()).where(condition).group_by(ReferralRow.priority)
    ).all()
    counts = {priority: 0 for priority in PRIORITY_RANK}
    counts.update({priority: int(n) for priority, n in counted})
    rows = session.scalars(
        select(ReferralRow).where(condition).order_by(*_queue_order()).limit(limit)
    )
    return OverdueReport(counts, tuple(QueueItem.from_row(r, policy, now) for r in rows))


def caseloads(
    session: Session, policy: QueuePolicy, *, now: datetime | None = None
) -> list[Caseload]:
    """Every active worker's open cases, overdue ones and cap."""
    now = now or _utcnow()
    overdue = _overdue_condition(policy, now)
    counts = session.execute(
        select(
            ReferralRow.owner_id,
            func.sum(case((ReferralRow.status == "claimed", 1), else_=0)),
            func.sum(case((ReferralRow.status == "contacted", 1), else_=0)),
            func.sum(case((overdue, 1), else_=0)),
        )
        .where(ReferralRow.owner_id.is_not(None), ReferralRow.status.in_(HELD))
        .group_by(ReferralRow.owner_id)
    ).all()
    by_owner = {owner: (int(c or 0), int(t or 0), int(o or 0)) for owner, c, t, o in counts}
    users = session.scalars(
        select(UserRow)
        .where(UserRow.active.is_(True), UserRow.role.in_(CASE_ROLES))
        .order_by(UserRow.username)
    )
    result = []
    for user in users:
        claimed, contacted, late = by_owner.get(user.id, (0, 0, 0))
        result.append(
            Caseload(
                user.id,
                user.username,
                user.role,
                claimed,
                contacted,
                late,
                policy.cap_for(user.caseload_cap),
            )
        )
    return result


# -- claiming --------------------------------------------------------------------------------


def release_stale_claims(
    session: Session, cipher: Cipher, policy: QueuePolicy, *, now: datetime | None = None
) -> list[str]:
    """Return claims nobody touched within the expiry to the queue; their ids."""
    now = now or _utcnow()
    stale = session.execute(
        select(ReferralRow.referral_id, ReferralRow.owner_id)
        .where(ReferralRow.status == "claimed", ReferralRow.touched_at < now - policy.claim_expiry)
        .order_by(ReferralRow.touched_at)
        .limit(STALE_BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    for referral_id, _ in stale:
        row = session.get(ReferralRow, referral_id, populate_existing=True)
        assert row is not None
        _move(row, "new")
        row.owner_id, row.claimed_at = None, None
        _sync_record(cipher, row, now)
    for referral_id, owner_id in stale:
        detail = {"from": "claimed", "to": "new", "owner": _who(owner_id)}
        _audit(session, None, "referral.claim_expired", referral_id, now, detail)
    if stale:
        log.info("%d stale claim(s) returned to the queue", len(stale))
    return [referral_id for referral_id, _ in stale]


def _who(user_id: int | None) -> str | None:
    return None if user_id is None else audit.user_actor(user_id)


def claim_next(
    session: Session,
    cipher: Cipher,
    staff: Staff,
    policy: QueuePolicy,
    *,
    now: datetime | None = None,
) -> str:
    """Claim the most pressing referral waiting; its id. NothingToClaim when none is left.

    One statement picks and takes it (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so workers
    claiming together never wait for each other or take the same one; SQLite serialises
    writers instead).
    """
    _require_case_role(staff)
    now = now or _utcnow()
    _lock_worker(session, staff.user_id)
    release_stale_claims(session, cipher, policy, now=now)
    _check_cap(session, staff.user_id, policy)
    pick = select(ReferralRow.referral_id).where(ReferralRow.status == "new")
    if not staff.is_lead:
        pick = pick.where(ReferralRow.submitted.is_(True))
    pick = pick.order_by(*_queue_order()).limit(1).with_for_update(skip_locked=True)
    referral_id = session.execute(
        update(ReferralRow)
        .where(ReferralRow.referral_id == pick.scalar_subquery(), ReferralRow.status == "new")
        .values(status="claimed", owner_id=staff.user_id, claimed_at=now, touched_at=now)
        .returning(ReferralRow.referral_id),
        execution_options={"synchronize_session": False},
    ).scalar()
    if referral_id is None:
        raise NothingToClaim()
    row = session.get(ReferralRow, referral_id, populate_existing=True)
    assert row is not None
    _sync_record(cipher, row, now)
    detail = {"from": "new", "to": "claimed", "how": "next"}
    _audit(session, staff, "referral.claimed", referral_id, now, detail)
    return str(referral_id)


def claim(
    session: Session,
    cipher: Cipher,
    staff: Staff,
    referral_id: str,
    policy: QueuePolicy,
    *,
    now: datetime | None = None,
) -> None:
    """Claim one particular waiting referral."""
    _require_case_role(staff)
    now = now or _utcnow()
    _lock_worker(session, staff.user_id)
    row = _locked_row(session, referral_id)
    if not can_view(staff, row):
        raise Forbidden()
    _check_cap(session, staff.user_id, policy)
    _move(row, "claimed")
    row.owner_id, row.claimed_at, row.touched_at = staff.user_id, now, now
    _sync_record(cipher, row, now)
    detail = {"from": "new", "to": "claimed", "how": "chosen"}
    _audit(session, staff, "referral.claimed", referral_id, now, detail)


def release(
    session: Session,
    cipher: Cipher,
    staff: Staff,
    referral_id: str,
    *,
    now: datetime | None = None,
) -> None:
    """Give a claimed (not yet contacted) referral back to the queue."""
    _require_case_role(staff)
    now = now or _utcnow()
    row = _locked_row(session, referral_id)
    _require_act(staff, row)
    previous_owner = row.owner_id
    _move(row, "new")
    row.owner_id, row.claimed_at = None, None
    _sync_record(cipher, row, now)
    detail = {"from": "claimed", "to": "new", "owner": _who(previous_owner)}
    _audit(session, staff, "referral.released", referral_id, now, detail)


def reassign(
    session: Session,
    cipher: Cipher,
    staff: Staff,
    referral_id: str,
    to_user_id: int,
    policy: QueuePolicy,
    *,
    now: datetime | None = None,
) -> None:
    """Hand a held case to another worker (their cap applies)."""
    _require_case_role(staff)
    now = now or _utcnow()
    _lock_worker(session, to_user_id)
    row = _locked_row(session, referral_id)
    _require_act(staff, row)
    if row.status not in HELD:
        raise InvalidTransition(f"a {row.status} referral cannot be reassigned")
    if row.owner_id == to_user_id:
        return
    _check_cap(session, to_user_id, policy)
    if not row.submitted:
        target = session.get(UserRow, to_user_id)
        if target is None or target.role != SAFEGUARDING_LEAD:
            raise InvalidInput("a referral the young person has not finished stays with leads")
    previous_owner = row.owner_id
    row.owner_id, row.touched_at = to_user_id, now
    detail = {"from": _who(previous_owner), "to": _who(to_user_id)}
    _audit(session, staff, "referral.reassigned", referral_id, now, detail)


# -- working a case --------------------------------------------------------------------------


def add_note(
    session: Session,
    cipher: Cipher,
    staff: Staff,
    referral_id: str,
    note_text: str,
    *,
    now: datetime | None = None,
) -> Note:
    """Add a note to a case (it counts as touching the claim)."""
    _require_case_role(staff)
    now = now or _utcnow()
    row = _locked_row(session, referral_id)
    _require_act(staff, row)
    if row.status == "new":
        raise InvalidTransition("claim the referral before adding notes")
    note = notes.add_note(session, cipher, referral_id, staff.user_id, note_text, now)
    row.touched_at = now
    _audit(session, staff, "referral.note_added", referral_id, now, {"note": note.id})
    return note


def record_attempt(
    session: Session,
    cipher: Cipher,
    staff: Staff,
    referral_id: str,
    *,
    method: str,
    result: str,
    note: str = "",
    now: datetime | None = None,
) -> ContactAttempt:
    """Record a contact attempt; reaching the young person makes a claimed case contacted."""
    _require_case_role(staff)
    now = now or _utcnow()
    row = _locked_row(session, referral_id)
    _require_act(staff, row)
    if row.status not in HELD:
        raise InvalidTransition(f"a {row.status} referral takes no contact attempts")
    attempt = notes.add_attempt(
        session,
        cipher,
        referral_id,
        staff.user_id,
        method=method,
        result=result,
        note=note,
        now=now,
    )
    row.touched_at = now
    became_contacted = attempt.reached and row.status == "claimed"
    if became_contacted:
        _move(row, "contacted")
        row.first_contact_at = now
        _sync_record(cipher, row, now)
    detail: dict[str, str | int | None] = {
        "method": method,
        "result": result,
        "attempt": attempt.id,
        "to": "contacted" if became_contacted else None,
    }
    _audit(session, staff, "referral.contact_attempted", referral_id, now, detail)
    return attempt


def close(
    session: Session,
    cipher: Cipher,
    staff: Staff,
    referral_id: str,
    outcome: str,
    *,
    note: str = "",
    now: datetime | None = None,
) -> None:
    """Close a held case with an outcome (`no_response` needs 3 unanswered attempts;
    `other` needs a note saying what happened)."""
    _require_case_role(staff)
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}")
    now = now or _utcnow()
    row = _locked_row(session, referral_id)
    _require_act(staff, row)
    if outcome == "no_response":
        tried = notes.unanswered_attempts(session, referral_id)
        if tried < NO_RESPONSE_ATTEMPTS:
            raise InvalidInput(
                f"record {NO_RESPONSE_ATTEMPTS} contact attempts before closing as no response"
                f" ({tried} so far)"
            )
    written = notes.check_text(note, required=outcome == "other")
    previous = _move(row, "closed")
    row.outcome, row.closed_at, row.touched_at = outcome, now, now
    if written is not None:
        notes.add_note(session, cipher, referral_id, staff.user_id, written, now)
    _sync_record(cipher, row, now)
    detail = {"from": previous, "to": "closed", "outcome": outcome}
    _audit(session, staff, "referral.closed", referral_id, now, detail)


def withdraw(
    session: Session,
    cipher: Cipher,
    staff: Staff,
    referral_id: str,
    *,
    now: datetime | None = None,
) -> None:
    """The young person stopped or asked to stop: withdraw the referral (kept, not wiped;
    a deletion request goes through the young person's DELETE instead)."""
    _require_case_role(staff)
    now = now or _utcnow()
    row = _locked_row(session, referral_id)
    if row.status == "new":
        # Nobody holds it yet: only a lead decides it is no longer wanted.
        if not staff.is_lead:
            raise Forbidden()
    else:
        _require_act(staff, row)
    previous = _move(row, "withdrawn")
    row.touched_at = now
    _sync_record(cipher, row, now)
    _audit(session, staff, "referral.withdrawn", referral_id, now, {"from": previous})


def withdraw_for_young_person(
    session: Session, cipher: Cipher, conversation_id: str, *, now: datetime | None = None
) -> int:
    """The young person's DELETE, audited: `referrals.withdraw_conversation` (drafts deleted,
    the rest wiped and withdrawn), with one audit row per referral it touched."""
    now = now or _utcnow()
    before = {
        row.referral_id: row.status
        for row in rows_for_conversation(session, conversation_id)
        if row.status != "withdrawn"
    }
    count = referrals.withdraw_conversation(session, cipher, conversation_id, now=now)
    for referral_id, status in before.items():
        audit.record(
            session,
            actor=audit.SERVICE,
            action="referral.deleted_by_young_person",
            record_type="referral",
            record_id=referral_id,
            detail={"from": status},
            now=now,
        )
    return count


# -- reading a case --------------------------------------------------------------------------


def open_referral(
    session: Session,
    cipher: Cipher,
    staff: Staff,
    referral_id: str,
    policy: QueuePolicy,
    *,
    now: datetime | None = None,
) -> ReferralView:
    """The decrypted referral with its notes, attempts and escalations; the view is audited."""
    _require_case_role(staff)
    now = now or _utcnow()
    row = session.get(ReferralRow, referral_id)
    if row is None:
        raise ReferralNotFound()
    if not can_view(staff, row):
        raise Forbidden()
    record = decrypt_record(cipher, row)
    record["status"] = row.status
    escalation_rows = session.scalars(
        select(EscalationRow)
        .where(EscalationRow.referral_id == referral_id)
        .order_by(EscalationRow.created_at)
    )
    view = ReferralView(
        item=QueueItem.from_row(row, policy, now),
        record=record,
        notes=tuple(notes.notes_for(session, cipher, referral_id)),
        attempts=tuple(notes.attempts_for(session, cipher, referral_id)),
        escalations=tuple(Escalation.from_row(e, cipher) for e in escalation_rows),
        usernames=users.usernames(session),
    )
    _audit(session, staff, "referral.viewed", referral_id, now)
    return view


def export_record(
    session: Session,
    cipher: Cipher,
    staff: Staff,
    referral_id: str,
    export_format: str,
    policy: QueuePolicy,
    *,
    now: datetime | None = None,
) -> tuple[dict[str, Any], QueueItem]:
    """The decrypted schema record for an export, and its queue item (audited with the
    format)."""
    _require_case_role(staff)
    now = now or _utcnow()
    row = session.get(ReferralRow, referral_id)
    if row is None:
        raise ReferralNotFound()
    if not can_view(staff, row):
        raise Forbidden()
    record = decrypt_record(cipher, row)
    record["status"] = row.status
    _audit(session, staff, "referral.exported", referral_id, now, {"format": export_format})
    return record, QueueItem.from_row(row, policy, now)


def assignable_workers(session: Session) -> list[tuple[int, str, str]]:
    """(id, username, role) of everyone a case can be handed to."""
    rows = session.execute(
        select(UserRow.id, UserRow.username, UserRow.role)
        .where(UserRow.active.is_(True), UserRow.role.in_(CASE_ROLES))
        .order_by(UserRow.username)
    )
    return [(user_id, name, role) for user_id, name, role in rows]
