"""Nothing personal reaches the database in clear: raw SQLite bytes and a PostgreSQL text dump."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from handoff import escalations
from tests.handoff.store import CONVERSATION, Sessions, escalate, submit
from tests.support.db import fresh_settings, sqlite_url_in
from tests.support.referrals import OWN_WORDS, TEST_PHONE, make_referral
from youthlink.crypto import Cipher
from youthlink.db import make_engine, make_sessionmaker
from youthlink.migrations import upgrade

EXCERPT = "the man at the bus station keeps messaging me"
ACTION_TAKEN = "rang the designated safeguarding lead at Oakfield Academy"
PERSONAL = (TEST_PHONE, OWN_WORDS, EXCERPT, ACTION_TAKEN, "Lighthouse Lane")


def store_everything(sessions: Sessions, cipher: Cipher) -> None:
    """A referral with an address and own words, an escalation, and staff's notes on it."""
    escalation = escalate(sessions, cipher, excerpt=EXCERPT, categories=["sexual_abuse"])
    record = make_referral()
    record["young_person"]["school_or_college"] = "Lighthouse Lane School"
    submit(sessions, cipher, record, lookup={CONVERSATION: ("sms", TEST_PHONE)}.get)
    with sessions.begin() as session:
        escalations.close(
            session,
            cipher,
            escalation.escalation_id,
            by="lead.sam",
            outcome="referred_to_police",
            action_taken=ACTION_TAKEN,
        )


def assert_clear_of_personal(dump: bytes) -> None:
    for secret in PERSONAL:
        assert secret.encode("utf-8") not in dump, f"{secret!r} is stored in clear"
        assert secret.encode("utf-8").hex().encode() not in dump.lower(), f"{secret!r} as hex"


def sqlite_bytes(url: str) -> bytes:
    database = make_url(url).database
    assert database
    files = [Path(database), Path(database + "-wal"), Path(database + "-journal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def test_sqlite_file_and_wal_hold_nothing_personal(tmp_path: Path) -> None:
    url = sqlite_url_in(tmp_path)
    upgrade(url)
    settings = fresh_settings(url)
    cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
    engine = make_engine(url)
    try:
        store_everything(make_sessionmaker(engine), cipher)
        live = sqlite_bytes(url)  # with the write-ahead log not yet checkpointed
        assert Path(f"{make_url(url).database}-wal").exists()
    finally:
        engine.dispose()
    checkpointed = sqlite_bytes(url)
    # The scan would see clear text: the non-personal queue columns are there.
    assert b"anxiety_stress" in live + checkpointed
    assert_clear_of_personal(live)
    assert_clear_of_personal(checkpointed)


@pytest.mark.integration
def test_postgresql_rows_hold_nothing_personal(pg_url: str) -> None:
    settings = fresh_settings(pg_url)
    cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
    engine: Engine = make_engine(pg_url)
    try:
        store_everything(make_sessionmaker(engine), cipher)
        with engine.connect() as conn:
            dump = "\n".join(
                conn.execute(text(f"SELECT t::text FROM {table} t")).scalar_one()
                for table in ("referrals", "escalations")
            )
    finally:
        engine.dispose()
    assert "anxiety_stress" in dump
    assert "sexual_abuse" in dump
    assert_clear_of_personal(dump.encode("utf-8"))
