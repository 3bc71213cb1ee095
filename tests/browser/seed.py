"""Synthetic data for the browser tests and screenshots: referrals of every priority, an
escalation with the conversation around it, a case being worked, and a rota."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from handoff import escalations, queue, referrals, rota
from handoff.escalations import Escalation
from handoff.queue import QueuePolicy
from tests.handoff.dashboard_support import Crew
from tests.support.referrals import TEST_PHONE, make_referral
from youthlink.crypto import Cipher

EXCERPT = "i dont want to be here anymore, i've thought about how"
PEOPLE = [
    (
        "Jay",
        "he/him",
        14,
        "13_15",
        "LS7",
        "urgent",
        [("anxiety_stress", "i feel like a lighthouse keeper with no lighthouse")],
        [("sport_fitness", "football and fifa")],
    ),
    (
        "Priya",
        "she/her",
        16,
        "16_17",
        "LS8",
        "priority",
        [("loneliness", "moved here in summer and dont know anyone")],
        [("music", "i play keys and want to be in a band")],
    ),
    (
        "Alex",
        "they/them",
        12,
        "11_12",
        "LS6",
        "routine",
        [("bullying", "people at school film me and laugh")],
        [("arts_crafts", "drawing manga")],
    ),
    (
        "Morgan",
        None,
        19,
        "18_25",
        "LS11",
        "routine",
        [("low_mood", "nothing feels worth it lately"), ("sleep", "up till 4 most nights")],
        [("outdoors_nature", "walking my dog by the canal")],
    ),
    (
        "Sam",
        "he/him",
        15,
        "13_15",
        "LS9",
        "priority",
        [("anger", "i keep getting in fights")],
        [("gaming_tech", "building pcs")],
    ),
]


def add_people(sessions: sessionmaker[Session], cipher: Cipher, now: datetime) -> list[str]:
    ids = []
    for n, (name, pronouns, age, band, area, priority, concerns, interests) in enumerate(PEOPLE):
        record = make_referral(
            f"c_seed_{n}",
            priority=priority,
            young_person={
                "preferred_name": name,
                "pronouns": pronouns,
                "age": age,
                "age_band": band,
                "area": area,
            },
            concerns=[{"category": c, "own_words": w} for c, w in concerns],
            interests=[{"category": c, "own_words": w} for c, w in interests],
            contact={
                "method": "sms",
                "address": TEST_PHONE,
                "safe_to_contact": True,
                "ok_to_leave_message": False,
                "best_times": "after school",
            },
        )
        with sessions.begin() as session:
            created = now - timedelta(days=n * 2, hours=n)
            ids.append(referrals.submit_referral(session, cipher, record, now=created))
    return ids


def add_escalation(sessions: sessionmaker[Session], cipher: Cipher, now: datetime) -> Escalation:
    """An escalation recorded by the gateway, with the messages around it."""
    tables = pytest.importorskip("channels.tables")
    conversation_id = "c_seed_escalated"
    with sessions.begin() as session:
        escalation = escalations.record_escalation(
            session,
            cipher,
            conversation_id=conversation_id,
            channel="sms",
            severity=5,
            categories=["suicide"],
            rule_ids=["suicide.intent_method"],
            ruleset_version="2026.11-3f9a",
            excerpt=EXCERPT,
            age_band="16_17",
            now=now - timedelta(minutes=12),
        )
        session.add(
            tables.ConversationRow(
                conversation_id=conversation_id,
                channel="sms",
                address_hash="0" * 64,
                address_encrypted=cipher.encrypt(TEST_PHONE),
                created_at=now,
                last_seen_at=now,
                opted_out=False,
                paused=False,
                offered_buttons="[]",
            )
        )
        turns = [
            ("hey", "Hi, I'm the YouthLink assistant. What's been going on for you lately?"),
            ("everything is a lot rn. exams and home stuff", "That sounds like a lot to carry."),
            (
                EXCERPT,
                "Thank you for telling me. You matter. If you are in danger now, call "
                "999. You can call Childline free on 0800 1111, any time.",
            ),
            ("i'm safe right now", "I'm glad. A safeguarding lead will look at this today."),
        ]
        start = now - timedelta(minutes=15)
        for n, (said, reply) in enumerate(turns):
            inbox = tables.InboxRow(
                conversation_id=conversation_id,
                channel="sms",
                provider_message_id=f"SMseed{n}",
                text_encrypted=cipher.encrypt(said),
                received_at=start + timedelta(minutes=n),
                status="done",
                attempts=1,
                next_attempt_at=start,
                screened=True,
                escalated=said == EXCERPT,
                escalation_id=escalation.escalation_id if said == EXCERPT else None,
            )
            session.add(inbox)
            session.flush()
            session.add(
                tables.OutboxRow(
                    conversation_id=conversation_id,
                    channel="sms",
                    kind="crisis" if said == EXCERPT else "reply",
                    status="sent",
                    body_encrypted=cipher.encrypt(json.dumps({"Body": reply})),
                    attempts=1,
                    next_attempt_at=start,
                    created_at=start + timedelta(minutes=n, seconds=20),
                    in_reply_to=inbox.id,
                )
            )
    return escalation


def work_a_case(sessions: sessionmaker[Session], cipher: Cipher, crew: Crew) -> str:
    """The worker holds one case with an attempt and a note."""
    staff = crew.staff("worker")
    with sessions.begin() as session:
        referral_id = queue.claim_next(session, cipher, staff, QueuePolicy())
    with sessions.begin() as session:
        queue.record_attempt(
            session,
            cipher,
            staff,
            referral_id,
            method="phone_call",
            result="no_answer",
            note="no voicemail set up",
        )
        queue.add_note(session, cipher, staff, referral_id, "Will text after school as they asked.")
    return referral_id


def add_rota(sessions: sessionmaker[Session], cipher: Cipher, crew: Crew) -> None:
    with sessions.begin() as session:
        rota.add_entry(
            session, cipher, crew.lead.id, phone="07700 900461", telegram_chat="", actor="system"
        )


def seed_all(sessions: sessionmaker[Session], cipher: Cipher, crew: Crew) -> dict[str, str]:
    now = datetime.now(UTC)
    people = add_people(sessions, cipher, now)
    escalation = add_escalation(sessions, cipher, now)
    worked = work_a_case(sessions, cipher, crew)
    add_rota(sessions, cipher, crew)
    return {
        "referral": worked,
        "waiting": people[-1],
        "escalation": escalation.escalation_id,
    }
