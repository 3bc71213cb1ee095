"""The audit log: append-only in the database, hash-chained, verified, safe under concurrency,
and never carrying anything personal."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from handoff import audit
from handoff.audit import AuditError
from handoff.models import AuditRow
from tests.handoff.store import Sessions
from youthlink.db import make_engine, make_sessionmaker

T0 = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
APPENDERS = 8
EACH = 25


def append(sessions: Sessions, n: int = 1, **kw: object) -> list[audit.AuditEvent]:
    events = []
    for i in range(n):
        with sessions.begin() as session:
            arguments: dict[str, object] = {
                "actor": "user:1",
                "action": "referral.viewed",
                "record_type": "referral",
                "record_id": f"r{i}",
                "source": "127.0.0.1",
                "detail": {"format": "json", "count": i},
                "now": T0 + timedelta(seconds=i),
            }
            arguments.update(kw)
            events.append(audit.record(session, **arguments))  # type: ignore[arg-type]
    return events


def verify(sessions: Sessions) -> audit.Verification:
    with sessions.begin() as session:
        return audit.verify(session)


def tamper(sessions: Sessions, statement: str, **params: object) -> None:
    """Change the log behind the code's back, as someone with database access could."""
    with sessions.begin() as session:
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            session.execute(text("SET LOCAL session_replication_role = replica"))
            session.execute(text(statement), params)
        else:
            session.execute(text("DROP TRIGGER audit_log_no_update"))
            session.execute(text("DROP TRIGGER audit_log_no_delete"))
            session.execute(text(statement), params)


def test_a_chain_of_events_verifies(sessions: Sessions) -> None:
    events = append(sessions, 5)
    assert [e.id for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.row_hash for a, b in itertools.pairwise(events))
    result = verify(sessions)
    assert (result.ok, result.checked, result.head_hash) == (True, 5, events[-1].row_hash)


def test_an_empty_log_verifies(sessions: Sessions) -> None:
    assert verify(sessions) == audit.Verification(checked=0, head_hash=audit.GENESIS_HASH)


def test_the_database_refuses_updates_and_deletes(sessions: Sessions) -> None:
    append(sessions, 2)
    for statement in ("UPDATE audit_log SET actor = 'user:2'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), sessions.begin() as session:
            session.execute(text(statement))
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(AuditRow)) == 2


@pytest.mark.parametrize(
    ("statement", "broken", "reason", "good"),
    [
        ("UPDATE audit_log SET action = 'referral.closed' WHERE id = 3", 3, "changed", 2),
        ("UPDATE audit_log SET detail = '{\"count\": 99}' WHERE id = 2", 2, "changed", 1),
        ("DELETE FROM audit_log WHERE id = 3", 4, "missing", 2),
        ("UPDATE audit_log SET prev_hash = row_hash WHERE id = 4", 4, "previous", 3),
    ],
)
def test_verify_reports_the_first_broken_row(
    sessions: Sessions, statement: str, broken: int, reason: str, good: int
) -> None:
    append(sessions, 6)
    tamper(sessions, statement)
    result = verify(sessions)
    assert not result.ok
    assert result.broken_id == broken
    assert result.reason is not None and reason in result.reason
    assert result.checked == good


def test_a_rewritten_row_with_a_recomputed_hash_breaks_the_next_link(sessions: Sessions) -> None:
    events = append(sessions, 4)
    victim = events[1]
    forged = audit.row_hash(
        prev_hash=victim.prev_hash,
        id=victim.id,
        at=victim.at,
        actor="user:9",
        action=victim.action,
        record_type=victim.record_type,
        record_id=victim.record_id,
        source=victim.source,
        detail=victim.detail,
    )
    tamper(
        sessions,
        "UPDATE audit_log SET actor = 'user:9', row_hash = :h WHERE id = :id",
        h=forged,
        id=victim.id,
    )
    result = verify(sessions)
    assert (result.ok, result.broken_id) == (False, victim.id + 1)


