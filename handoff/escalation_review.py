"""The escalation log as safeguarding leads work it: filter, open (audited), acknowledge,
close with an outcome, and export a date range as CSV (without excerpts)."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, cast, func, select
from sqlalchemy.orm import Session

from handoff import audit, escalations
from handoff.conversation import ConversationReader, Turn
from handoff.escalations import Escalation
from handoff.models import ESCALATION_STATUSES, EscalationRow
from handoff.queue import Staff
from handoff.staff_errors import Forbidden, InvalidInput
from youthlink.crypto import Cipher

LOCAL_ZONE = "Europe/London"
OUTCOMES = {
    "advice_given": "Advice given to the young person",
    "emergency_services_called": "Emergency services called",
    "referred_to_social_care": "Referred to children's social care",
    "police_informed": "Police informed",
    "referred_to_camhs": "Referred to CAMHS or health",
    "parent_carer_informed": "Parent or carer informed",
    "referred_to_link_worker": "Passed to a link worker",
    "no_further_action": "No further action needed",
    "other": "Other (see action taken)",
}
MAX_ACTION_TAKEN = 5000
_SLUG = re.compile(r"^[a-z_]{1,40}$")
CSV_COLUMNS = (
    "escalation_id",
    "created_at",
    "severity",
    "categories",
    "rule_ids",
    "ruleset_version",
    "channel",
    "status",
    "acknowledged_by",
    "acknowledged_at",
    "minutes_to_acknowledge",
    "closed_by",
    "closed_at",
    "outcome",
    "referral_id",
)


@dataclass(frozen=True)
class EscalationFilter:
    """What the escalation log shows; dates are UK local days, both ends included."""

    status: str | None = None
    min_severity: int | None = None
    category: str | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class EscalationPage:
    """One page of the log, newest first."""

    items: tuple[Escalation, ...]
    number: int
    pages: int
    total: int


@dataclass(frozen=True)
class EscalationDetail:
    """An escalation with its excerpt (decrypted) and, if readable, the conversation around it."""

    escalation: Escalation
    context: tuple[Turn, ...] | None


def require_lead(staff: Staff) -> None:
    """The escalation log is for safeguarding leads only."""
    if not staff.is_lead:
        raise Forbidden()


def day_start(day: date, zone: str = LOCAL_ZONE) -> datetime:
    """Midnight at the start of a UK local day, in UTC."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _conditions(wanted: EscalationFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.status is not None:
        if wanted.status not in ESCALATION_STATUSES:
            raise InvalidInput("unknown status")
        conditions.append(EscalationRow.status == wanted.status)
    if wanted.min_severity is not None:
        conditions.append(EscalationRow.severity >= wanted.min_severity)
    if wanted.category is not None:
        if not _SLUG.match(wanted.category):
            raise InvalidInput("unknown category")
        conditions.append(cast(EscalationRow.categories, String).like(f'%"{wanted.category}"%'))
    if wanted.date_from is not None:
        conditions.append(EscalationRow.created_at >= day_start(wanted.date_from))
    if wanted.date_to is not None:
        conditions.append(EscalationRow.created_at < day_start(wanted.date_to + timedelta(1)))
    return conditions


def list_log(
    session: Session,
    cipher: Cipher,
    staff: Staff,
    *,
    wanted: EscalationFilter = EscalationFilter(),
    page: int = 1,
    per_page: int = 25,
) -> EscalationPage:
    """One page of escalations, newest first (no excerpts)."""
    require_lead(staff)
    conditions = _conditions(wanted)
    total = int(
        session.scalar(select(func.count()).select_from(EscalationRow).where(*conditions)) or 0
    )
    pages = max(1, math.ceil(total / per_page))
    number = min(max(1, page), pages)
    rows = session.scalars(
        select(EscalationRow)
        .where(*conditions)
        .order_by(EscalationRow.created_at.desc(), EscalationRow.escalation_id)
        .offset((number - 1) * per_page)
        .limit(per_page)
    )
    items = tuple(Escalation.from_row(r, cipher) for r in rows)
    return EscalationPage(items=items, number=number, pages=pages, total=total)


def open_counts(session: Session) -> dict[str, int]:
    """How many escalations wait in each status."""
    rows = session.execute(
        select(EscalationRow.status, func.count()).group_by(EscalationRow.status)
    ).all()
    counts = {status: 0 for status in ESCALATION_STATUSES}
    counts.update({status: int(n) for status, n in rows})
    return counts


