"""Claiming the next row of the inbox or outbox, keeping each conversation's rows in order.

The claim is one statement, built once per table and reused: building it (two aliases of the
table, a correlated `EXISTS`) cost more than running it, and the worker claims several times
for every message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import DateTime, bindparam, exists, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause, NamedFromClause, TableClause

from channels.tables import PENDING, PROCESSING

Condition = Callable[[NamedFromClause], ColumnElement[bool]]


def claim_statement(table: FromClause, ready: Condition | None = None) -> Any:
    """`UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id` for `table`.

    A row is claimable when it is pending and due (or `processing` with an expired lease: its
    claimer died), `ready` holds for it, and no earlier row of its conversation is still
    pending or processing. Parameters: `now` and `lease_until`.
    """
    candidate = table.alias("candidate")
    earlier = table.alias("earlier")
    blocked = (
        exists()
        .where(
            earlier.c.conversation_id == candidate.c.conversation_id,
            earlier.c.id < candidate.c.id,
            earlier.c.status.in_((PENDING, PROCESSING)),
        )
        .correlate(candidate)
    )
    conditions = [
        candidate.c.status.in_((PENDING, PROCESSING)),
        candidate.c.next_attempt_at <= bindparam("now", type_=DateTime(timezone=True)),
        ~blocked,
    ]
    if ready is not None:
        conditions.insert(0, ready(candidate))
    next_id = (
        select(candidate.c.id)
        .where(*conditions)
        .order_by(candidate.c.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=candidate)
        .scalar_subquery()
    )
    return (
        update(cast(TableClause, table))
        .where(table.c.id == next_id)
        .values(
            status=PROCESSING,
            next_attempt_at=bindparam("lease_until", type_=DateTime(timezone=True)),
        )
        .returning(table.c.id)
    )


def claim(session: Session, statement: Any, now: datetime, lease: timedelta) -> int | None:
    """Run a claim statement: the id of the row claimed (leased until `now + lease`), or None."""
    claimed = session.execute(statement, {"now": now, "lease_until": now + lease}).scalar()
    return None if claimed is None else int(claimed)
