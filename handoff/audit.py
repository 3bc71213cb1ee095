"""The audit log: who did what to which record, when and from where, in a hash chain.

Rows are only ever appended (the database refuses updates and deletes too). Each row carries
the hash of the row before it, so `verify` finds the first row that was changed, removed or
inserted out of turn. Nothing personal goes into a row: actors are `user:<id>`, `service` or
`system`, records are named by their ids, and details are short codes, ids and counts.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, select, text
from sqlalchemy.orm import Session

from handoff.models import AuditRow

GENESIS_HASH = "0" * 64
# Any fixed number: the PostgreSQL advisory lock that serialises appends to the chain.
AUDIT_LOCK_KEY = 7_031_942_119
SYSTEM = "system"
SERVICE = "service"

# Detail values are codes, ids and numbers: no spaces, so no free text can slip in.
_CODE = re.compile(r"^[A-Za-z0-9_.:@/+-]{0,80}$")
_ACTOR = re.compile(r"^(user:\d{1,12}|service|system)$")
_NAME = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
Detail = Mapping[str, "str | int | bool | Sequence[str | int] | None"]


class AuditError(ValueError):
    """An audit event would carry something it must not (free text, an unknown actor)."""


def user_actor(user_id: int) -> str:
    """The actor code of a member of staff."""
    return f"user:{user_id}"


@dataclass(frozen=True)
class AuditEvent:
    """One row of the audit log."""

    id: int
    at: datetime
    actor: str
    action: str
    record_type: str
    record_id: str | None
    source: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    row_hash: str = ""

    @classmethod
    def from_row(cls, row: AuditRow) -> AuditEvent:
        """From a stored row."""
        return cls(
            id=row.id,
            at=row.at,
            actor=row.actor,
            action=row.action,
            record_type=row.record_type,
            record_id=row.record_id,
            source=row.source,
            detail=dict(row.detail),
            prev_hash=row.prev_hash,
            row_hash=row.row_hash,
        )


@dataclass(frozen=True)
class Verification:
    """The result of checking the chain: how many rows, and the first broken one if any."""

    checked: int
    head_hash: str
    broken_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every row checked out."""
        return self.broken_id is None


def row_hash(
    *,
    prev_hash: str,
    id: int,
    at: datetime,
    actor: str,
    action: str,
    record_type: str,
    record_id: str | None,
    source: str | None,
    detail: Mapping[str, Any],
) -> str:
    """The SHA-256 of a row's content together with the previous row's hash."""
    content = [
        prev_hash,
        id,
        at.astimezone(UTC).isoformat(timespec="microseconds"),
        actor,
        action,
        record_type,
        record_id,
        source,
        detail,
    ]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _check_value(key: str, value: Any) -> None:
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, str):
        if not _CODE.match(value):
            raise AuditError(f"audit detail {key!r} must be a short code, id or number")
        return
    if isinstance(value, list | tuple):
        if len(value) > 50:
            raise AuditError(f"audit detail {key!r} has too many items")
        for item in value:
            if isinstance(item, list | tuple):
                raise AuditError(f"audit detail {key!r} must be a flat list")
            _check_value(key, item)
        return
    raise AuditError(f"audit detail {key!r} has an unsupported type")


def check_event(
    *, actor: str, action: str, record_type: str, record_id: str | None, detail: Detail
) -> dict[str, Any]:
    """Refuse anything that could be personal; return the detail as plain JSON data."""
    if not _ACTOR.match(actor):
        raise AuditError("audit actor must be user:<id>, service or system")
    if not _NAME.match(action) or not _NAME.match(record_type):
        raise AuditError("audit action and record type must be short lower-case codes")
    if record_id is not None and not _CODE.match(record_id):
        raise AuditError("audit record id must be an id")
    plain: dict[str, Any] = {}
    for key, value in detail.items():
        if not _NAME.match(key):
            raise AuditError("audit detail keys must be short lower-case codes")
        _check_value(key, value)
        plain[key] = list(value) if isinstance(value, list | tuple) else value
    return plain


def lock_chain(session: Session) -> None:
    """Serialise appenders until the transaction ends (PostgreSQL advisory lock; SQLite's
    write lock, taken by a write that changes nothing)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    elif dialect == "sqlite":
        session.execute(text("DELETE FROM audit_log WHERE 0 = 1"))


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    record_type: str,
    record_id: str | None = None,
    source: str | None = None,
    detail: Detail | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction.

    Call it last in a transaction: it holds the chain's lock until the transaction ends.
    """
    plain = check_event(
        actor=actor,
        action=action,
        record_type=record_type,
        record_id=record_id,
        detail=detail or {},
    )
    source = None if source is None else source[:64]
    at = (now or datetime.now(UTC)).astimezone(UTC)
    lock_chain(session)
    last = session.execute(
        select(AuditRow.id, AuditRow.row_hash).order_by(AuditRow.id.desc()).limit(1)
    ).first()
    new_id, prev = (1, GENESIS_HASH) if last is None else (last.id + 1, last.row_hash)
    fields: dict[str, Any] = {
        "id": new_id,
        "at": at,
        "actor": actor,
        "action": action,
        "record_type": record_type,
        "record_id": record_id,
        "source": source,
        "detail": plain,
    }
    digest = row_hash(prev_hash=prev, **fields)
    row = AuditRow(**fields, prev_hash=prev, row_hash=digest)
    session.add(row)
    session.flush()
    return AuditEvent.from_row(row)


def verify(session: Session, *, batch: int = 1000) -> Verification:
    """Walk the chain in order and report the first row that does not check out."""
    expected_id, prev, checked = 1, GENESIS_HASH, 0
    last_id = 0
    while True:
        # Plain rows, not ORM objects: a long chain must not pile up in the session.
        table = AuditRow.__table__
        rows = session.execute(
            select(table).where(table.c.id > last_id).order_by(table.c.id).limit(batch)
        ).all()
        if not rows:
            return Verification(checked=checked, head_hash=prev)
        for row in rows:
            problem = _problem(row, expected_id, prev)
            if problem is not None:
                return Verification(
                    checked=checked, head_hash=prev, broken_id=row.id, reason=problem
                )
            prev, expected_id, checked = row.row_hash, row.id + 1, checked + 1
        last_id = rows[-1].id


def _problem(row: Row[Any], expected_id: int, prev: str) -> str | None:
    if row.id != expected_id:
        return f"expected row {expected_id} next, found row {row.id} (rows missing)"
    if row.prev_hash != prev:
        return "previous-row hash does not match the row before it"
    recomputed = row_hash(
        prev_hash=row.prev_hash,
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        record_type=row.record_type,
        record_id=row.record_id,
        source=row.source,
        detail=row.detail,
    )
    if recomputed != row.row_hash:
        return "row content does not match its hash (changed after it was written)"
    return None


def events_for(
    session: Session, record_type: str, record_id: str, *, limit: int = 200
) -> list[AuditEvent]:
    """The events about one record, oldest first."""
    rows = session.scalars(
        select(AuditRow)
        .where(AuditRow.record_type == record_type, AuditRow.record_id == record_id)
        .order_by(AuditRow.id)
        .limit(limit)
    )
    return [AuditEvent.from_row(r) for r in rows]


def recent(session: Session, *, limit: int = 100) -> list[AuditEvent]:
    """The latest events, newest first."""
    rows = session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit))
    return [AuditEvent.from_row(r) for r in rows]