def _record(
    session: Session,
    staff: Staff,
    action: str,
    escalation_id: str,
    now: datetime,
    detail: audit.Detail | None = None,
) -> None:
    audit.record(
        session,
        actor=staff.actor,
        action=action,
        record_type="escalation",
        record_id=escalation_id,
        source=staff.source,
        detail=detail or {},
        now=now,
    )


def open_escalation(
    session: Session,
    cipher: Cipher,
    staff: Staff,
    escalation_id: str,
    *,
    reader: ConversationReader | None = None,
    now: datetime | None = None,
) -> EscalationDetail:
    """The escalation with its excerpt and the conversation around it; the view is audited."""
    require_lead(staff)
    now = now or datetime.now(UTC)
    escalation = escalations.get_escalation(session, cipher, escalation_id, personal=True)
    context = None
    if reader is not None:
        turns = reader(
            session, cipher, escalation.conversation_id, escalation_id, escalation.created_at
        )
        context = None if turns is None else tuple(turns)
    detail: dict[str, str | int] = {"context_turns": len(context) if context else 0}
    _record(session, staff, "escalation.viewed", escalation_id, now, detail)
    return EscalationDetail(escalation, context)


def acknowledge(
    session: Session,
    cipher: Cipher,
    staff: Staff,
    escalation_id: str,
    *,
    by: str,
    now: datetime | None = None,
) -> Escalation:
    """The lead has seen it (audited)."""
    require_lead(staff)
    now = now or datetime.now(UTC)
    result = escalations.acknowledge(session, cipher, escalation_id, by=by, now=now)
    _record(session, staff, "escalation.acknowledged", escalation_id, now)
    return result


def close(
    session: Session,
    cipher: Cipher,
    staff: Staff,
    escalation_id: str,
    *,
    by: str,
    outcome: str,
    action_taken: str,
    now: datetime | None = None,
) -> Escalation:
    """Record the action taken and close with an outcome (audited; the text is encrypted)."""
    require_lead(staff)
    if outcome not in OUTCOMES:
        raise InvalidInput("choose an outcome from the list")
    action_taken = action_taken.strip()
    if not action_taken:
        raise InvalidInput("say what action was taken")
    if len(action_taken) > MAX_ACTION_TAKEN:
        raise InvalidInput(f"the action taken has at most {MAX_ACTION_TAKEN} characters")
    now = now or datetime.now(UTC)
    result = escalations.close(
        session, cipher, escalation_id, by=by, outcome=outcome, action_taken=action_taken, now=now
    )
    _record(session, staff, "escalation.closed", escalation_id, now, {"outcome": outcome})
    return result


def _csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell starting like a formula would run in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


def csv_rows(items: Sequence[Escalation]) -> str:
    """The escalations as CSV text: ids, times, rules, outcomes; no excerpt, no action text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in items:
        minutes = (
            ""
            if e.acknowledged_at is None
            else str(int((e.acknowledged_at - e.created_at).total_seconds() // 60))
        )
        values: list[object] = [
            e.escalation_id,
            _iso(e.created_at),
            e.severity,
            ";".join(e.categories),
            ";".join(e.rule_ids),
            e.ruleset_version,
            e.channel,
            e.status,
            e.acknowledged_by,
            _iso(e.acknowledged_at),
            minutes,
            e.closed_by,
            _iso(e.closed_at),
            e.outcome,
            e.referral_id,
        ]
        writer.writerow([_csv_cell(v) for v in values])
    return buffer.getvalue()


def export_csv(
    session: Session,
    cipher: Cipher,
    staff: Staff,
    *,
    date_from: date,
    date_to: date,
    now: datetime | None = None,
) -> str:
    """Every escalation created in a date range (UK local days), oldest first, as CSV."""
    require_lead(staff)
    if date_to < date_from:
        raise InvalidInput("the end date is before the start date")
    if (date_to - date_from).days > 3660:
        raise InvalidInput("export at most ten years at a time")
    now = now or datetime.now(UTC)
    conditions = _conditions(EscalationFilter(date_from=date_from, date_to=date_to))
    rows = session.scalars(
        select(EscalationRow)
        .where(*conditions)
        .order_by(EscalationRow.created_at, EscalationRow.escalation_id)
    )
    items = [Escalation.from_row(r, cipher) for r in rows]
    detail: audit.Detail = {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "rows": len(items),
    }
    audit.record(
        session,
        actor=staff.actor,
        action="escalation.exported",
        record_type="escalation_log",
        source=staff.source,
        detail=detail,
        now=now,
    )
    return csv_rows(items)
