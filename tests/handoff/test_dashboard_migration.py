"""The handoff_0002 migration: the staff tables match the models on both databases, and it
steps back and forward without losing referrals or unlinking escalations."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from handoff.models import EscalationRow, ReferralRow
from tests.handoff.store import escalate
from tests.support.db import fresh_settings, sqlite_url_in
from youthlink.crypto import Cipher
from youthlink.db import Base, make_engine, make_sessionmaker
from youthlink.migrations import downgrade, upgrade

STAFF_TABLES = {
    "users",
    "staff_sessions",
    "referral_notes",
    "contact_attempts",
    "rota_entries",
    "audit_log",
}
QUEUE_COLUMNS = {"owner_id", "claimed_at", "touched_at", "first_contact_at", "closed_at", "outcome"}


def differences(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()

    def touches_ours(diff: object) -> bool:
        text_form = repr(diff)
        return any(f"'{t}'" in text_form or f"{t}." in text_form for t in STAFF_TABLES) or any(
            c in text_form for c in QUEUE_COLUMNS
        )

    return [d for d in diffs if touches_ours(d)]


def test_the_staff_tables_match_the_models(database_url: str) -> None:
    assert differences(database_url) == []
    engine = make_engine(database_url)
    try:
        assert set(inspect(engine).get_table_names()) >= STAFF_TABLES
        columns = {c["name"] for c in inspect(engine).get_columns("referrals")}
        assert columns >= QUEUE_COLUMNS
        with engine.connect() as conn:
            versions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        assert "handoff_0002" in versions
    finally:
        engine.dispose()


def test_stepping_back_and_forward_keeps_referrals_linked(tmp_path: Path) -> None:
    url = sqlite_url_in(tmp_path)
    upgrade(url)
    settings = fresh_settings(url)
    cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
    engine = make_engine(url)
    try:
        escalation = escalate(make_sessionmaker(engine), cipher)
        engine.dispose()
        downgrade(url, "handoff_0001")
        assert not STAFF_TABLES & set(inspect(engine).get_table_names())
        upgrade(url)
        with make_sessionmaker(engine).begin() as session:
            linked = session.scalar(
                select(EscalationRow.referral_id).where(
                    EscalationRow.escalation_id == escalation.escalation_id
                )
            )
            assert linked == escalation.referral_id
            assert session.get(ReferralRow, linked) is not None
    finally:
        engine.dispose()


@pytest.mark.unit
def test_the_revision_follows_handoff_0001() -> None:
    from youthlink.migrations.versions import handoff_0002_queue_staff_audit as revision

    assert revision.down_revision == "handoff_0001"
    assert revision.branch_labels is None