def test_concurrent_appends_keep_one_chain(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=APPENDERS)
    sessions: Sessions = make_sessionmaker(engine)
    start = threading.Barrier(APPENDERS)

    def appender(n: int) -> None:
        start.wait()
        for i in range(EACH):
            with sessions.begin() as session:
                audit.record(
                    session,
                    actor=f"user:{n}",
                    action="referral.viewed",
                    record_type="referral",
                    record_id=f"r{n}-{i}",
                )

    try:
        with ThreadPoolExecutor(APPENDERS) as pool:
            for future in [pool.submit(appender, n) for n in range(APPENDERS)]:
                future.result(timeout=120)
        result = verify(sessions)
        assert (result.ok, result.checked) == (True, APPENDERS * EACH)
        with sessions.begin() as session:
            ids = list(session.scalars(select(AuditRow.id).order_by(AuditRow.id)))
        assert ids == list(range(1, APPENDERS * EACH + 1))
    finally:
        engine.dispose()


def test_a_rolled_back_append_leaves_no_trace(sessions: Sessions) -> None:
    append(sessions, 2)
    with pytest.raises(RuntimeError), sessions.begin() as session:
        audit.record(session, actor="user:1", action="referral.viewed", record_type="referral")
        raise RuntimeError("the transition failed after its audit row")
    third = append(sessions, 1)[0]
    assert third.id == 3
    assert verify(sessions).ok


@pytest.mark.unit
@pytest.mark.parametrize(
    "event",
    [
        {"actor": "Sam Jones", "action": "referral.viewed", "record_type": "referral"},
        {"actor": "user:1", "action": "Viewed the referral", "record_type": "referral"},
        {
            "actor": "user:1",
            "action": "referral.viewed",
            "record_type": "referral",
            "record_id": "Jay from LS7",
        },
        {
            "actor": "user:1",
            "action": "referral.noted",
            "record_type": "referral",
            "detail": {"note": "mum says he is self harming"},
        },
        {
            "actor": "user:1",
            "action": "referral.noted",
            "record_type": "referral",
            "detail": {"phone": "+44 7700 900461"},
        },
        {
            "actor": "user:1",
            "action": "referral.noted",
            "record_type": "referral",
            "detail": {"nested": [["a"]]},
        },
        {
            "actor": "user:1",
            "action": "referral.noted",
            "record_type": "referral",
            "detail": {"Bad Key": 1},
        },
    ],
)
def test_free_text_cannot_enter_an_audit_row(event: dict[str, object]) -> None:
    with pytest.raises(AuditError):
        audit.check_event(
            actor=str(event["actor"]),
            action=str(event["action"]),
            record_type=str(event["record_type"]),
            record_id=event.get("record_id"),  # type: ignore[arg-type]
            detail=event.get("detail", {}),  # type: ignore[arg-type]
        )


@pytest.mark.unit
def test_codes_ids_and_counts_are_accepted() -> None:
    detail = audit.check_event(
        actor="user:12",
        action="referral.closed",
        record_type="referral",
        record_id="0b5e7c1e-44a3-4c55-a2b4-8bb1d38fbe3a",
        detail={
            "from": "contacted",
            "outcome": "moved_away",
            "attempts": 3,
            "to": None,
            "rules": ["self_harm.cutting", "suicide.plan"],
        },
    )
    assert detail["rules"] == ["self_harm.cutting", "suicide.plan"]


def test_events_for_a_record_come_back_in_order(sessions: Sessions) -> None:
    append(sessions, 3, record_id="r-same")
    append(sessions, 1, record_id="r-other")
    with sessions.begin() as session:
        found = audit.events_for(session, "referral", "r-same")
        latest = audit.recent(session, limit=2)
    assert [e.id for e in found] == [1, 2, 3]
    assert [e.id for e in latest] == [4, 3]
