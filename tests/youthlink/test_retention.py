"""Retention: what each rule deletes and keeps, the dry run, the audit trail, the daily loop."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet
from sqlalchemy import MetaData, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from channels.tables import ConversationRow, InboxRow, OutboxRow
from handoff import audit
from handoff.models import (
    AuditRow,
    ContactAttemptRow,
    EscalationRow,
    NoteRow,
    ReferralRow,
    UserRow,
)
from handoff.pager_models import PageRow, PagingRow
from tests.support import db as support_db
from youthlink import retention
from youthlink.config import Settings
from youthlink.crypto import new_key
from youthlink.db import make_engine, make_sessionmaker
from youthlink.errors import ConfigurationError
from youthlink.keys import TrackerStoreCommand
from youthlink.retention import RetentionPolicy, handoff_audit_writer, run_purge

# Database fixtures (SQLite, and PostgreSQL marked integration) from tests/support/db.py.
database_url = support_db.database_url
engine = support_db.engine
pg_database = support_db.pg_database
pg_url = support_db.pg_url
sessions = support_db.sessions
settings = support_db.settings
sqlite_url = support_db.sqlite_url

REPO = Path(__file__).resolve().parents[2]
RASA_PYTHON = REPO / ".venv-rasa" / "bin" / "python"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TOKEN = Fernet(new_key().encode()).encrypt(b"synthetic personal text")


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


# --- building the scenario --------------------------------------------------------------------


def conversation(s: Session, cid: str, *, quiet: float, opted_out: bool = False) -> None:
    s.add(
        ConversationRow(
            conversation_id=cid,
            channel="sms",
            address_hash="h" + cid,
            address_encrypted=TOKEN,
            created_at=ago(quiet + 1),
            last_seen_at=ago(quiet),
            opted_out=opted_out,
        )
    )
    s.flush()


def inbox(s: Session, cid: str, *, days: float, status: str = "done") -> int:
    row = InboxRow(
        conversation_id=cid,
        channel="sms",
        provider_message_id=f"SM{cid}{days}{status}",
        text_encrypted=TOKEN,
        received_at=ago(days),
        status=status,
        next_attempt_at=ago(days),
    )
    s.add(row)
    s.flush()
    return row.id


def outbox(s: Session, cid: str, *, days: float, status: str = "sent") -> int:
    row = OutboxRow(
        conversation_id=cid,
        channel="sms",
        body_encrypted=TOKEN,
        kind="reply",
        status=status,
        next_attempt_at=ago(days),
        created_at=ago(days),
    )
    s.add(row)
    s.flush()
    return row.id


def referral(
    s: Session, rid: str, cid: str, *, status: str, updated: float, submitted: bool = True
) -> None:
    s.add(
        ReferralRow(
            referral_id=rid,
            conversation_id=cid,
            channel="sms",
            status=status,
            priority="routine",
            submitted=submitted,
            flags=[],
            merged_ids=[],
            age_band="13_15",
            highest_severity=0,
            flagged=False,
            interest_categories=[],
            concern_categories=[],
            created_at=ago(updated + 10),
            updated_at=ago(updated),
            record_encrypted=TOKEN,
        )
    )
    s.flush()


def escalation(
    s: Session,
    eid: str,
    cid: str,
    *,
    status: str,
    created: float,
    closed: float | None = None,
    referral_id: str | None = None,
) -> None:
    s.add(
        EscalationRow(
            escalation_id=eid,
            conversation_id=cid,
            referral_id=referral_id,
            channel="sms",
            severity=4,
            categories=["self_harm"],
            rule_ids=["sh.001"],
            ruleset_version="1",
            excerpt_encrypted=TOKEN,
            created_at=ago(created),
            status=status,
            closed_at=None if closed is None else ago(closed),
            closed_by=None if closed is None else "user:1",
            action_taken_encrypted=None if closed is None else TOKEN,
        )
    )
    s.flush()


def user(s: Session) -> int:
    row = UserRow(
        username="worker1",
        role="link_worker",
        password_hash="x",
        active=True,
        must_change_password=False,
        failed_logins=0,
        created_at=ago(500),
        updated_at=ago(500),
    )
    s.add(row)
    s.flush()
    return row.id


def note_and_attempt(s: Session, rid: str, author: int) -> None:
    s.add(NoteRow(referral_id=rid, author_id=author, created_at=ago(420), text_encrypted=TOKEN))
    s.add(
        ContactAttemptRow(
            referral_id=rid,
            author_id=author,
            attempted_at=ago(420),
            method="sms",
            result="reached",
            note_encrypted=TOKEN,
        )
    )
    s.flush()


def paged(s: Session, eid: str) -> None:
    s.add(
        PageRow(
            escalation_id=eid,
            round=0,
            contact_ref="user:1",
            channel="sms",
            address_encrypted=TOKEN,
            body="Severity 4 escalation: see the dashboard",
            status="sent",
            attempts=1,
            next_attempt_at=ago(5500),
            created_at=ago(5500),
        )
    )
    s.add(
        PagingRow(
            escalation_id=eid,
            severity=4,
            rounds=1,
            started_at=ago(5500),
            last_round_at=ago(5500),
        )
    )
    s.flush()


@pytest.fixture
def scenario(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """A bit of everything, each row due or not by exactly one reason."""
    ids: dict[str, Any] = {}
    with sessions() as s, s.begin():
        # A: quiet for 40 days: its messages go, then its address.
        conversation(s, "c_a", quiet=40)
        ids["a_in"] = inbox(s, "c_a", days=45)
        ids["a_out"] = outbox(s, "c_a", days=45)
        # B: still talking, nothing submitted: old messages stay.
        conversation(s, "c_b", quiet=1)
        ids["b_in"] = inbox(s, "c_b", days=45)
        # C: still talking, referral submitted (last changed) 35 days ago: messages older than
        # 30 days go, newer ones stay; the conversation stays.
        conversation(s, "c_c", quiet=1)
        referral(s, "r_c", "c_c", status="new", updated=35)
        ids["c_old"] = inbox(s, "c_c", days=40)
        ids["c_new"] = inbox(s, "c_c", days=5)
        # D: quiet, but a message still waiting to be handled: it and the conversation stay.
        conversation(s, "c_d", quiet=40)
        ids["d_pending"] = inbox(s, "c_d", days=40, status="pending")
        # E: quiet and opted out: messages go, the row stays so STOP is honoured.
        conversation(s, "c_e", quiet=40, opted_out=True)
        ids["e_in"] = inbox(s, "c_e", days=45)
        # F: quiet with an open referral: messages go, the address stays for the worker.
        conversation(s, "c_f", quiet=40)
        referral(s, "r_f", "c_f", status="claimed", updated=35)
        ids["f_out"] = outbox(s, "c_f", days=45)
        # G: quiet with an escalation still open: the address stays.
        conversation(s, "c_g", quiet=40)
        escalation(s, "x_g", "c_g", status="open", created=40)
        # H: quiet for only 20 days: everything stays.
        conversation(s, "c_h", quiet=20)
        ids["h_in"] = inbox(s, "c_h", days=25)

        author = user(s)
        # Referrals: closed long ago (with a note, a contact attempt and an escalation that
        # must outlive it), closed recently, withdrawn long ago, and a draft left open.
        referral(s, "r_1", "c_x", status="closed", updated=400)
        note_and_attempt(s, "r_1", author)
        escalation(s, "x_r1", "c_x", status="closed", created=420, closed=410, referral_id="r_1")
        referral(s, "r_2", "c_y", status="closed", updated=100)
        referral(s, "r_3", "c_z", status="withdrawn", updated=400)
        referral(s, "r_4", "c_w", status="new", updated=400, submitted=False)

        # Escalations: closed 15 years ago (with its pages), closed 10 years ago, open for 15.
        escalation(s, "x_1", "c_v", status="closed", created=5500, closed=15 * 365)
        paged(s, "x_1")
        escalation(s, "x_2", "c_v", status="closed", created=3700, closed=10 * 365)
        escalation(s, "x_3", "c_u", status="acknowledged", created=5500)
    return ids


def ids_of(engine: Engine, column: Any) -> set[Any]:
    with engine.connect() as conn:
        return set(conn.execute(select(column)).scalars())


EXPECTED = {
    ("transcripts", "inbox"): 3,
    ("transcripts", "outbox"): 2,
    ("referrals", "referrals"): 2,
    ("referrals", "referral_notes"): 1,
    ("referrals", "contact_attempts"): 1,
    ("escalations", "escalations"): 1,
    ("escalations", "pages"): 1,
    ("escalations", "escalation_paging"): 1,
    ("contacts", "conversations"): 1,
}


def counted(report: retention.PurgeReport) -> dict[tuple[str, str], int]:
    return {(p.kind, p.table): p.count for p in report.lines if p.count}


# --- the rules --------------------------------------------------------------------------------


def test_purge_deletes_what_is_past_its_time_and_keeps_the_rest(
    engine: Engine, scenario: dict[str, Any]
) -> None:
    report = run_purge(engine, RetentionPolicy(), now=NOW, audit=handoff_audit_writer(engine))

    assert counted(report) == EXPECTED
    assert report.by_kind() == {"transcripts": 5, "contacts": 1, "referrals": 4, "escalations": 3}
    ids = scenario
    assert ids_of(engine, InboxRow.id) == {
        ids["b_in"],
        ids["c_new"],
        ids["d_pending"],
        ids["h_in"],
    }
    assert ids_of(engine, OutboxRow.id) == set()
    assert ids_of(engine, ConversationRow.conversation_id) == {
        "c_b", "c_c", "c_d", "c_e", "c_f", "c_g", "c_h",
    }  # fmt: skip
    assert ids_of(engine, ReferralRow.referral_id) == {"r_c", "r_f", "r_2", "r_4"}
    assert ids_of(engine, NoteRow.id) == set() and ids_of(engine, ContactAttemptRow.id) == set()
    assert ids_of(engine, EscalationRow.escalation_id) == {"x_g", "x_r1", "x_2", "x_3"}
    assert ids_of(engine, PageRow.id) == set() and ids_of(engine, PagingRow.escalation_id) == set()
    with engine.connect() as conn:
        outlived = conn.execute(
            select(EscalationRow.referral_id).where(EscalationRow.escalation_id == "x_r1")
        ).scalar_one()
    assert outlived is None, "the escalation outlives its referral, unlinked"
    assert ids_of(engine, UserRow.id), "staff accounts are not this tool's business"


def test_a_second_purge_finds_nothing(engine: Engine, scenario: dict[str, Any]) -> None:
    run_purge(engine, RetentionPolicy(), now=NOW)
    again = run_purge(engine, RetentionPolicy(), now=NOW)
    assert counted(again) == {}


def test_batches_delete_everything_due(engine: Engine, scenario: dict[str, Any]) -> None:
    report = run_purge(engine, RetentionPolicy(), now=NOW, batch_size=1)
    assert counted(report) == EXPECTED


def test_the_periods_are_settings(engine: Engine, scenario: dict[str, Any]) -> None:
    policy = RetentionPolicy(transcripts_days=50, referrals_days=50, escalations_days=300)
    report = run_purge(engine, policy, now=NOW)
    found = counted(report)
    assert ("transcripts", "inbox") not in found, "nothing is 50 days old"
    assert found[("referrals", "referrals")] == 3, "closed 100 days ago is now due too"
    assert found[("escalations", "escalations")] == 3, "closed 10 years and 410 days ago too"
    assert "x_3" in ids_of(engine, EscalationRow.escalation_id), "open ones never go"


def test_a_dry_run_counts_and_deletes_nothing(engine: Engine, scenario: dict[str, Any]) -> None:
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(InboxRow)).scalar_one()
    report = run_purge(engine, RetentionPolicy(), now=NOW, dry_run=True)
    expected = dict(EXPECTED)
    # Counted before transcripts go, so no conversation is free of messages yet.
    del expected[("contacts", "conversations")]
    assert counted(report) == expected
    assert report.dry_run
    with engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(InboxRow)).scalar_one()
    assert after == before
    assert ids_of(engine, AuditRow.id) == set()


def test_every_purge_is_counted_in_the_audit_log_without_anything_personal(
    engine: Engine, sessions: sessionmaker[Session], scenario: dict[str, Any]
) -> None:
    with sessions() as s, s.begin():
        audit.record(s, actor="user:1", action="referral.claim", record_type="referral")
    run_purge(engine, RetentionPolicy(), now=NOW, audit=handoff_audit_writer(engine))

    with sessions() as s:
        rows = s.scalars(select(AuditRow).order_by(AuditRow.id)).all()
        assert rows[0].action == "referral.claim", "earlier audit rows are kept"
        purges = [r for r in rows if r.action == "retention.purge"]
        totals: dict[tuple[str, str], int] = {}
        for row in purges:
            assert row.actor == "system"
            detail = dict(row.detail)
            kind = detail.pop("kind")
            assert detail.pop("before") in {
                (NOW - timedelta(days=d)).isoformat(timespec="seconds")
                for d in (30, 365, retention.DEFAULT_ESCALATIONS_DAYS)
            }
            for table, n in detail.items():
                assert isinstance(n, int)
                totals[(kind, table)] = totals.get((kind, table), 0) + n
        assert totals == EXPECTED
        assert audit.verify(s).ok


def test_an_audit_failure_undoes_its_batch(engine: Engine, scenario: dict[str, Any]) -> None:
    def refuse(session: Session, action: str, record_type: str, detail: Any) -> None:
        raise RuntimeError("audit log unavailable")

    with pytest.raises(RuntimeError):
        run_purge(engine, RetentionPolicy(), now=NOW, audit=refuse)
    assert scenario["a_in"] in ids_of(engine, InboxRow.id), "nothing deleted unaudited"


# --- the policy -------------------------------------------------------------------------------


@pytest.mark.unit
def test_policy_defaults_and_environment() -> None:
    policy = RetentionPolicy.from_env({})
    assert (policy.transcripts_days, policy.referrals_days) == (30, 365)
    assert policy.escalations_days >= 7 * 365, "safeguarding records are kept for years"
    custom = RetentionPolicy.from_env(
        {
            retention.ENV_TRANSCRIPTS: "14",
            retention.ENV_REFERRALS: "730",
            retention.ENV_ESCALATIONS: " 9000 ",
        }
    )
    assert custom == RetentionPolicy(14, 730, 9000)
    assert custom.cutoff("contacts", NOW) == NOW - timedelta(days=14)


@pytest.mark.unit
@pytest.mark.parametrize("value", ["thirty", "0", "-5", "1.5"])
def test_bad_periods_are_refused(value: str) -> None:
    with pytest.raises(ConfigurationError, match=retention.ENV_REFERRALS):
        RetentionPolicy.from_env({retention.ENV_REFERRALS: value})


# --- the command ------------------------------------------------------------------------------


def run_main(argv: list[str], environ: Mapping[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = retention.main(argv, environ, out=out, err=err, now=NOW)
    return code, out.getvalue(), err.getvalue()


def env_for(settings: Settings) -> dict[str, str]:
    return {
        "YOUTHLINK_DATABASE_URL": settings.database_url,
        "YOUTHLINK_ENCRYPTION_KEYS": ",".join(settings.encryption_keys),
        "YOUTHLINK_HASH_KEY": settings.hash_key,
    }


def test_purge_command_dry_run_then_for_real(
    settings: Settings, engine: Engine, scenario: dict[str, Any]
) -> None:
    code, out, _ = run_main(["--dry-run"], env_for(settings))
    assert code == 0
    assert "dry run, nothing deleted" in out
    assert "referrals    referrals            2" in out
    assert "total: transcripts 5, contacts 0, referrals 4, escalations 3" in out
    assert scenario["a_in"] in ids_of(engine, InboxRow.id)

    code, out, _ = run_main([], env_for(settings))
    assert code == 0
    assert "total: transcripts 5, contacts 1, referrals 4, escalations 3" in out
    assert scenario["a_in"] not in ids_of(engine, InboxRow.id)


@pytest.mark.unit
def test_purge_command_reports_bad_settings(tmp_path: Path) -> None:
    environ = {
        "YOUTHLINK_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        retention.ENV_TRANSCRIPTS: "a month",
    }
    code, _, err = run_main([], environ)
    assert code == 2 and retention.ENV_TRANSCRIPTS in err


# --- the tracker store ------------------------------------------------------------------------


def fake_rasa_python(tmp_path: Path, output: str, code: int = 0) -> Path:
    script = tmp_path / "python"
    record = tmp_path / "called"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$* keys=$YOUTHLINK_ENCRYPTION_KEYS" >> "{record}"\n'
        f"echo '{output}'\n"
        f"exit {code}\n"
    )
    script.chmod(0o755)
    return script


def test_tracker_events_are_purged_from_the_transcripts_cutoff(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = make_engine(sqlite_url)
    try:
        script = fake_rasa_python(tmp_path, "purged 7 events")
        tracker = TrackerStoreCommand(python=script, root=tmp_path, environ={})
        report = run_purge(
            engine,
            RetentionPolicy(),
            now=NOW,
            tracker=tracker,
            keys=["k1"],
            audit=handoff_audit_writer(engine),
        )
        assert report.tracker_events == 7
        assert report.by_kind()["transcripts"] == 7
        called = (tmp_path / "called").read_text()
        assert called.strip() == (
            f"-m bot.tracker_store purge --before {ago(30).isoformat(timespec='seconds')} keys=k1"
        )
        with make_sessionmaker(engine)() as s:
            (row,) = s.scalars(select(AuditRow)).all()
            assert row.detail["tracker_events"] == 7

        dry = run_purge(engine, RetentionPolicy(), now=NOW, tracker=tracker, dry_run=True)
        assert dry.tracker_events is None and "not counted in a dry run" in " ".join(dry.notes)
        assert len((tmp_path / "called").read_text().splitlines()) == 1, "a dry run calls nothing"
    finally:
        engine.dispose()


def test_a_failed_or_missing_tracker_purge_is_reported(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    try:
        failing = TrackerStoreCommand(
            python=fake_rasa_python(tmp_path, "error: no keys", code=2), root=tmp_path, environ={}
        )
        report = run_purge(engine, RetentionPolicy(), now=NOW, tracker=failing, keys=["k"])
        assert report.tracker_events is None
        assert any("purge FAILED" in n for n in report.notes)
        missing = TrackerStoreCommand(python=tmp_path / "nope", root=tmp_path, environ={})
        report = run_purge(engine, RetentionPolicy(), now=NOW, tracker=missing, keys=["k"])
        assert any("SKIPPED" in n and "nope" in n for n in report.notes)
    finally:
        engine.dispose()


@pytest.mark.skipif(not RASA_PYTHON.exists(), reason="the Rasa environment (.venv-rasa) is missing")
def test_the_real_tracker_store_purges_quiet_conversations(sqlite_url: str, tmp_path: Path) -> None:
    key = new_key()
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("YOUTHLINK_")},
        "YOUTHLINK_TRACKER_DB_URL": tracker_url,
        "YOUTHLINK_HASH_KEY": "hash",
    }
    created = subprocess.run(
        [str(RASA_PYTHON), "-m", "bot.tracker_store", "rotate"],
        cwd=REPO,
        env={**environ, "PYTHONPATH": str(REPO), "YOUTHLINK_ENCRYPTION_KEYS": key},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr[-2000:]
    tracker = make_engine(tracker_url)
    try:
        tables = MetaData()
        tables.reflect(tracker)
        token = Fernet(key.encode()).encrypt(b"{}")
        with tracker.begin() as conn:
            for sender, last in (("old", ago(40)), ("new", ago(2))):
                conn.execute(
                    tables.tables["tracker_conversations"].insert(),
                    {"sender_key": sender, "sender_encrypted": token,
                     "last_event_at": last.timestamp()},
                )  # fmt: skip
                conn.execute(
                    tables.tables["tracker_events"].insert(),
                    [
                        {"sender_key": sender, "type_name": "user",
                         "timestamp": last.timestamp(), "data_encrypted": token}
                        for _ in range(3)
                    ],
                )  # fmt: skip
        engine = make_engine(sqlite_url)
        try:
            command = TrackerStoreCommand.from_env(
                {**environ, "YOUTHLINK_RASA_PYTHON": str(RASA_PYTHON)}, root=REPO
            )
            report = run_purge(engine, RetentionPolicy(), now=NOW, tracker=command, keys=[key])
        finally:
            engine.dispose()
        assert report.tracker_events == 3, report.notes
        with tracker.connect() as conn:
            left = conn.execute(select(tables.tables["tracker_events"].c.sender_key)).scalars()
            assert set(left) == {"new"}
    finally:
        tracker.dispose()


# --- the daily loop ---------------------------------------------------------------------------


@pytest.fixture
def loop_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def _closed_referral(engine: Engine, rid: str) -> None:
    with make_sessionmaker(engine)() as s, s.begin():
        referral(s, rid, "c_" + rid, status="closed", updated=400)


async def _until(condition: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_the_loop_purges_at_start_then_every_interval_until_stopped(
    loop_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    _closed_referral(loop_engine, "r_first")
    calls: list[dict[str, Any]] = []
    failures = iter([True])

    def audit_writer(session: Session, action: str, record_type: str, detail: Any) -> None:
        if next(failures, False):
            raise RuntimeError("Sam 07700 900123")  # personal-looking text must not be logged
        calls.append(dict(detail))

    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="youthlink.retention")
    task = asyncio.create_task(
        retention.retention_loop(
            support_db.fresh_settings("sqlite://"),
            loop_engine,
            policy=RetentionPolicy(),
            audit=audit_writer,
            interval=timedelta(seconds=0.05),
            clock=lambda: NOW,
            stop=stop,
        )
    )
    # The first run fails (the audit refuses) and is retried at the next interval.
    await _until(lambda: any(c.get("referrals") == 1 for c in calls))
    assert "r_first" not in ids_of(loop_engine, ReferralRow.referral_id)
    _closed_referral(loop_engine, "r_second")
    await _until(lambda: len([c for c in calls if c.get("referrals")]) == 2)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert "retention run failed: RuntimeError" in caplog.text
    assert "07700" not in caplog.text


# --- the privacy notice tells young people these periods ---------------------------------------


def _notice() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (REPO / "youthlink" / "privacy_notice.yml").read_text(encoding="utf-8")
    )
    return loaded


@pytest.mark.unit
def test_the_privacy_notice_fits_in_chat_and_states_the_retention_periods() -> None:
    notice = _notice()
    assert notice["version"] == "1.0"
    assert set(notice["texts"]) == {"11_12", "13_15", "16_plus"}
    assert retention.DEFAULT_TRANSCRIPTS_DAYS == 30 and retention.DEFAULT_REFERRALS_DAYS == 365
    for band, text in notice["texts"].items():
        assert len(text) <= 600, f"{band}: {len(text)} characters"
        assert f"v{notice['version']}" in text
        assert "30 days" in text, band
        assert "1 year" in text or "12 months" in text, band
        assert "DELETE" in text, band


@pytest.mark.unit
def test_every_age_band_gets_a_notice_and_the_bot_records_this_version() -> None:
    notice = _notice()
    schema = json.loads((REPO / "handoff" / "schema" / "referral.schema.json").read_text())
    bands = schema["properties"]["young_person"]["properties"]["age_band"]["enum"]
    assert set(notice["bands"]) == set(bands)
    assert set(notice["bands"].values()) <= set(notice["texts"])
    actions = (REPO / "actions" / "referral.py").read_text(encoding="utf-8")
    recorded = re.search(r'PRIVACY_NOTICE_VERSION = "([^"]+)"', actions)
    assert recorded is not None and recorded.group(1) == notice["version"]


@pytest.mark.unit
def test_the_documented_notice_is_the_one_shown_in_chat() -> None:
    document = (REPO / "docs" / "privacy-notice.md").read_text(encoding="utf-8")
    assert f"(version {_notice()['version']})" in document
    for text in _notice()["texts"].values():
        assert f"```text\n{text}\n```" in document
