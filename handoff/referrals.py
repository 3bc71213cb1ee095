"""The referral store: submit, read and withdraw referrals (records kept encrypted)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from handoff import records
from handoff.errors import Conflict, InvalidReferral, ReferralNotFound, ReferralWithdrawn
from handoff.models import OPEN_REFERRAL_STATUSES, EscalationRow, ReferralRow
from handoff.validation import validate_referral
from youthlink.crypto import Cipher

log = logging.getLogger(__name__)

# Given a conversation id, the conversation's own (channel, address), or None if unknown.
AddressLookup = Callable[[str], "tuple[str, str] | None"]

# A contact method reaches the young person at the conversation's own address on these channels.
_SAME_ADDRESS = {"sms": {"sms", "phone_call"}, "whatsapp": {"whatsapp", "phone_call"}}


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


def lock_conversation(session: Session, conversation_id: str) -> None:
    """Serialise writers of one conversation's referrals until the transaction ends.

    Call it before reading what is about to be changed. PostgreSQL takes a transaction-scoped
    advisory lock; SQLite takes its database-wide write lock.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": "referrals:" + conversation_id},
        )
    elif dialect == "sqlite":
        # A write that changes nothing: SQLite would otherwise only lock at the first real write,
        # after the reads it depends on, and another process could write in between.
        session.execute(text("UPDATE referrals SET status = status WHERE 0 = 1"))


def rows_for_conversation(session: Session, conversation_id: str) -> list[ReferralRow]:
    """Every referral of one conversation, oldest first."""
    query = (
        select(ReferralRow)
        .where(ReferralRow.conversation_id == conversation_id)
        .order_by(ReferralRow.created_at, ReferralRow.referral_id)
    )
    return list(session.scalars(query))


def open_draft(session: Session, conversation_id: str) -> ReferralRow | None:
    """The oldest referral created early for this conversation that is still open."""
    for row in rows_for_conversation(session, conversation_id):
        if not row.submitted and row.status in OPEN_REFERRAL_STATUSES:
            return row
    return None


def decrypt_record(cipher: Cipher, row: ReferralRow) -> dict[str, Any]:
    """The schema record held by a row."""
    plain = cipher.decrypt(row.record_encrypted)
    assert plain is not None  # the column is NOT NULL
    record: dict[str, Any] = json.loads(plain)
    return record


def store_record(
    cipher: Cipher,
    row: ReferralRow,
    record: dict[str, Any],
    *,
    now: datetime,
    flags: Iterable[str] = (),
) -> None:
    """Write a record into its row: the encrypted whole and the clear queue columns."""
    record = dict(record)
    record["updated_at"] = records.iso(now)
    record["priority"] = records.priority_floor(record)
    validate_referral(record)
    safeguarding = record["safeguarding"]
    row.channel = record["source"]["channel"]
    row.conversation_id = record["source"]["conversation_id"]
    row.status = record["status"]
    row.priority = record["priority"]
    row.submitted = records.is_completed(record)
    row.flags = records.union(row.flags or [], flags)
    row.age_band = record["young_person"]["age_band"]
    row.highest_severity = safeguarding["highest_severity"]
    row.flagged = safeguarding["flagged"]
    row.interest_categories = records.categories_of(record["interests"])
    row.concern_categories = records.categories_of(record["concerns"])
    row.updated_at = now
    row.record_encrypted = _encrypt(cipher, record)


def _encrypt(cipher: Cipher, record: dict[str, Any]) -> bytes:
    token = cipher.encrypt(json.dumps(record, ensure_ascii=False, sort_keys=True))
    assert token is not None
    return token


def new_row(
    cipher: Cipher, record: dict[str, Any], *, now: datetime, flags: Iterable[str] = ()
) -> ReferralRow:
    """A row for a new referral; the store sets its creation time and initial status."""
    record = dict(record)
    record["created_at"] = records.iso(now)
    record["status"] = "new"
    row = ReferralRow(referral_id=record["referral_id"], created_at=now, flags=[], merged_ids=[])
    store_record(cipher, row, record, now=now, flags=flags)
    return row


