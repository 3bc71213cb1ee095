"""The escalation log on SQLite and PostgreSQL: recording, flagging referrals, staff transitions."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from handoff import escalations, referrals
from handoff.errors import EscalationNotFound, InvalidEscalation, InvalidTransition
from handoff.models import EscalationRow, ReferralRow
from handoff.validation import validate_referral
from tests.handoff.store import CONVERSATION, Sessions, escalate, read, rows, submit
from tests.support.referrals import make_referral
from youthlink.crypto import Cipher


def test_an_escalation_creates_an_early_urgent_referral(sessions: Sessions, cipher: Cipher) -> None:
    escalation = escalate(sessions, cipher, severity=5, categories=["self_harm", "suicide"])
    assert escalation.status == "open"
    assert escalation.severity == 5
    assert escalation.categories == ("self_harm", "suicide")
    assert escalation.rule_ids == ("self_harm.cutting",)
    assert escalation.excerpt is None  # only when asked for
    (row,) = rows(sessions)
    assert row.referral_id == escalation.referral_id
    assert (row.submitted, row.priority, row.flagged, row.status) == (False, "urgent", True, "new")
    assert row.flags == ["escalated"]
    record = read(sessions, cipher, row.referral_id)
    validate_referral(record)
    assert record["source"] == {
        "channel": "sms",
        "conversation_id": CONVERSATION,
        "completed": False,
    }
    assert record["consent"]["share_with_link_worker"] is False
    assert record["young_person"]["age_band"] == "13_15"
    assert record["safeguarding"] == {
        "flagged": True,
        "highest_severity": 5,
        "categories": ["self_harm", "suicide"],
        "escalation_ids": [escalation.escalation_id],
    }


def test_a_second_escalation_flags_the_same_referral(sessions: Sessions, cipher: Cipher) -> None:
    first = escalate(sessions, cipher, severity=4, categories=["self_harm"])
    second = escalate(sessions, cipher, severity=5, categories=["suicide", "self_harm"])
    assert first.referral_id == second.referral_id
    (row,) = rows(sessions)
    assert row.highest_severity == 5
    record = read(sessions, cipher, row.referral_id)
    assert record["safeguarding"]["categories"] == ["self_harm", "suicide"]
    assert record["safeguarding"]["escalation_ids"] == [first.escalation_id, second.escalation_id]


def test_an_escalation_after_submission_makes_that_referral_urgent(
    sessions: Sessions, cipher: Cipher
) -> None:
    referral_id = submit(sessions, cipher, make_referral())
    escalation = escalate(sessions, cipher, severity=4, categories=["abuse"])
    assert escalation.referral_id == referral_id
    (row,) = rows(sessions)
    assert (row.priority, row.flagged, row.submitted, row.status) == ("urgent", True, True, "new")
    record = read(sessions, cipher, referral_id)
    assert record["safeguarding"]["categories"] == ["abuse"]
    assert record["concerns"]  # the young person's answers are untouched


def test_an_escalation_after_withdrawal_starts_a_new_early_referral(
    sessions: Sessions, cipher: Cipher
) -> None:
    referral_id = submit(sessions, cipher, make_referral())
    with sessions.begin() as session:
        referrals.withdraw_conversation(session, cipher, CONVERSATION)
    escalation = escalate(sessions, cipher)
    assert escalation.referral_id not in (None, referral_id)


def test_unknown_categories_are_kept_on_the_escalation(sessions: Sessions, cipher: Cipher) -> None:
    escalation = escalate(sessions, cipher, categories=["self_harm", "brand_new_category"])
    assert escalation.categories == ("self_harm", "brand_new_category")
    assert escalation.referral_id is not None
    record = read(sessions, cipher, escalation.referral_id)
    assert record["safeguarding"]["categories"] == ["self_harm"]


def test_the_same_escalation_id_is_recorded_once(sessions: Sessions, cipher: Cipher) -> None:
    given = str(uuid.uuid4())
    first = escalate(sessions, cipher, escalation_id=given)
    again = escalate(sessions, cipher, escalation_id=given, severity=4)
    assert first.escalation_id == again.escalation_id == given
    assert again.severity == 5
    with sessions.begin() as session:
        assert len(session.scalars(select(EscalationRow)).all()) == 1
    (row,) = rows(sessions)
    assert read(sessions, cipher, row.referral_id)["safeguarding"]["escalation_ids"] == [given]


@pytest.mark.parametrize(
    "bad",
    [
        {"channel": "pigeon"},
        {"severity": 6},
        {"severity": -1},
        {"severity": True},
        {"conversation_id": ""},
        {"categories": "self_harm"},
    ],
)
def test_invalid_escalations_are_refused(
    sessions: Sessions, cipher: Cipher, bad: dict[str, Any]
) -> None:
    with pytest.raises(InvalidEscalation):
        escalate(sessions, cipher, **bad)
    assert rows(sessions) == []


def test_the_excerpt_is_stored_encrypted_and_read_only_on_request(
    sessions: Sessions, cipher: Cipher
) -> None:
    escalation = escalate(sessions, cipher, excerpt="nobody can know about the red door")
    with sessions.begin() as session:
        row = session.get(EscalationRow, escalation.escalation_id)
        assert row is not None
        assert b"red door" not in row.excerpt_encrypted
        full = escalations.get_escalation(session, cipher, escalation.escalation_id, personal=True)
    assert full.excerpt == "nobody can know about the red door"
    assert "red door" not in repr(full)
    assert "excerpt" not in full.to_public_dict()


def test_list_filters_by_conversation_and_status(sessions: Sessions, cipher: Cipher) -> None:
    mine = escalate(sessions, cipher)
    escalate(sessions, cipher, conversation_id="c_other")
    with sessions.begin() as session:
        found = escalations.list_escalations(session, cipher, conversation_id=CONVERSATION)
        assert [e.escalation_id for e in found] == [mine.escalation_id]
        assert len(escalations.list_escalations(session, cipher, status="open")) == 2
        assert escalations.list_escalations(session, cipher, status="closed") == []


def test_acknowledge_then_close(sessions: Sessions, cipher: Cipher) -> None:
    escalation_id = escalate(sessions, cipher).escalation_id
    with sessions.begin() as session:
        acknowledged = escalations.acknowledge(session, cipher, escalation_id, by="lead.sam")
    assert acknowledged.status == "acknowledged"
    assert acknowledged.acknowledged_by == "lead.sam"
    assert acknowledged.acknowledged_at is not None
    with sessions.begin() as session, pytest.raises(InvalidTransition):
        escalations.acknowledge(session, cipher, escalation_id, by="lead.sam")
    with sessions.begin() as session:
        closed = escalations.close(
            session,
            cipher,
            escalation_id,
            by="lead.ali",
            outcome="referred_to_social_care",
            action_taken="called the duty team",
        )
    assert (closed.status, closed.closed_by, closed.outcome) == (
        "closed",
        "lead.ali",
        "referred_to_social_care",
    )
    assert closed.acknowledged_by == "lead.sam"
    with sessions.begin() as session:
        row = session.get(EscalationRow, escalation_id)
        assert row is not None and row.action_taken_encrypted is not None
        assert b"duty team" not in row.action_taken_encrypted
        full = escalations.get_escalation(session, cipher, escalation_id, personal=True)
        assert full.action_taken == "called the duty team"
        with pytest.raises(InvalidTransition):
            escalations.close(session, cipher, escalation_id, by="lead.ali", outcome="again")


def test_closing_an_open_escalation_acknowledges_it_too(sessions: Sessions, cipher: Cipher) -> None:
    escalation_id = escalate(sessions, cipher).escalation_id
    with sessions.begin() as session:
        closed = escalations.close(
            session, cipher, escalation_id, by="lead.sam", outcome="advice_given"
        )
    assert closed.acknowledged_by == "lead.sam"
    assert closed.acknowledged_at == closed.closed_at


@pytest.mark.parametrize(
    ("by", "outcome"), [("", "advice_given"), ("lead", "Called Mum at 0113 496 0000")]
)
def test_close_needs_a_name_and_a_slug_outcome(
    sessions: Sessions, cipher: Cipher, by: str, outcome: str
) -> None:
    escalation_id = escalate(sessions, cipher).escalation_id
    with sessions.begin() as session, pytest.raises(InvalidEscalation):
        escalations.close(session, cipher, escalation_id, by=by, outcome=outcome)


def test_unknown_escalation(sessions: Sessions, cipher: Cipher) -> None:
    with sessions.begin() as session, pytest.raises(EscalationNotFound):
        escalations.acknowledge(session, cipher, str(uuid.uuid4()), by="lead")


def test_an_escalation_links_to_its_referral(sessions: Sessions, cipher: Cipher) -> None:
    escalation = escalate(sessions, cipher)
    with sessions.begin() as session:
        row = session.get(EscalationRow, escalation.escalation_id)
        assert row is not None
        assert session.get(ReferralRow, row.referral_id) is not None


def test_an_escalation_fills_in_an_unknown_age_band(sessions: Sessions, cipher: Cipher) -> None:
    first = escalate(sessions, cipher, age_band="unknown")
    escalate(sessions, cipher, age_band="16_17")
    assert first.referral_id is not None
    assert read(sessions, cipher, first.referral_id)["young_person"]["age_band"] == "16_17"
