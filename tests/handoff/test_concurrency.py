"""Writers racing on one conversation still leave one early referral, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from handoff.models import EscalationRow, ReferralRow
from tests.handoff.store import CONVERSATION, Sessions, escalate, read, submit
from tests.support.db import fresh_settings
from tests.support.referrals import make_referral
from youthlink.crypto import Cipher
from youthlink.db import make_engine, make_sessionmaker

RACERS = 8


def cipher_for(url: str) -> Cipher:
    settings = fresh_settings(url)
    return Cipher.from_keys(settings.encryption_keys, settings.hash_key)


def test_simultaneous_escalations_share_one_early_referral(database_url: str) -> None:
    cipher = cipher_for(database_url)
    engine = make_engine(database_url, pool_size=RACERS)
    sessions: Sessions = make_sessionmaker(engine)
    try:
        with ThreadPoolExecutor(RACERS) as pool:
            results = list(pool.map(lambda _: escalate(sessions, cipher), range(RACERS)))
        referral_ids = {e.referral_id for e in results}
        assert len(referral_ids) == 1
        with sessions.begin() as session:
            assert session.scalar(select(func.count()).select_from(ReferralRow)) == 1
            assert session.scalar(select(func.count()).select_from(EscalationRow)) == RACERS
        (referral_id,) = referral_ids
        assert referral_id is not None
        record = read(sessions, cipher, referral_id)
        assert sorted(record["safeguarding"]["escalation_ids"]) == sorted(
            e.escalation_id for e in results
        )
    finally:
        engine.dispose()


def test_a_submission_racing_an_escalation_is_merged(database_url: str) -> None:
    cipher = cipher_for(database_url)
    engine = make_engine(database_url, pool_size=4)
    sessions: Sessions = make_sessionmaker(engine)
    try:
        record = make_referral(
            source={"channel": "sms", "conversation_id": CONVERSATION, "completed": False}
        )
        with ThreadPoolExecutor(2) as pool:
            submitted = pool.submit(submit, sessions, cipher, record)
            escalated = pool.submit(escalate, sessions, cipher)
            referral_id, escalation = submitted.result(), escalated.result()
        assert escalation.referral_id == referral_id
        with sessions.begin() as session:
            assert session.scalar(select(func.count()).select_from(ReferralRow)) == 1
    finally:
        engine.dispose()