def _fill_address(record: dict[str, Any], lookup: AddressLookup | None) -> None:
    contact = record["contact"]
    if lookup is None or contact.get("address") is not None or contact["method"] == "none":
        return
    found = lookup(record["source"]["conversation_id"])
    if found is None:
        return
    channel, address = found
    if contact["method"] in _SAME_ADDRESS.get(channel, {channel}):
        contact["address"] = address


def _find_by_id(session: Session, referral_id: str, conversation_id: str) -> ReferralRow | None:
    row = session.get(ReferralRow, referral_id)
    if row is None:
        row = next(
            (
                r
                for r in rows_for_conversation(session, conversation_id)
                if referral_id in r.merged_ids
            ),
            None,
        )
    if row is not None and row.conversation_id != conversation_id:
        raise Conflict("this referral id belongs to another conversation")
    return row


def submit_referral(
    session: Session,
    cipher: Cipher,
    record: dict[str, Any],
    flags: Sequence[str] = (),
    *,
    address_lookup: AddressLookup | None = None,
    now: datetime | None = None,
) -> str:
    """Store a referral and return its id.

    A referral created early for the same conversation (and still open) absorbs this one instead
    of a duplicate being created; submitting the same referral id again is harmless.
    """
    validate_referral(record)
    now = now or utcnow()
    record = json.loads(json.dumps(record))  # a private deep copy
    conversation_id: str = record["source"]["conversation_id"]
    if not conversation_id:
        raise InvalidReferral(["referral.source.conversation_id: must not be empty"])
    lock_conversation(session, conversation_id)
    _fill_address(record, address_lookup)

    target = _find_by_id(session, record["referral_id"], conversation_id)
    if target is not None and target.status == "withdrawn":
        raise ReferralWithdrawn()
    if target is not None and target.status == "closed":
        return target.referral_id
    if target is None:
        target = open_draft(session, conversation_id)

    if target is None:
        row = new_row(cipher, record, now=now, flags=flags)
        session.add(row)
        session.flush()
        log.info("referral %s stored (priority %s)", row.referral_id, row.priority)
        return row.referral_id

    merged = records.merge(decrypt_record(cipher, target), record)
    if record["referral_id"] != target.referral_id:
        target.merged_ids = records.union(target.merged_ids, [record["referral_id"]])
    store_record(cipher, target, merged, now=now, flags=flags)
    session.flush()
    log.info("referral %s updated (priority %s)", target.referral_id, target.priority)
    return target.referral_id


def get_referral(session: Session, cipher: Cipher, referral_id: str) -> dict[str, Any]:
    """The decrypted schema record of one referral."""
    row = session.get(ReferralRow, referral_id)
    if row is None:
        raise ReferralNotFound()
    return decrypt_record(cipher, row)


def referrals_for_conversation(
    session: Session, cipher: Cipher, conversation_id: str
) -> list[dict[str, Any]]:
    """Every referral of one conversation, oldest first, decrypted."""
    return [decrypt_record(cipher, row) for row in rows_for_conversation(session, conversation_id)]


def withdraw_conversation(
    session: Session, cipher: Cipher, conversation_id: str, *, now: datetime | None = None
) -> int:
    """The young person's DELETE: drop what this conversation holds; return how many referrals.

    A draft nobody has picked up is deleted; any other referral keeps only its non-personal
    fields and becomes withdrawn (a closed one stays closed). Escalation records are kept.
    """
    now = now or utcnow()
    lock_conversation(session, conversation_id)
    count = 0
    for row in rows_for_conversation(session, conversation_id):
        if row.status == "withdrawn":
            continue
        count += 1
        if not row.submitted and row.status == "new":
            session.execute(
                update(EscalationRow)
                .where(EscalationRow.referral_id == row.referral_id)
                .values(referral_id=None)
            )
            session.delete(row)
            continue
        record = records.wipe_personal(decrypt_record(cipher, row))
        if record["status"] != "closed":
            record["status"] = "withdrawn"
        store_record(cipher, row, record, now=now)
    session.flush()
    log.info("conversation withdrawn: %d referral(s)", count)
    return count
