"""The referral store on SQLite and PostgreSQL: submit, merge, address, withdraw."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from handoff import referrals
from handoff.errors import Conflict, InvalidReferral, ReferralNotFound, ReferralWithdrawn
from handoff.models import EscalationRow, ReferralRow
from handoff.validation import validate_referral
from tests.handoff.store import CONVERSATION, Sessions, escalate, read, rows, submit
from tests.support.referrals import OWN_WORDS, TEST_PHONE, make_referral
from youthlink.crypto import Cipher


def test_submit_and_read_back(sessions: Sessions, cipher: Cipher) -> None:
    record = make_referral()
    referral_id = submit(sessions, cipher, record, flags=("asked_for_person",))
    assert referral_id == record["referral_id"]
    stored = read(sessions, cipher, referral_id)
    validate_referral(stored)
    assert stored["concerns"] == record["concerns"]
    assert stored["young_person"] == record["young_person"]
    assert stored["status"] == "new"
    (row,) = rows(sessions)
    assert row.submitted is True
    assert row.flags == ["asked_for_person"]
    assert row.age_band == "13_15"
    assert row.interest_categories == ["sport_fitness"]
    assert row.concern_categories == ["anxiety_stress", "sleep"]
    assert row.channel == "sms"
    assert row.priority == "routine"
    assert row.created_at.tzinfo is not None


def test_the_store_sets_status_and_timestamps(sessions: Sessions, cipher: Cipher) -> None:
    record = make_referral(status="closed", created_at="2001-01-01T00:00:00+00:00")
    stored = read(sessions, cipher, submit(sessions, cipher, record))
    assert stored["status"] == "new"
    assert not stored["created_at"].startswith("2001")
    assert stored["updated_at"] == stored["created_at"]


def test_severity_makes_a_referral_urgent(sessions: Sessions, cipher: Cipher) -> None:
    record = make_referral()
    record["safeguarding"].update(flagged=True, highest_severity=3, categories=["self_harm"])
    stored = read(sessions, cipher, submit(sessions, cipher, record))
    assert stored["priority"] == "urgent"


def test_an_invalid_record_is_refused_and_nothing_stored(
    sessions: Sessions, cipher: Cipher
) -> None:
    record = make_referral()
    record["young_person"]["age_band"] = "teen"
    with pytest.raises(InvalidReferral, match=r"referral\.young_person\.age_band"):
        submit(sessions, cipher, record)
    assert rows(sessions) == []


def test_submitting_the_same_referral_twice_stores_one(sessions: Sessions, cipher: Cipher) -> None:
    record = make_referral()
    assert submit(sessions, cipher, record) == submit(sessions, cipher, record)
    assert len(rows(sessions)) == 1


def test_a_second_completed_referral_is_a_new_one(sessions: Sessions, cipher: Cipher) -> None:
    first = submit(sessions, cipher, make_referral())
    second = submit(sessions, cipher, make_referral())
    assert first != second
    with sessions.begin() as session:
        found = referrals.referrals_for_conversation(session, cipher, CONVERSATION)
    assert [r["referral_id"] for r in found] == [first, second]


def test_an_id_of_another_conversation_is_a_conflict(sessions: Sessions, cipher: Cipher) -> None:
    record = make_referral()
    submit(sessions, cipher, record)
    other = make_referral(
        "c_other",
        referral_id=record["referral_id"],
        source={"channel": "sms", "conversation_id": "c_other"},
    )
    with pytest.raises(Conflict):
        submit(sessions, cipher, other)


def test_unknown_referral(sessions: Sessions, cipher: Cipher) -> None:
    with pytest.raises(ReferralNotFound):
        read(sessions, cipher, "00000000-0000-4000-8000-000000000000")


def test_the_full_referral_merges_into_the_early_escalation_one(
    sessions: Sessions, cipher: Cipher
) -> None:
    escalation = escalate(sessions, cipher)
    early_id = escalation.referral_id
    assert early_id is not None
    full = make_referral()  # the action server knows nothing of the escalation
    referral_id = submit(sessions, cipher, full, flags=("asked_for_person",))
    assert referral_id == early_id
    (row,) = rows(sessions)
    assert row.submitted is True
    assert row.priority == "urgent"
    assert row.flagged is True
    assert row.highest_severity == 5
    assert set(row.flags) == {"escalated", "asked_for_person"}
    stored = read(sessions, cipher, referral_id)
    validate_referral(stored)
    assert stored["source"]["completed"] is True
    assert stored["safeguarding"]["escalation_ids"] == [escalation.escalation_id]
    assert stored["safeguarding"]["categories"] == ["self_harm"]
    assert stored["concerns"] == full["concerns"]
    assert stored["contact"]["safe_to_contact"] is True
    # Retrying the full submission neither duplicates nor changes the merged referral.
    assert submit(sessions, cipher, full) == early_id
    assert len(rows(sessions)) == 1


def test_an_early_referral_already_claimed_keeps_its_status(
    sessions: Sessions, cipher: Cipher
) -> None:
    early_id = escalate(sessions, cipher).referral_id
    with sessions.begin() as session:
        row = session.get(ReferralRow, early_id)
        assert row is not None
        record = referrals.decrypt_record(cipher, row)
        record["status"] = "claimed"
        referrals.store_record(cipher, row, record, now=referrals.utcnow())
    assert submit(sessions, cipher, make_referral()) == early_id
    assert read(sessions, cipher, early_id)["status"] == "claimed"


def test_a_closed_early_referral_is_not_merged_into(sessions: Sessions, cipher: Cipher) -> None:
    early_id = escalate(sessions, cipher).referral_id
    with sessions.begin() as session:
        row = session.get(ReferralRow, early_id)
        assert row is not None
        record = referrals.decrypt_record(cipher, row)
        record["status"] = "closed"
        referrals.store_record(cipher, row, record, now=referrals.utcnow())
    assert submit(sessions, cipher, make_referral()) != early_id


@pytest.mark.parametrize(
    ("conversation", "method", "expected"),
    [
        (("sms", TEST_PHONE), "sms", TEST_PHONE),
        (("sms", TEST_PHONE), "phone_call", TEST_PHONE),
        (("whatsapp", TEST_PHONE), "phone_call", TEST_PHONE),
        (("telegram", "123456789"), "telegram", "123456789"),
        (("telegram", "123456789"), "phone_call", None),
        (("sms", TEST_PHONE), "telegram", None),
        (("sms", TEST_PHONE), "none", None),
    ],
)
def test_contact_address_comes_from_the_conversation(
    sessions: Sessions,
    cipher: Cipher,
    conversation: tuple[str, str],
    method: str,
    expected: str | None,
) -> None:
    record = make_referral()
    record["contact"]["method"] = method
    referral_id = submit(sessions, cipher, record, lookup={CONVERSATION: conversation}.get)
    assert read(sessions, cipher, referral_id)["contact"]["address"] == expected


def test_an_address_the_young_person_gave_is_kept(sessions: Sessions, cipher: Cipher) -> None:
    record = make_referral()
    record["contact"]["address"] = "+447700900999"
    referral_id = submit(sessions, cipher, record, lookup={CONVERSATION: ("sms", TEST_PHONE)}.get)
    assert read(sessions, cipher, referral_id)["contact"]["address"] == "+447700900999"


def test_no_known_conversation_leaves_the_address_empty(sessions: Sessions, cipher: Cipher) -> None:
    nobody: dict[str, tuple[str, str]] = {}
    referral_id = submit(sessions, cipher, make_referral(), lookup=nobody.get)
    assert read(sessions, cipher, referral_id)["contact"]["address"] is None


def test_delete_removes_a_draft_but_keeps_its_escalation(
    sessions: Sessions, cipher: Cipher
) -> None:
    escalation = escalate(sessions, cipher)
    with sessions.begin() as session:
        assert referrals.withdraw_conversation(session, cipher, CONVERSATION) == 1
    assert rows(sessions) == []
    with sessions.begin() as session:
        (kept,) = session.scalars(select(EscalationRow)).all()
        assert kept.escalation_id == escalation.escalation_id
        assert kept.referral_id is None
        assert cipher.decrypt(kept.excerpt_encrypted) == "i cut myself last week"


def test_delete_withdraws_and_wipes_a_submitted_referral(
    sessions: Sessions, cipher: Cipher
) -> None:
    record = make_referral()
    referral_id = submit(sessions, cipher, record, lookup={CONVERSATION: ("sms", TEST_PHONE)}.get)
    with sessions.begin() as session:
        assert referrals.withdraw_conversation(session, cipher, CONVERSATION) == 1
    stored = read(sessions, cipher, referral_id)
    validate_referral(stored)
    assert stored["status"] == "withdrawn"
    assert stored["contact"]["address"] is None
    assert OWN_WORDS not in repr(stored)
    assert "Jay" not in repr(stored)
    (row,) = rows(sessions)
    assert row.status == "withdrawn"
    # A withdrawn referral is not brought back by a retried submission.
    with pytest.raises(ReferralWithdrawn):
        submit(sessions, cipher, record)
    # Deleting again finds nothing left to delete.
    with sessions.begin() as session:
        assert referrals.withdraw_conversation(session, cipher, CONVERSATION) == 0


def test_delete_touches_only_its_own_conversation(sessions: Sessions, cipher: Cipher) -> None:
    other = make_referral("c_other")
    submit(sessions, cipher, other)
    submit(sessions, cipher, make_referral())
    with sessions.begin() as session:
        assert referrals.withdraw_conversation(session, cipher, CONVERSATION) == 1
    assert read(sessions, cipher, other["referral_id"])["status"] == "new"
    assert OWN_WORDS in repr(read(sessions, cipher, other["referral_id"]))


def test_asking_for_a_person_early_then_finishing_is_one_referral(
    sessions: Sessions, cipher: Cipher
) -> None:
    early = make_referral(
        source={"channel": "sms", "conversation_id": CONVERSATION, "completed": False},
        concerns=[],
        interests=[],
        priority="priority",
    )
    early_id = submit(sessions, cipher, early, flags=("asked_for_person",))
    (row,) = rows(sessions)
    assert row.submitted is False
    full = make_referral()
    assert submit(sessions, cipher, full) == early_id
    (row,) = rows(sessions)
    assert (row.submitted, row.priority, row.flags) == (True, "priority", ["asked_for_person"])
    assert read(sessions, cipher, early_id)["concerns"] == full["concerns"]
