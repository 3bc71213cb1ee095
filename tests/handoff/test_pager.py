"""The pager's rules and store on SQLite and PostgreSQL: rounds, the rota, the outbox, retries."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from handoff import escalations, pages
from handoff.models import RotaEntryRow, UserRow
from handoff.pager import (
    Outcome,
    Pager,
    PagerPolicy,
    backoff,
    escalate_unacknowledged,
    page_for_escalation,
    page_new_escalations,
    page_text,
    planning_due,
    record_outcome,
    retry_delay,
)
from handoff.pager_models import PageRow, PagingRow
from handoff.pager_rota import OnCallContact, RotaTable, StaticRota, contacts_for_round
from handoff.senders import SendFailed
from tests.handoff.store import CONVERSATION, Sessions, escalate
from tests.support.db import sqlite_url_in
from youthlink.config import Settings
from youthlink.crypto import Cipher
from youthlink.db import make_engine
from youthlink.errors import ConfigurationError
from youthlink.migrations import downgrade, upgrade

DASHBOARD = "https://youthlink.example.org"
T0 = datetime(2026, 3, 2, 22, 15, tzinfo=UTC)
# Ofcom's drama range and made-up chat ids: nobody's.
LEAD_1 = OnCallContact("user:1", 1, {"sms": "+447700900101", "telegram": "5550101"})
LEAD_2 = OnCallContact("user:2", 2, {"sms": "+447700900102"})
LEAD_3 = OnCallContact("user:3", 3, {"telegram": "5550103"})
ROTA = StaticRota((LEAD_3, LEAD_1, LEAD_2))
EXCERPT = "i cut myself last week"


def pager_for(cipher: Cipher, rota: StaticRota = ROTA, **policy: object) -> Pager:
    return Pager(cipher, rota, PagerPolicy(dashboard_url=DASHBOARD, **policy))  # type: ignore[arg-type]


def page_rows(sessions: Sessions) -> list[PageRow]:
    with sessions.begin() as session:
        return list(session.scalars(select(PageRow).order_by(PageRow.id)))


def paging(sessions: Sessions, escalation_id: str) -> PagingRow:
    with sessions.begin() as session:
        row = session.get(PagingRow, escalation_id)
        assert row is not None
        return row


def start(sessions: Sessions, cipher: Cipher, pager: Pager, **kwargs: object) -> str:
    escalation = escalate(sessions, cipher, now=T0, **kwargs)
    with sessions.begin() as session:
        page_for_escalation(session, escalation.escalation_id, pager, now=T0)
    return escalation.escalation_id


def claim(
    sessions: Sessions, cipher: Cipher, now: datetime, **kwargs: object
) -> list[pages.DuePage]:
    with sessions.begin() as session:
        return pages.claim_due(
            session,
            cipher,
            now=now,
            lease=timedelta(minutes=2),
            **kwargs,  # type: ignore[arg-type]
        )


def record(sessions: Sessions, pager: Pager, outcome: Outcome, now: datetime) -> str:
    with sessions.begin() as session:
        return record_outcome(session, outcome, pager, now)


# -- pure rules ----------------------------------------------------------------------------------


@pytest.mark.unit
def test_the_first_page_names_severity_and_link_only() -> None:
    body = page_text(
        severity=5, escalation_id="e1", dashboard_url=DASHBOARD, round_=0, waited=timedelta(0)
    )
    assert (
        body
        == f"YouthLink: new severity-5 escalation. Open the dashboard: {DASHBOARD}/escalations/e1"
    )
    assert len(body.replace("e1", str(uuid.uuid4()))) <= 160  # one SMS segment
    again = page_text(
        severity=4,
        escalation_id="e1",
        dashboard_url=DASHBOARD,
        round_=2,
        waited=timedelta(minutes=31, seconds=50),
    )
    assert again == (
        f"YouthLink reminder 2: severity-4 escalation unacknowledged for 31 min: {DASHBOARD}"
        "/escalations/e1"
    )
    uuid_link = page_text(
        severity=5,
        escalation_id=str(uuid.uuid4()),
        dashboard_url=DASHBOARD,
        round_=12,
        waited=timedelta(minutes=180),
    )
    assert len(uuid_link) <= 160


@pytest.mark.unit
def test_backoff_doubles_up_to_the_cap_and_retry_after_wins() -> None:
    policy = PagerPolicy(dashboard_url=DASHBOARD)
    assert [backoff(n, policy).total_seconds() for n in range(1, 9)] == [
        2, 4, 8, 16, 32, 64, 120, 120,
    ]  # fmt: skip
    assert retry_delay(SendFailed("x:500"), 1, policy) == timedelta(seconds=2)
    assert retry_delay(SendFailed("x:429", retry_after=7), 1, policy) == timedelta(seconds=7)
    # A provider asking for an hour still gets the page retried before the next round.
    assert retry_delay(SendFailed("x:429", retry_after=3600), 1, policy) == policy.repage_after
    assert retry_delay(SendFailed("x:21610", permanent=True), 1, policy) is None
    assert retry_delay(SendFailed("x:500"), policy.max_attempts, policy) is None


@pytest.mark.unit
def test_each_round_wakes_the_next_place_on_the_rota() -> None:
    def refs(round_: int) -> list[str]:
        return [c.ref for c in contacts_for_round(ROTA.contacts, round_)]

    assert refs(0) == ["user:1"]
    assert refs(1) == ["user:1", "user:2"]
    assert refs(2) == refs(3) == ["user:1", "user:2", "user:3"]
    shared = [LEAD_1, OnCallContact("user:9", 1, {}), LEAD_2, OnCallContact("user:1", 3, {})]
    assert [c.ref for c in contacts_for_round(shared, 0)] == ["user:1", "user:9"]
    assert [c.ref for c in contacts_for_round(shared, 5)] == ["user:1", "user:9", "user:2"]
    assert contacts_for_round([], 0) == []


@pytest.mark.unit
def test_the_policy_comes_from_the_settings() -> None:
    settings = Settings(public_url="https://yl.example.org", escalate_at=3)
    policy = PagerPolicy.from_settings(settings)
    assert (policy.dashboard_url, policy.threshold) == ("https://yl.example.org", 3)
    assert policy.repage_after == timedelta(minutes=15)
    five = Settings(extra={"YOUTHLINK_X_PAGER_REPAGE_MINUTES": "5"})
    assert PagerPolicy.from_settings(five).repage_after == timedelta(minutes=5)
    assert PagerPolicy.from_settings(Settings()).dashboard_url == "http://127.0.0.1:8081"
    for bad in ("soon", "0"):
        with pytest.raises(ConfigurationError):
            PagerPolicy.from_settings(Settings(extra={"YOUTHLINK_X_PAGER_REPAGE_MINUTES": bad}))
    assert repr(LEAD_1).count("+4477") == 0  # addresses stay out of reprs and so out of logs


# -- starting to page ----------------------------------------------------------------------------


def test_an_escalation_pages_the_first_place_on_every_channel(
    sessions: Sessions, cipher: Cipher
) -> None:
    escalation_id = start(sessions, cipher, pager_for(cipher))
    rows = page_rows(sessions)
    assert [(r.contact_ref, r.channel, r.round, r.status) for r in rows] == [
        ("user:1", "sms", 0, "pending"),
        ("user:1", "telegram", 0, "pending"),
    ]
    assert {cipher.decrypt(r.address_encrypted) for r in rows} == {"+447700900101", "5550101"}
    link = f"{DASHBOARD}/escalations/{escalation_id}"
    expected = f"YouthLink: new severity-5 escalation. Open the dashboard: {link}"
    assert {r.body for r in rows} == {expected}
    assert all(r.next_attempt_at == T0 and r.attempts == 0 for r in rows)
    state = paging(sessions, escalation_id)
    assert (state.rounds, state.next_round_at) == (1, T0 + timedelta(minutes=15))


def test_paging_an_escalation_twice_pages_once(sessions: Sessions, cipher: Cipher) -> None:
    pager = pager_for(cipher)
    escalation_id = start(sessions, cipher, pager)
    with sessions.begin() as session:
        again = page_for_escalation(session, escalation_id, pager, now=T0 + timedelta(seconds=5))
        assert page_new_escalations(session, pager, now=T0 + timedelta(seconds=5)) == []
    assert [p.page_id for p in again] == [r.id for r in page_rows(sessions)]
    assert len(again) == 2


def test_only_open_escalations_at_the_threshold_are_paged(
    sessions: Sessions, cipher: Cipher
) -> None:
    pager = pager_for(cipher, threshold=4)
    low = escalate(sessions, cipher, severity=3, conversation_id="c_low", now=T0)
    seen = escalate(sessions, cipher, severity=5, conversation_id="c_seen", now=T0)
    with sessions.begin() as session:
        escalations.acknowledge(session, cipher, seen.escalation_id, by="lead", now=T0)
    high = escalate(sessions, cipher, severity=4, conversation_id="c_high", now=T0)
    with sessions.begin() as session:
        assert page_for_escalation(session, low.escalation_id, pager, now=T0) == []
        assert page_for_escalation(session, seen.escalation_id, pager, now=T0) == []
    with sessions.begin() as session:
        assert page_new_escalations(session, pager, now=T0) == [high.escalation_id]
    assert {r.escalation_id for r in page_rows(sessions)} == {high.escalation_id}


def test_an_idle_pager_finds_nothing_to_do_without_locking(
    sessions: Sessions, cipher: Cipher
) -> None:
    pager = pager_for(cipher)
    with sessions.begin() as session:
        assert not planning_due(session, pager, T0)
        assert not pages.any_due(session, T0)
    escalation = escalate(sessions, cipher, now=T0)
    with sessions.begin() as session:
        assert planning_due(session, pager, T0)
        page_for_escalation(session, escalation.escalation_id, pager, now=T0)
    with sessions.begin() as session:
        assert not planning_due(session, pager, T0 + timedelta(minutes=14))
        assert planning_due(session, pager, T0 + timedelta(minutes=15))
        assert pages.any_due(session, T0) and not pages.any_due(session, T0 - timedelta(seconds=1))
        escalations.acknowledge(session, cipher, escalation.escalation_id, by="lead", now=T0)
        assert planning_due(session, pager, T0)  # paging to stop
        assert not pages.any_due(session, T0)  # and nothing to send for it


def test_only_channels_with_a_sender_get_pages(sessions: Sessions, cipher: Cipher) -> None:
    pager = Pager(cipher, ROTA, PagerPolicy(dashboard_url=DASHBOARD), frozenset({"telegram"}))
    start(sessions, cipher, pager)
    assert [(r.contact_ref, r.channel) for r in page_rows(sessions)] == [("user:1", "telegram")]


def test_an_empty_rota_is_logged_and_looked_at_again_soon(
    sessions: Sessions, cipher: Cipher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    pager = pager_for(cipher, rota=StaticRota())
    escalation_id = start(sessions, cipher, pager)
    assert page_rows(sessions) == []
    assert paging(sessions, escalation_id).next_round_at == T0 + timedelta(minutes=1)
    assert "nobody on the rota can be paged" in caplog.text
    # Once someone is on the rota, the next look pages them.
    with sessions.begin() as session:
        escalate_unacknowledged(session, T0 + timedelta(minutes=1), pager_for(cipher))
    assert [r.contact_ref for r in page_rows(sessions)] == ["user:1", "user:1", "user:2"]


# -- re-paging -----------------------------------------------------------------------------------


def test_unacknowledged_escalations_page_again_and_the_next_on_the_rota(
    sessions: Sessions, cipher: Cipher
) -> None:
    pager = pager_for(cipher)
    escalation_id = start(sessions, cipher, pager)
    with sessions.begin() as session:
        assert escalate_unacknowledged(session, T0 + timedelta(minutes=14), pager) == []
    with sessions.begin() as session:
        repaged = escalate_unacknowledged(session, T0 + timedelta(minutes=15), pager)
    assert repaged == [escalation_id]
    second = [r for r in page_rows(sessions) if r.round == 1]
    assert [(r.contact_ref, r.channel) for r in second] == [
        ("user:1", "sms"),
        ("user:1", "telegram"),
        ("user:2", "sms"),
    ]
    assert all(r.body.startswith("YouthLink reminder 1: severity-5") for r in second)
    assert all("unacknowledged for 15 min: https://" in r.body for r in second)
    with sessions.begin() as session:
        escalate_unacknowledged(session, T0 + timedelta(minutes=30), pager)
        escalate_unacknowledged(session, T0 + timedelta(minutes=45), pager)
    rounds = [r.round for r in page_rows(sessions)]
    assert rounds.count(2) == 4 and rounds.count(3) == 4  # the whole rota, again and again
    assert paging(sessions, escalation_id).rounds == 4


def test_acknowledged_escalations_are_not_paged_again(sessions: Sessions, cipher: Cipher) -> None:
    pager = pager_for(cipher)
    escalation_id = start(sessions, cipher, pager)
    with sessions.begin() as session:
        escalations.acknowledge(
            session, cipher, escalation_id, by="lead", now=T0 + timedelta(minutes=3)
        )
    with sessions.begin() as session:
        assert escalate_unacknowledged(session, T0 + timedelta(hours=2), pager) == []
    assert {r.status for r in page_rows(sessions)} == {"cancelled"}
    state = paging(sessions, escalation_id)
    assert (state.next_round_at, state.stopped_because) == (None, "acknowledged")
    assert claim(sessions, cipher, T0 + timedelta(hours=3)) == []


def test_closed_escalations_stop_paging_too(sessions: Sessions, cipher: Cipher) -> None:
    pager = pager_for(cipher)
    escalation_id = start(sessions, cipher, pager)
    with sessions.begin() as session:
        escalations.close(session, cipher, escalation_id, by="lead", outcome="advice_given")
    with sessions.begin() as session:
        assert escalate_unacknowledged(session, T0 + timedelta(hours=1), pager) == []
    assert paging(sessions, escalation_id).stopped_because == "closed"


# -- the outbox ----------------------------------------------------------------------------------


def test_due_pages_are_claimed_once_per_lease(sessions: Sessions, cipher: Cipher) -> None:
    start(sessions, cipher, pager_for(cipher))
    assert claim(sessions, cipher, T0 - timedelta(seconds=1)) == []
    due = claim(sessions, cipher, T0)
    assert [(p.channel, p.address, p.attempt) for p in due] == [
        ("sms", "+447700900101", 1),
        ("telegram", "5550101", 1),
    ]
    assert "+447700900101" not in repr(due)
    assert claim(sessions, cipher, T0 + timedelta(seconds=119)) == []
    # A worker that never reported back: the pages come round again after the lease.
    again = claim(sessions, cipher, T0 + timedelta(minutes=2))
    assert [p.attempt for p in again] == [2, 2]
    assert len(claim(sessions, cipher, T0 + timedelta(minutes=9), limit=1)) == 1


def test_attempts_are_recorded_retried_and_given_up(sessions: Sessions, cipher: Cipher) -> None:
    pager = pager_for(cipher, max_attempts=3)
    start(sessions, cipher, pager)
    sms, telegram = claim(sessions, cipher, T0)
    assert record(sessions, pager, Outcome(telegram, provider_id="42"), T0) == "sent"
    assert (
        record(sessions, pager, Outcome(sms, failure=SendFailed("twilio:20500")), T0) == "pending"
    )
    rows = {r.channel: r for r in page_rows(sessions)}
    assert (rows["telegram"].status, rows["telegram"].provider_id) == ("sent", "42")
    assert rows["telegram"].sent_at == T0
    assert (rows["sms"].status, rows["sms"].last_error) == ("pending", "twilio:20500")
    assert rows["sms"].next_attempt_at == T0 + timedelta(seconds=2)

    (sms,) = claim(sessions, cipher, T0 + timedelta(seconds=2))
    limited = Outcome(sms, failure=SendFailed("twilio:429", retry_after=30))
    record(sessions, pager, limited, T0 + timedelta(seconds=2))
    assert page_rows(sessions)[0].next_attempt_at == T0 + timedelta(seconds=32)
    assert claim(sessions, cipher, T0 + timedelta(seconds=31)) == []

    (sms,) = claim(sessions, cipher, T0 + timedelta(seconds=32))
    assert sms.attempt == 3
    final = record(sessions, pager, Outcome(sms, failure=SendFailed("twilio:20500")), T0)
    assert final == "failed"
    row = page_rows(sessions)[0]
    assert (row.status, row.attempts, row.finished_at) == ("failed", 3, T0)


def test_when_every_page_of_a_round_fails_the_next_round_comes_sooner(
    sessions: Sessions, cipher: Cipher
) -> None:
    pager = pager_for(cipher)
    escalation_id = start(sessions, cipher, pager)
    sms, telegram = claim(sessions, cipher, T0)
    unsubscribed = SendFailed("twilio:21610", permanent=True)
    record(sessions, pager, Outcome(sms, failure=unsubscribed), T0 + timedelta(seconds=1))
    # One channel is still live: the round stands.
    assert paging(sessions, escalation_id).next_round_at == T0 + timedelta(minutes=15)
    blocked = SendFailed("telegram:Forbidden", permanent=True)
    record(sessions, pager, Outcome(telegram, failure=blocked), T0 + timedelta(seconds=2))
    # Nobody reachable: the next place on the rota is paged after the minimum gap, not 15 min.
    assert paging(sessions, escalation_id).next_round_at == T0 + timedelta(minutes=1)
    with sessions.begin() as session:
        assert escalate_unacknowledged(session, T0 + timedelta(minutes=1), pager) == [escalation_id]
    assert ("user:2", "sms", 1) in {
        (r.contact_ref, r.channel, r.round) for r in page_rows(sessions)
    }


def test_the_page_record_keeps_no_address_in_clear(sessions: Sessions, cipher: Cipher) -> None:
    escalation_id = start(sessions, cipher, pager_for(cipher))
    with sessions.begin() as session:
        record_ = pages.pages_for_escalation(session, escalation_id)
        raw = session.execute(text("SELECT * FROM pages")).all()
    assert [p.channel for p in record_] == ["sms", "telegram"]
    dump = repr(raw) + repr(record_)
    for secret in ("+447700900101", "5550101", EXCERPT, CONVERSATION):
        assert secret not in dump


# -- the rota table ------------------------------------------------------------------------------


def test_the_rota_table_gives_active_entries_of_active_leads_in_order(
    sessions: Sessions, cipher: Cipher
) -> None:
    def user(name: str, active: bool = True, role: str = "safeguarding_lead") -> UserRow:
        return UserRow(
            username=name,
            role=role,
            password_hash="x",
            active=active,
            must_change_password=False,
            failed_logins=0,
            created_at=T0,
            updated_at=T0,
        )

    def entry(user_row: UserRow, position: int, *, phone: str | None = None,
              chat: str | None = None, active: bool = True) -> RotaEntryRow:  # fmt: skip
        return RotaEntryRow(
            user_id=user_row.id,
            position=position,
            phone_encrypted=cipher.encrypt(phone),
            telegram_chat_encrypted=cipher.encrypt(chat),
            active=active,
            created_at=T0,
            updated_at=T0,
        )

    with sessions.begin() as session:
        ana, ben, cai, dee = user("ana"), user("ben"), user("cai", active=False), user("dee")
        eve = user("eve", role="link_worker")
        session.add_all([ana, ben, cai, dee, eve])
        session.flush()
        session.add_all(
            [
                entry(ben, 2, chat="5550202"),
                entry(ana, 1, phone="+447700900201", chat="5550201"),
                entry(cai, 1, phone="+447700900203"),
                entry(dee, 3, phone="+447700900204", active=False),
                entry(eve, 4, phone="+447700900205"),
            ]
        )
    with sessions.begin() as session:
        contacts = RotaTable(cipher).on_call(session)
    assert [(c.ref, c.position, dict(c.addresses)) for c in contacts] == [
        (f"user:{ana.id}", 1, {"sms": "+447700900201", "telegram": "5550201"}),
        (f"user:{ben.id}", 2, {"telegram": "5550202"}),
    ]


# -- the migration -------------------------------------------------------------------------------


def test_the_pager_migration_matches_the_models(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import handoff.pager_models  # noqa: F401 (registers the tables)
    from youthlink.db import Base

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()

    def table_of(diff: object) -> str | None:
        # As in test_migrations: (kind, object) for tables, indexes and constraints;
        # (kind, schema, table, ...) for columns; lists of those for modifications.
        kind, *args = diff[0] if isinstance(diff, list) else diff  # type: ignore[index,misc]
        if kind.startswith("modify_") or kind in ("add_column", "remove_column"):
            return str(args[1])
        owner = args[0] if kind.endswith("_table") else getattr(args[0], "table", None)
        return getattr(owner, "name", None)

    assert [d for d in diffs if table_of(d) in {"pages", "escalation_paging"}] == []


def test_the_pager_branch_downgrades_on_its_own(tmp_path: Path) -> None:
    url = sqlite_url_in(tmp_path)
    upgrade(url)
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {"pages", "escalation_paging", "escalations"} <= tables
        downgrade(url, "pager@base")
        tables = set(inspect(engine).get_table_names())
        assert "pages" not in tables and "escalations" in tables
        upgrade(url)
        assert "pages" in set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
