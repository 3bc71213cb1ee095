"""Helpers the handoff store tests share: one transaction per store call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from handoff import escalations, referrals
from handoff.models import ReferralRow
from youthlink.crypto import Cipher

Sessions = sessionmaker[Session]
Lookup = Callable[[str], "tuple[str, str] | None"]
CONVERSATION = "c_test_conversation"


def submit(
    sessions: Sessions,
    cipher: Cipher,
    record: dict[str, Any],
    flags: tuple[str, ...] = (),
    lookup: Lookup | None = None,
) -> str:
    with sessions.begin() as session:
        return referrals.submit_referral(session, cipher, record, flags, address_lookup=lookup)


def read(sessions: Sessions, cipher: Cipher, referral_id: str) -> dict[str, Any]:
    with sessions.begin() as session:
        return referrals.get_referral(session, cipher, referral_id)


def rows(sessions: Sessions) -> list[ReferralRow]:
    with sessions.begin() as session:
        return list(session.scalars(select(ReferralRow).order_by(ReferralRow.created_at)))


def escalate(sessions: Sessions, cipher: Cipher, **kwargs: Any) -> escalations.Escalation:
    arguments: dict[str, Any] = {
        "conversation_id": CONVERSATION,
        "channel": "sms",
        "severity": 5,
        "categories": ["self_harm"],
        "rule_ids": ["self_harm.cutting"],
        "ruleset_version": "test-1",
        "excerpt": "i cut myself last week",
        "age_band": "13_15",
    }
    arguments.update(kwargs)
    with sessions.begin() as session:
        return escalations.record_escalation(session, cipher, **arguments)
