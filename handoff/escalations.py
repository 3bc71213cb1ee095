"""The escalation log: recording safeguarding escalations and what staff did about them."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff import records
from handoff.errors import EscalationNotFound, InvalidEscalation, InvalidTransition
from handoff.models import OPEN_REFERRAL_STATUSES, EscalationRow, ReferralRow
from handoff.referrals import (
    decrypt_record,
    lock_conversation,
    new_row,
    open_draft,
    rows_for_conversation,
    store_record,
    utcnow,
)
from youthlink.crypto import Cipher

log = logging.getLogger(__name__)

OUTCOME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_STAFF_NAME = 120


@dataclass(frozen=True)
class Escalation:
    """One escalation as staff and services see it; the excerpt only when asked for."""

    escalation_id: str
    conversation_id: str
    referral_id: str | None
    channel: str
    severity: int
    categories: tuple[str, ...]
    rule_ids: tuple[str, ...]
    ruleset_version: str
    created_at: datetime
    status: str
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    outcome: str | None = None
    excerpt: str | None = field(default=None, repr=False)
    action_taken: str | None = field(default=None, repr=False)

    @classmethod
    def from_row(cls, row: EscalationRow, cipher: Cipher, *, personal: bool = False) -> Escalation:
        """From a stored row; `personal` decrypts the excerpt and the action taken."""
        return cls(
            escalation_id=row.escalation_id,
            conversation_id=row.conversation_id,
            referral_id=row.referral_id,
            channel=row.channel,
            severity=row.severity,
            categories=tuple(row.categories),
            rule_ids=tuple(row.rule_ids),
            ruleset_version=row.ruleset_version,
            created_at=row.created_at,
            status=row.status,
            acknowledged_by=row.acknowledged_by,
            acknowledged_at=row.acknowledged_at,
            closed_by=row.closed_by,
            closed_at=row.closed_at,
            outcome=row.outcome,
            excerpt=cipher.decrypt(row.excerpt_encrypted) if personal else None,
            action_taken=cipher.decrypt(row.action_taken_encrypted) if personal else None,
        )

    def to_public_dict(self) -> dict[str, Any]:
        """JSON-ready fields without the excerpt and the action taken."""

        def when(moment: datetime | None) -> str | None:
            return None if moment is None else records.iso(moment)

        return {
            "escalation_id": self.escalation_id,
            "conversation_id": self.conversation_id,
            "referral_id": self.referral_id,
            "channel": self.channel,
            "severity": self.severity,
            "categories": list(self.categories),
            "rule_ids": list(self.rule_ids),
            "ruleset_version": self.ruleset_version,
            "created_at": when(self.created_at),
            "status": self.status,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": when(self.acknowledged_at),
            "closed_by": self.closed_by,
            "closed_at": when(self.closed_at),
            "outcome": self.outcome,
        }


def _check(*, conversation_id: str, channel: str, severity: int, categories: Sequence[str]) -> None:
    if not conversation_id:
        raise InvalidEscalation("conversation_id must not be empty")
    if channel not in records.channels():
        raise InvalidEscalation(f"unknown channel {channel!r}")
    if isinstance(severity, bool) or not isinstance(severity, int) or not 0 <= severity <= 5:
        raise InvalidEscalation("severity must be a whole number from 0 to 5")
    if isinstance(categories, str):
        raise InvalidEscalation("categories must be a list of category slugs")


def _referral_to_flag(session: Session, conversation_id: str) -> ReferralRow | None:
    draft = open_draft(session, conversation_id)
    if draft is not None:
        return draft
    open_rows = [
        r
        for r in rows_for_conversation(session, conversation_id)
        if r.status in OPEN_REFERRAL_STATUSES
    ]
    return open_rows[-1] if open_rows else None


def record_escalation(
    session: Session,
    cipher: Cipher,
    *,
    conversation_id: str,
    channel: str,
    severity: int,
    categories: Sequence[str],
    rule_ids: Sequence[str],
    ruleset_version: str,
    excerpt: str,
    age_band: str = "unknown",
    escalation_id: str | None = None,
    now: datetime | None = None,
) -> Escalation:
    """Log an escalation and flag the conversation's open referral (creating an early one).

    Never refuses a category it does not know: the escalation keeps every category the rules
    gave; only the referral record is limited to the schema's categories. Passing the same
    `escalation_id` again returns the stored escalation unchanged.
    """
    _check(
        conversation_id=conversation_id, channel=channel, severity=severity, categories=categories
    )
    now = now or utcnow()
    lock_conversation(session, conversation_id)
    if escalation_id is not None:
        existing = session.get(EscalationRow, escalation_id)
        if existing is not None:
            if existing.conversation_id != conversation_id:
                raise InvalidEscalation("this escalation id belongs to another conversation")
            return Escalation.from_row(existing, cipher)
    escalation_id = escalation_id or str(uuid.uuid4())

    unknown = [c for c in categories if c not in records.safeguarding_categories()]
    if unknown:
        log.warning("escalation %s has categories outside the schema: %s", escalation_id, unknown)

    row = _referral_to_flag(session, conversation_id)
    if row is None:
        record = records.early_record(
            conversation_id=conversation_id, channel=channel, age_band=age_band, now=now
        )
        flagged = records.add_escalation(
            record, escalation_id=escalation_id, severity=severity, categories=categories
        )
        row = new_row(cipher, flagged, now=now, flags=[records.ESCALATED_FLAG])
        session.add(row)
    else:
        flagged = records.add_escalation(
            decrypt_record(cipher, row),
            escalation_id=escalation_id,
            severity=severity,
            categories=categories,
        )
        if flagged["young_person"]["age_band"] == "unknown" and age_band in records.age_bands():
            flagged["young_person"]["age_band"] = age_band
        store_record(cipher, row, flagged, now=now, flags=[records.ESCALATED_FLAG])
    session.flush()

    excerpt_encrypted = cipher.encrypt(excerpt)
    assert excerpt_encrypted is not None
    escalation = EscalationRow(
        escalation_id=escalation_id,
        conversation_id=conversation_id,
        referral_id=row.referral_id,
        channel=channel,
        severity=severity,
        categories=list(categories),
        rule_ids=list(rule_ids),
        ruleset_version=ruleset_version,
        excerpt_encrypted=excerpt_encrypted,
        created_at=now,
        status="open",
    )
    session.add(escalation)
    session.flush()
    log.info(
        "escalation %s recorded: severity %d, rules %s, referral %s",
        escalation_id,
        severity,
        ",".join(rule_ids),
        row.referral_id,
    )
    return Escalation.from_row(escalation, cipher)


def _get_row(session: Session, escalation_id: str) -> EscalationRow:
    row = session.get(EscalationRow, escalation_id)
    if row is None:
        raise EscalationNotFound()
    return row


def get_escalation(
    session: Session, cipher: Cipher, escalation_id: str, *, personal: bool = False
) -> Escalation:
    """One escalation; `personal` includes the decrypted excerpt and action taken."""
    return Escalation.from_row(_get_row(session, escalation_id), cipher, personal=personal)


def list_escalations(
    session: Session,
    cipher: Cipher,
    *,
    conversation_id: str | None = None,
    status: str | None = None,
    limit: int = 200,
    personal: bool = False,
) -> list[Escalation]:
    """Escalations, newest first, optionally of one conversation and/or in one status."""
    query = select(EscalationRow)
    if conversation_id is not None:
        query = query.where(EscalationRow.conversation_id == conversation_id)
    if status is not None:
        query = query.where(EscalationRow.status == status)
    query = query.order_by(EscalationRow.created_at.desc(), EscalationRow.escalation_id).limit(
        limit
    )
    return [Escalation.from_row(r, cipher, personal=personal) for r in session.scalars(query)]


def _staff(by: str) -> str:
    by = by.strip()
    if not by or len(by) > MAX_STAFF_NAME:
        raise InvalidEscalation(f"staff name must be 1 to {MAX_STAFF_NAME} characters")
    return by


def acknowledge(
    session: Session, cipher: Cipher, escalation_id: str, *, by: str, now: datetime | None = None
) -> Escalation:
    """A safeguarding lead has seen the escalation: open → acknowledged."""
    by = _staff(by)
    row = _get_row(session, escalation_id)
    if row.status != "open":
        raise InvalidTransition(f"escalation is {row.status}, not open")
    row.status = "acknowledged"
    row.acknowledged_by = by
    row.acknowledged_at = now or utcnow()
    session.flush()
    log.info("escalation %s acknowledged", escalation_id)
    return Escalation.from_row(row, cipher)


def close(
    session: Session,
    cipher: Cipher,
    escalation_id: str,
    *,
    by: str,
    outcome: str,
    action_taken: str | None = None,
    now: datetime | None = None,
) -> Escalation:
    """Record what was done and close the escalation (closing also acknowledges an open one).

    `outcome` is a short slug for reports (e.g. `advice_given`, `referred_to_social_care`);
    `action_taken` is staff's free text and is stored encrypted.
    """
    by = _staff(by)
    if not OUTCOME_PATTERN.match(outcome):
        raise InvalidEscalation("outcome must be a short lower-case slug")
    row = _get_row(session, escalation_id)
    if row.status == "closed":
        raise InvalidTransition("escalation is already closed")
    now = now or utcnow()
    if row.acknowledged_at is None:
        row.acknowledged_by = by
        row.acknowledged_at = now
    row.status = "closed"
    row.closed_by = by
    row.closed_at = now
    row.outcome = outcome
    row.action_taken_encrypted = cipher.encrypt(action_taken)
    session.flush()
    log.info("escalation %s closed: %s", escalation_id, outcome)
    return Escalation.from_row(row, cipher)
