"""The link-worker queue: due times, ordering, claiming, caseloads, transitions and audit.

Working-hours arithmetic is pure (unit); the store runs on SQLite and PostgreSQL; the
concurrent-claim test needs PostgreSQL (integration).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from handoff import audit, escalations, export, queue, referrals
from handoff.errors import InvalidTransition
from handoff.models import AuditRow, ContactAttemptRow, NoteRow, ReferralRow
from handoff.queue import NothingToClaim, QueueFilter, QueuePolicy, Staff
from handoff.staff_errors import CaseloadFull, Forbidden, InvalidInput
from handoff.workhours import WorkingHours
from tests.handoff.dashboard_support import (
    MONDAY_10AM,
    Crew,
    add_referral,
    make_crew,
    make_user,
    status_of,
)
from tests.handoff.store import Sessions, escalate
from tests.support.db import fresh_settings
from tests.support.referrals import OWN_WORDS, make_referral
from youthlink.crypto import Cipher
from youthlink.db import make_engine, make_sessionmaker

LONDON_HOURS = WorkingHours()
POLICY = QueuePolicy()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# -- working hours (pure) --------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("created", "target", "due"),
    [
        # Monday 10:00 GMT + 4 working hours: Monday 14:00.
        (utc(2025, 12, 1, 10, 0), timedelta(hours=4), utc(2025, 12, 1, 14, 0)),
        # Friday 15:00 + 4h: 2h on Friday, 2h on Monday → Monday 11:00.
        (utc(2025, 12, 5, 15, 0), timedelta(hours=4), utc(2025, 12, 8, 11, 0)),
        # Saturday night: counting starts Monday 09:00.
        (utc(2025, 12, 6, 23, 0), timedelta(hours=4), utc(2025, 12, 8, 13, 0)),
        # Before opening: from 09:00 the same day.
        (utc(2025, 12, 2, 7, 30), timedelta(hours=4), utc(2025, 12, 2, 13, 0)),
        # Runs out exactly at 17:00: due at 17:00, not the next morning.
        (utc(2025, 12, 2, 13, 0), timedelta(hours=4), utc(2025, 12, 2, 17, 0)),
        # Two working days from Wednesday 12:00: Friday 12:00.
        (utc(2025, 12, 3, 12, 0), timedelta(hours=16), utc(2025, 12, 5, 12, 0)),
        # Five working days from Monday 09:00: Friday 17:00.
        (utc(2025, 12, 1, 9, 0), timedelta(hours=40), utc(2025, 12, 5, 17, 0)),
        # Summer time: 09:00 in London is 08:00 UTC.
        (utc(2026, 6, 1, 7, 0), timedelta(hours=4), utc(2026, 6, 1, 12, 0)),
        # Across the clocks going back (Sunday 25 October 2026): Friday 15:00 BST + 4h.
        (utc(2026, 10, 23, 14, 0), timedelta(hours=4), utc(2026, 10, 26, 11, 0)),
    ],
)
def test_due_times_count_working_hours_in_london(
    created: datetime, target: timedelta, due: datetime
) -> None:
    assert LONDON_HOURS.due(created, target) == due


@pytest.mark.unit
def test_bank_holidays_are_not_working_days() -> None:
    christmas = WorkingHours(holidays=frozenset({date(2025, 12, 25), date(2025, 12, 26)}))
    # Wednesday 24 December 15:00 + 4h: 2h that day, then Monday 29th from 09:00.
    assert christmas.due(utc(2025, 12, 24, 15, 0), timedelta(hours=4)) == utc(2025, 12, 29, 11, 0)


@pytest.mark.unit
def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        LONDON_HOURS.due(datetime(2025, 12, 1, 10, 0), timedelta(hours=4))


_BASE = utc(2026, 3, 20)  # spans the clocks going forward on 29 March 2026
_moments = st.integers(0, 60 * 24 * 30).map(lambda m: _BASE + timedelta(minutes=m))
_targets = st.sampled_from([timedelta(hours=h) for h in (1, 4, 8, 16, 40)]) | st.integers(
    1, 6000
).map(lambda m: timedelta(minutes=m))


@pytest.mark.unit
@settings(max_examples=3000, deadline=None)
@given(_moments, _moments, _targets)
def test_the_overdue_cutoff_agrees_with_due_times(
    created: datetime, now: datetime, target: timedelta
) -> None:
    # The database filters overdue rows by one comparison; it must agree with due() exactly.
    cutoff, inclusive = LONDON_HOURS.overdue_cutoff(now, target)
    by_cutoff = created < cutoff or (inclusive and created == cutoff)
    assert by_cutoff == (LONDON_HOURS.due(created, target) < now)
    assert LONDON_HOURS.working_time(created, LONDON_HOURS.due(created, target)) == target


# -- the store -------------------------------------------------------------------------------


@pytest.fixture
def crew(sessions: Sessions) -> Crew:
    return make_crew(sessions)


def claim_next(sessions: Sessions, cipher: Cipher, staff: Staff, **kw: object) -> str:
    with sessions.begin() as session:
        return queue.claim_next(session, cipher, staff, kw.pop("policy", POLICY), **kw)  # type: ignore[arg-type]


def audit_actions(sessions: Sessions, referral_id: str) -> list[tuple[str, str]]:
    with sessions.begin() as session:
        return [(e.action, e.actor) for e in audit.events_for(session, "referral", referral_id)]


def test_the_queue_is_urgent_then_priority_then_routine_oldest_first(
    sessions: Sessions, cipher: Cipher
) -> None:
    t = MONDAY_10AM
    ids = {
        "routine_old": add_referral(sessions, cipher, created_at=t - timedelta(days=3)),
        "urgent_new": add_referral(sessions, cipher, priority="urgent", created_at=t),
        "priority_old": add_referral(
            sessions, cipher, priority="priority", created_at=t - timedelta(days=2)
        ),
        "urgent_old": add_referral(
            sessions, cipher, priority="urgent", created_at=t - timedelta(hours=1)
        ),
        "routine_new": add_referral(sessions, cipher, created_at=t - timedelta(hours=2)),
    }
    with sessions.begin() as session:
        page = queue.list_queue(session, POLICY, now=t)
    order = {v: k for k, v in ids.items()}
    assert [order[i.referral_id] for i in page.items] == [
        "urgent_old",
        "urgent_new",
        "priority_old",
        "routine_old",
        "routine_new",
    ]


def test_claim_next_takes_the_most_pressing_and_records_who(
    sessions: Sessions, cipher: Cipher, crew: Crew
) -> None:
    routine = add_referral(sessions, cipher, created_at=MONDAY_10AM - timedelta(days=1))
    urgent = add_referral(sessions, cipher, priority="urgent", created_at=MONDAY_10AM)
    staff = crew.staff("worker")
    assert claim_next(sessions, cipher, staff, now=MONDAY_10AM) == urgent
    assert claim_next(sessions, cipher, staff, now=MONDAY_10AM) == routine
    with pytest.raises(NothingToClaim):
        claim_next(sessions, cipher, staff, now=MONDAY_10AM)
    row = status_of(sessions, urgent)
    assert (row.status, row.owner_id, row.claimed_at) == ("claimed", crew.worker.id, MONDAY_10AM)
    # The encrypted schema record carries the status too (exports and merges read it).
    with sessions.begin() as session:
        assert referrals.get_referral(session, cipher, urgent)["status"] == "claimed"
    assert audit_actions(sessions, urgent) == [("referral.claimed", f"user:{crew.worker.id}")]


def test_a_caseload_cap_refuses_claims_past_it(
    sessions: Sessions, cipher: Cipher, crew: Crew
) -> None:
    for _ in range(3):
        add_referral(sessions, cipher)
    policy = QueuePolicy(caseload_cap=2)
    staff = crew.staff("worker")
    claim_next(sessions, cipher, staff, policy=policy)
    claim_next(sessions, cipher, staff, policy=policy)
    with pytest.raises(CaseloadFull):
        claim_next(sessions, cipher, staff, policy=policy)
    # A worker's own cap overrides the default.
    with sessions.begin() as session:
        from handoff import users

        users.set_caseload_cap(session, crew.worker.id, 3, actor="system")
    claim_next(sessions, cipher, staff, policy=policy)
    with sessions.begin() as session:
        (load,) = [c for c in queue.caseloads(session, policy) if c.user_id == crew.worker.id]
    assert (load.claimed, load.open_cases, load.cap, load.full) == (3, 3, 3, True)


def test_early_referrals_from_escalations_go_to_leads_only(
    sessions: Sessions, cipher: Cipher, crew: Crew
) -> None:
    early = escalate(sessions, cipher).referral_id
    assert early is not None
    with pytest.raises(NothingToClaim):
        claim_next(sessions, cipher, crew.staff("worker"))
    with sessions.begin() as session, pytest.raises(Forbidden):
        queue.open_referral(session, cipher, crew.staff("worker"), early, POLICY)
    assert claim_next(sessions, cipher, crew.staff("lead")) == early


def test_admins_do_not_work_cases(sessions: Sessions, cipher: Cipher, crew: Crew) -> None:
    referral_id = add_referral(sessions, cipher)
    with pytest.raises(Forbidden):
        claim_next(sessions, cipher, crew.staff("admin"))
    with sessions.begin() as session, pytest.raises(Forbidden):
        queue.open_referral(session, cipher, crew.staff("admin"), referral_id, POLICY)


def test_an_untouched_claim_returns_to_the_queue(
    sessions: Sessions, cipher: Cipher, crew: Crew
) -> None:
    referral_id = add_referral(sessions, cipher)
    policy = QueuePolicy(claim_expiry=timedelta(hours=2))
    claim_next(sessions, cipher, crew.staff("worker"), policy=policy, now=MONDAY_10AM)
    later = MONDAY_10AM + timedelta(hours=1, minutes=59)
    with sessions.begin() as session:
        assert queue.release_stale_claims(session, cipher, policy, now=later) == []
    # Another worker asking for work after the expiry gets it.
    much_later = MONDAY_10AM + timedelta(hours=2, minutes=1)
    taken = claim_next(sessions, cipher, crew.staff("other_worker"), policy=policy, now=much_later)
    assert taken == referral_id
    assert status_of(sessions, referral_id).owner_id == crew.other_worker.id
    actions = audit_actions(sessions, referral_id)
    assert actions == [
        ("referral.claimed", f"user:{crew.worker.id}"),
        ("referral.claim_expired", "system"),
        ("referral.claimed", f"user:{crew.other_worker.id}"),
    ]


def test_a_touched_claim_does_not_expire(sessions: Sessions, cipher: Cipher, crew: Crew) -> None:
    referral_id = add_referral(sessions, cipher)
    policy = QueuePolicy(claim_expiry=timedelta(hours=2))
    staff = crew.staff("worker")
    claim_next(sessions, cipher, staff, policy=policy, now=MONDAY_10AM)
    with sessions.begin() as session:
        queue.add_note(
            session,
            cipher,
            staff,
            referral_id,
            "left a voicemail",
            now=MONDAY_10AM + timedelta(hours=1, minutes=30),
        )
    with sessions.begin() as session:
        released = queue.release_stale_claims(
            session, cipher, policy, now=MONDAY_10AM + timedelta(hours=3)
        )
    assert released == []
    assert status_of(sessions, referral_id).status == "claimed"


def test_contact_then_close_with_an_outcome(sessions: Sessions, cipher: Cipher, crew: Crew) -> None:
    referral_id = add_referral(sessions, cipher)
    staff = crew.staff("worker")
    claim_next(sessions, cipher, staff, now=MONDAY_10AM)
    at = MONDAY_10AM + timedelta(hours=1)
    with sessions.begin() as session:
        queue.record_attempt(
            session, cipher, staff, referral_id, method="phone_call", result="no_answer", now=at
        )
    assert status_of(sessions, referral_id).status == "claimed"
    with sessions.begin() as session:
        queue.record_attempt(
            session,
            cipher,
            staff,
            referral_id,
            method="sms",
            result="reached",
            note="texted back, happy to meet",
            now=at,
        )
    row = status_of(sessions, referral_id)
    assert (row.status, row.first_contact_at) == ("contacted", at)
    with sessions.begin() as session:
        queue.close(session, cipher, staff, referral_id, "connected_to_activity", now=at)
    row = status_of(sessions, referral_id)
    assert (row.status, row.outcome, row.closed_at) == ("closed", "connected_to_activity", at)
    with sessions.begin() as session:
        assert referrals.get_referral(session, cipher, referral_id)["status"] == "closed"
    assert [a for a, _ in audit_actions(sessions, referral_id)] == [
        "referral.claimed",
        "referral.contact_attempted",
        "referral.contact_attempted",
        "referral.closed",
    ]
    with sessions.begin() as session, pytest.raises(InvalidTransition):
        queue.close(session, cipher, staff, referral_id, "declined")


def test_no_response_needs_three_unanswered_attempts(
    sessions: Sessions, cipher: Cipher, crew: Crew
) -> None:
    referral_id = add_referral(sessions, cipher)
    staff = crew.staff("worker")
    claim_next(sessions, cipher, staff)
    for n in range(3):
        with sessions.begin() as session, pytest.raises(InvalidInput, match=f"{n} so far"):
            queue.close(session, cipher, staff, referral_id, "no_response")
        with sessions.begin() as session:
            queue.record_attempt(
                session, cipher, staff, referral_id, method="phone_call", result="no_answer"
            )
    with sessions.begin() as session:
        queue.close(session, cipher, staff, referral_id, "no_response")
    assert status_of(sessions, referral_id).outcome == "no_response"


def test_other_outcome_needs_a_note(sessions: Sessions, cipher: Cipher, crew: Crew) -> None:
    referral_id = add_referral(sessions, cipher)
    staff = crew.staff("worker")
    claim_next(sessions, cipher, staff)
    with sessions.begin() as session, pytest.raises(InvalidInput):
        queue.close(session, cipher, staff, referral_id, "other", note="   ")
    with sessions.begin() as session, pytest.raises(InvalidInput):
        queue.close(session, cipher, staff, referral_id, "made_up_outcome")
    with sessions.begin() as session:
        queue.close(session, cipher, staff, referral_id, "other", note="family moved to Wales")
    with sessions.begin() as session:
        view = queue.open_referral(session, cipher, staff, referral_id, POLICY)
    assert [n.text for n in view.notes] == ["family moved to Wales"]


@pytest.mark.parametrize(
    ("status_path", "action"),
    [
        ((), "contact"),  # new: nobody holds it
        ((), "note"),
        (("close",), "contact"),
        (("close",), "release"),
    ],
)
def test_invalid_transitions_are_refused(
    sessions: Sessions, cipher: Cipher, crew: Crew, status_path: tuple[str, ...], action: str
) -> None:
    referral_id = add_referral(sessions, cipher)
    lead = crew.staff("lead")
    if status_path:
        claim_next(sessions, cipher, lead)
        with sessions.begin() as session:
            queue.close(session, cipher, lead, referral_id, "declined")
    before = status_of(sessions, referral_id).status
    with sessions.begin() as session, pytest.raises(InvalidTransition):
        if action == "contact":
            queue.record_attempt(session, cipher, lead, referral_id, method="sms", result="reached")
        elif action == "note":
            queue.add_note(session, cipher, lead, referral_id, "hello")
        else:
            queue.release(session, cipher, lead, referral_id)
    assert status_of(sessions, referral_id).status == before


def test_only_the_holder_or_a_lead_works_a_case(
    sessions: Sessions, cipher: Cipher, crew: Crew
) -> None:
    referral_id = add_referral(sessions, cipher)
    claim_next(sessions, cipher, crew.staff("worker"))
    other = crew.staff("other_worker")
    for attempt in (
        lambda s: queue.add_note(s, cipher, other, referral_id, "not mine"),
        lambda s: queue.close(s, cipher, other, referral_id, "declined"),
        lambda s: queue.release(s, cipher, other, referral_id),
        lambda s: queue.open_referral(s, cipher, other, referral_id, POLICY),
        lambda s: queue.export_record(s, cipher, other, referral_id, "json", POLICY),
    ):
        with sessions.begin() as session, pytest.raises(Forbidden):
            attempt(session)
    with sessions.begin() as session:
        queue.add_note(session, cipher, crew.staff("lead"), referral_id, "lead checked in")
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(NoteRow)) == 1


def test_reassign_respects_the_receivers_cap(
    sessions: Sessions, cipher: Cipher, crew: Crew
) -> None:
    first = add_referral(sessions, cipher)
    second = add_referral(sessions, cipher)
    policy = QueuePolicy(caseload_cap=1)
    claim_next(sessions, cipher, crew.staff("worker"), policy=policy)
    claim_next(sessions, cipher, crew.staff("other_worker"), policy=policy)
    held_by_worker = first if status_of(sessions, first).owner_id == crew.worker.id else second
    with sessions.begin() as session, pytest.raises(CaseloadFull):
        queue.reassign(
            session, cipher, crew.staff("worker"), held_by_worker, crew.other_worker.id, policy
        )
    with sessions.begin() as session:
        queue.reassign(session, cipher, crew.staff("lead"), held_by_worker, crew.lead.id, policy)
    assert status_of(sessions, held_by_worker).owner_id == crew.lead.id
    with sessions.begin() as session, pytest.raises(InvalidInput):
        queue.reassign(session, cipher, crew.staff("lead"), held_by_worker, crew.admin.id, policy)


def test_withdraw_keeps_the_record_and_leaves_the_caseload(
    sessions: Sessions, cipher: Cipher, crew: Crew
) -> None:
    referral_id = add_referral(sessions, cipher)
    staff = crew.staff("worker")
    claim_next(sessions, cipher, staff)
    with sessions.begin() as session:
        queue.withdraw(session, cipher, staff, referral_id)
    assert status_of(sessions, referral_id).status == "withdrawn"
    with sessions.begin() as session:
        assert queue.my_caseload(session, staff, POLICY) == []
        record = referrals.get_referral(session, cipher, referral_id)
    assert record["status"] == "withdrawn"
    assert record["concerns"][0]["own_words"] == OWN_WORDS


def test_a_late_submission_merges_without_undoing_a_claim(
    sessions: Sessions, cipher: Cipher, crew: Crew
) -> None:
    # An escalation creates an early referral; a lead claims it; then the young person
    # finishes: the merge must keep the claim (the record's status is kept in step).
    early = escalate(sessions, cipher, conversation_id="c_merge").referral_id
    assert claim_next(sessions, cipher, crew.staff("lead")) == early
    record = make_referral(
        "c_merge", source={"channel": "sms", "conversation_id": "c_merge", "completed": True}
    )
    with sessions.begin() as session:
        merged = referrals.submit_referral(session, cipher, record)
    assert merged == early
    row = status_of(sessions, early)
    assert (row.status, row.owner_id, row.submitted) == ("claimed", crew.lead.id, True)


def test_deleting_a_draft_takes_its_notes_with_it(
    sessions: Sessions, cipher: Cipher, crew: Crew
) -> None:
    early = escalate(sessions, cipher, conversation_id="c_gone").referral_id
    assert early is not None
    lead = crew.staff("lead")
    claim_next(sessions, cipher, lead)
    with sessions.begin() as session:
        queue.add_note(session, cipher, lead, early, "tried to call")
        queue.record_attempt(session, cipher, lead, early, method="sms", result="no_answer")
    with sessions.begin() as session:
        queue.release(session, cipher, lead, early)
    with sessions.begin() as session:
        assert referrals.withdraw_conversation(session, cipher, "c_gone") == 1
    with sessions.begin() as session:
        assert session.get(ReferralRow, early) is None
        assert session.scalar(select(func.count()).select_from(NoteRow)) == 0
        assert session.scalar(select(func.count()).select_from(ContactAttemptRow)) == 0
        # The escalation itself is always kept.
        assert len(escalations.list_escalations(session, cipher, conversation_id="c_gone")) == 1


def test_the_young_persons_delete_is_audited(
    sessions: Sessions, cipher: Cipher, crew: Crew
) -> None:
    held = add_referral(sessions, cipher, conversation_id="c_bye")
    claim_next(sessions, cipher, crew.staff("worker"))
    with sessions.begin() as session:
        assert queue.withdraw_for_young_person(session, cipher, "c_bye") == 1
    row = status_of(sessions, held)
    assert (row.status, row.owner_id) == ("withdrawn", crew.worker.id)
    with sessions.begin() as session:
        record = referrals.get_referral(session, cipher, held)
    assert "preferred_name" not in record["young_person"]
    assert audit_actions(sessions, held)[-1] == ("referral.deleted_by_young_person", "service")


def test_notes_and_attempts_are_stored_encrypted(
    sessions: Sessions, cipher: Cipher, crew: Crew
) -> None:
    referral_id = add_referral(sessions, cipher)
    staff = crew.staff("worker")
    claim_next(sessions, cipher, staff)
    with sessions.begin() as session:
        queue.add_note(session, cipher, staff, referral_id, "mum's number is 07700 900 982")
        queue.record_attempt(
            session,
            cipher,
            staff,
            referral_id,
            method="phone_call",
            result="left_message",
            note="spoke to gran at 07700 900 982",
        )
    with sessions.begin() as session:
        raw = [bytes(b) for b in session.scalars(select(NoteRow.text_encrypted))]
        raw += [bytes(b or b"") for b in session.scalars(select(ContactAttemptRow.note_encrypted))]
        details = [json.dumps(r.detail) for r in session.scalars(select(AuditRow))]
    assert raw and all(b"07700" not in token for token in raw)
    assert all("07700" not in d and "gran" not in d for d in details)


def test_overdue_flags_and_the_overdue_filter_agree(
    sessions: Sessions, cipher: Cipher, crew: Crew
) -> None:
    now = MONDAY_10AM
    # Urgent from Friday 14:00 (due Monday 10:00 exactly: not yet overdue at 10:00),
    # urgent from Friday 13:00 (due Monday 09:00: overdue), routine from last Monday 09:00
    # (due Friday 17:00: overdue), routine from this morning (not overdue).
    friday_2pm = utc(2025, 11, 28, 14, 0)
    cases = {
        "urgent_on_time": add_referral(sessions, cipher, priority="urgent", created_at=friday_2pm),
        "urgent_late": add_referral(
            sessions, cipher, priority="urgent", created_at=friday_2pm - timedelta(hours=1)
        ),
        "routine_late": add_referral(sessions, cipher, created_at=utc(2025, 11, 24, 9, 0)),
        "routine_fresh": add_referral(sessions, cipher, created_at=utc(2025, 12, 1, 9, 30)),
    }
    names = {v: k for k, v in cases.items()}
    with sessions.begin() as session:
        everything = queue.list_queue(session, POLICY, now=now)
        overdue = queue.list_queue(session, POLICY, wanted=QueueFilter(overdue_only=True), now=now)
        report = queue.overdue_report(session, POLICY, now=now)
    flagged = {names[i.referral_id] for i in everything.items if i.overdue}
    assert flagged == {"urgent_late", "routine_late"}
    assert {names[i.referral_id] for i in overdue.items} == flagged
    assert dict(report.counts) == {"urgent": 1, "priority": 0, "routine": 1}
    # Contact made: no longer overdue, whatever the time.
    staff = crew.staff("worker")
    assert claim_next(sessions, cipher, staff, now=now) == cases["urgent_late"]
    with sessions.begin() as session:
        queue.record_attempt(
            session, cipher, staff, cases["urgent_late"], method="sms", result="reached", now=now
        )
        report = queue.overdue_report(session, POLICY, now=now + timedelta(days=30))
    assert cases["urgent_late"] not in {i.referral_id for i in report.items}


def test_filters_by_category_priority_and_status(
    sessions: Sessions, cipher: Cipher, crew: Crew
) -> None:
    bullied = add_referral(
        sessions, cipher, concerns=[{"category": "bullying", "own_words": "they laugh at me"}]
    )
    add_referral(sessions, cipher, priority="priority")
    with sessions.begin() as session:
        by_category = queue.list_queue(session, POLICY, wanted=QueueFilter(category="bullying"))
        by_priority = queue.list_queue(session, POLICY, wanted=QueueFilter(priority="priority"))
        claimed = queue.list_queue(session, POLICY, wanted=QueueFilter(statuses=("claimed",)))
        with pytest.raises(InvalidInput):
            queue.list_queue(session, POLICY, wanted=QueueFilter(category="x%' OR 1=1 --"))
    assert [i.referral_id for i in by_category.items] == [bullied]
    assert [i.priority for i in by_priority.items] == ["priority"]
    assert claimed.total == 0


def test_the_queue_pages(sessions: Sessions, cipher: Cipher) -> None:
    for n in range(7):
        add_referral(sessions, cipher, created_at=MONDAY_10AM - timedelta(minutes=n))
    with sessions.begin() as session:
        pages = [queue.list_queue(session, POLICY, page=p, per_page=3) for p in (1, 2, 3, 9)]
    assert [len(p.items) for p in pages] == [3, 3, 1, 1]
    assert [p.number for p in pages] == [1, 2, 3, 3]  # past the end: the last page
    seen = [i.referral_id for p in pages[:3] for i in p.items]
    assert len(set(seen)) == 7


def test_views_and_exports_are_audited(sessions: Sessions, cipher: Cipher, crew: Crew) -> None:
    referral_id = add_referral(sessions, cipher)
    staff = crew.staff("worker")
    with sessions.begin() as session:
        view = queue.open_referral(session, cipher, staff, referral_id, POLICY)
        record, item = queue.export_record(session, cipher, staff, referral_id, "text", POLICY)
    assert view.record["concerns"][0]["own_words"] == OWN_WORDS
    assert audit_actions(sessions, referral_id) == [
        ("referral.viewed", f"user:{crew.worker.id}"),
        ("referral.exported", f"user:{crew.worker.id}"),
    ]
    summary = export.to_text(record, due_at=item.due_at, worker="wren.worker")
    assert OWN_WORDS in summary and "Jay (he/him)" in summary and "LS7" in summary
    assert json.loads(export.to_json(record))["referral_id"] == referral_id


# -- claiming under load (PostgreSQL) -----------------------------------------------------------

WORKERS = 8
REFERRALS = 1000


@pytest.mark.integration
def test_eight_workers_claim_a_thousand_referrals_each_exactly_once(pg_url: str) -> None:
    settings_ = fresh_settings(pg_url)
    cipher = Cipher.from_keys(settings_.encryption_keys, settings_.hash_key)
    engine = make_engine(pg_url, pool_size=WORKERS + 2)
    sessions: Sessions = make_sessionmaker(engine)
    try:
        staff = [
            Staff(make_user(sessions, f"load.worker{n}", "link_worker").id, "link_worker")
            for n in range(WORKERS)
        ]
        with sessions.begin() as session:
            for n in range(REFERRALS):
                record = make_referral(f"c_load_{n}", priority=("urgent", "routine")[n % 2])
                referrals.submit_referral(session, cipher, record)
        policy = QueuePolicy(caseload_cap=REFERRALS)
        claims: dict[int, list[str]] = {s.user_id: [] for s in staff}
        start = threading.Barrier(WORKERS)

        def work(member: Staff) -> None:
            start.wait()
            while True:
                try:
                    claims[member.user_id].append(
                        claim_next(sessions, cipher, member, policy=policy)
                    )
                except NothingToClaim:
                    return

        with ThreadPoolExecutor(WORKERS) as pool:
            for future in [pool.submit(work, s) for s in staff]:
                future.result(timeout=300)

        every = [rid for taken in claims.values() for rid in taken]
        assert len(every) == REFERRALS
        assert len(set(every)) == REFERRALS  # nobody claimed one twice
        assert all(claims.values())  # every worker got some: no one serialised the others out
        with sessions.begin() as session:
            left = session.scalar(
                select(func.count()).select_from(ReferralRow).where(ReferralRow.status == "new")
            )
            owners = Counter(session.scalars(select(ReferralRow.owner_id)))
            assert left == 0
            assert owners == Counter({uid: len(taken) for uid, taken in claims.items()})
            assert audit.verify(session).ok
            assert audit.verify(session).checked >= REFERRALS
        # Stale claims come back, and are claimed again exactly once.
        later = datetime.now(UTC) + policy.claim_expiry + timedelta(minutes=1)
        again: list[str] = []
        lock = threading.Lock()

        def reclaim(member: Staff) -> None:
            while True:
                try:
                    got = claim_next(sessions, cipher, member, policy=policy, now=later)
                except NothingToClaim:
                    return
                with lock:
                    again.append(got)

        with ThreadPoolExecutor(WORKERS) as pool:
            for future in [pool.submit(reclaim, s) for s in staff]:
                future.result(timeout=300)
        assert sorted(again) == sorted(every)
    finally:
        engine.dispose()


@pytest.mark.integration
def test_claim_next_skips_rows_locked_by_another_transaction(pg_url: str) -> None:
    settings_ = fresh_settings(pg_url)
    cipher = Cipher.from_keys(settings_.encryption_keys, settings_.hash_key)
    engine = make_engine(pg_url)
    sessions: Sessions = make_sessionmaker(engine)
    try:
        worker = make_user(sessions, "skip.worker", "link_worker")
        first = add_referral(sessions, cipher, priority="urgent")
        second = add_referral(sessions, cipher)
        with engine.connect() as holder:
            holder.execute(
                text("SELECT 1 FROM referrals WHERE referral_id = :id FOR UPDATE"), {"id": first}
            )
            # Not blocked: the locked, more pressing one is skipped.
            assert claim_next(sessions, cipher, Staff(worker.id, "link_worker")) == second
            holder.rollback()
    finally:
        engine.dispose()


def test_claim_ids_are_uuids(sessions: Sessions, cipher: Cipher, crew: Crew) -> None:
    add_referral(sessions, cipher)
    assert uuid.UUID(claim_next(sessions, cipher, crew.staff("worker")))
