"""Retention: how long each kind of stored data is kept, and the purge that applies it.

Kinds and their rules (periods are settings; see `docs/privacy.md` for the reasoning):

- `transcripts`: the gateway's inbox and outbox rows once handled, and the Rasa tracker events.
  Kept `transcripts_days` (30) after the conversation went quiet or after its referral was
  submitted (a referral last changed before the cutoff bounds its submission time).
- `contacts`: a conversation's row with the young person's encrypted phone number or chat id,
  once it is quiet for `transcripts_days`, has no messages left, no open referral and no
  escalation still being handled. Opted-out conversations are kept so STOP stays honoured.
- `referrals`: closed or withdrawn referrals, `referrals_days` (365) after their last change,
  with their notes and contact attempts.
- `escalations`: closed escalations, `escalations_days` (14 years) after closing, with their
  pages. Open or acknowledged ones are never purged.

The audit log is never purged here; every purge is counted in it (counts and ids only).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TextIO

from sqlalchemy import (
    ColumnElement,
    MetaData,
    Table,
    and_,
    delete,
    exists,
    false,
    func,
    inspect,
    or_,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from channels.tables import DONE, FAILED, SENT, ConversationRow, InboxRow, OutboxRow
from handoff.models import OPEN_REFERRAL_STATUSES, EscalationRow, ReferralRow
from youthlink.config import Settings
from youthlink.errors import ConfigurationError
from youthlink.keys import TrackerStoreCommand, count_in, settings_from_env
from youthlink.models_registry import import_models

log = logging.getLogger(__name__)

DEFAULT_TRANSCRIPTS_DAYS = 30
DEFAULT_REFERRALS_DAYS = 365
# Long enough for the youngest user (11) to reach 25, the age to which UK guidance expects
# child protection records to be kept (see docs/privacy.md); only the age band is known.
DEFAULT_ESCALATIONS_DAYS = 14 * 365 + 4
DEFAULT_BATCH_SIZE = 500
DAY = 24 * 60 * 60

TRANSCRIPTS = "transcripts"
CONTACTS = "contacts"
REFERRALS = "referrals"
ESCALATIONS = "escalations"
KINDS = (TRANSCRIPTS, CONTACTS, REFERRALS, ESCALATIONS)
TRACKER_EVENTS = "tracker_events"

ENV_TRANSCRIPTS = "YOUTHLINK_RETAIN_TRANSCRIPTS_DAYS"
ENV_REFERRALS = "YOUTHLINK_RETAIN_REFERRALS_DAYS"
ENV_ESCALATIONS = "YOUTHLINK_RETAIN_ESCALATIONS_DAYS"

# Tables this tool never deletes from, whatever refers to what.
PROTECTED_TABLES = frozenset({"audit_log"})


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


# --- the policy -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionPolicy:
    """How many days each kind of data is kept (see the module docstring for the rules)."""

    transcripts_days: int = DEFAULT_TRANSCRIPTS_DAYS
    referrals_days: int = DEFAULT_REFERRALS_DAYS
    escalations_days: int = DEFAULT_ESCALATIONS_DAYS

    def __post_init__(self) -> None:
        for name in ("transcripts_days", "referrals_days", "escalations_days"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"retention {name} must be at least 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RetentionPolicy:
        """From `YOUTHLINK_RETAIN_{TRANSCRIPTS,REFERRALS,ESCALATIONS}_DAYS` (defaults if unset)."""

        def days(name: str, default: int) -> int:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError as exc:
                raise ConfigurationError(f"{name} must be a whole number of days") from exc
            if value < 1:
                raise ConfigurationError(f"{name} must be at least 1 day")
            return value

        return cls(
            transcripts_days=days(ENV_TRANSCRIPTS, DEFAULT_TRANSCRIPTS_DAYS),
            referrals_days=days(ENV_REFERRALS, DEFAULT_REFERRALS_DAYS),
            escalations_days=days(ENV_ESCALATIONS, DEFAULT_ESCALATIONS_DAYS),
        )

    def cutoff(self, kind: str, now: datetime) -> datetime:
        """Data of `kind` older than this (by its rule) is due for deletion."""
        days = {
            TRANSCRIPTS: self.transcripts_days,
            CONTACTS: self.transcripts_days,
            REFERRALS: self.referrals_days,
            ESCALATIONS: self.escalations_days,
        }[kind]
        return now - timedelta(days=days)


# --- what is due ------------------------------------------------------------------------------


def _conversation_done_with(conversation_id: Any, cutoff: datetime) -> ColumnElement[bool]:
    """The conversation went quiet before `cutoff`, or a referral of it was submitted before."""
    quiet = exists().where(
        ConversationRow.conversation_id == conversation_id,
        ConversationRow.last_seen_at < cutoff,
    )
    # A referral's last change is never earlier than its submission.
    submitted = exists().where(
        ReferralRow.conversation_id == conversation_id,
        ReferralRow.submitted.is_(True),
        ReferralRow.updated_at < cutoff,
    )
    return or_(quiet, submitted)


def due_inbox(cutoff: datetime) -> ColumnElement[bool]:
    """Inbox rows handled, received before `cutoff`, of a conversation done with."""
    return and_(
        InboxRow.status.in_((DONE, FAILED)),
        InboxRow.received_at < cutoff,
        _conversation_done_with(InboxRow.conversation_id, cutoff),
    )


def due_outbox(cutoff: datetime) -> ColumnElement[bool]:
    """Outbox rows sent (or given up), created before `cutoff`, of a conversation done with."""
    return and_(
        OutboxRow.status.in_((SENT, FAILED)),
        OutboxRow.created_at < cutoff,
        _conversation_done_with(OutboxRow.conversation_id, cutoff),
    )


def due_conversations(cutoff: datetime) -> ColumnElement[bool]:
    """Conversations quiet since before `cutoff` with nothing left that may need the address."""
    cid = ConversationRow.conversation_id
    return and_(
        ConversationRow.last_seen_at < cutoff,
        ConversationRow.opted_out.is_(False),
        ~exists().where(InboxRow.conversation_id == cid),
        ~exists().where(OutboxRow.conversation_id == cid),
        ~exists().where(
            ReferralRow.conversation_id == cid, ReferralRow.status.in_(OPEN_REFERRAL_STATUSES)
        ),
        ~exists().where(EscalationRow.conversation_id == cid, EscalationRow.status != "closed"),
    )


def due_referrals(cutoff: datetime) -> ColumnElement[bool]:
    """Closed or withdrawn referrals last changed before `cutoff`."""
    return and_(
        ReferralRow.status.in_(("closed", "withdrawn")),
        ReferralRow.updated_at < cutoff,
    )


def due_escalations(cutoff: datetime) -> ColumnElement[bool]:
    """Closed escalations closed before `cutoff`."""
    return and_(
        EscalationRow.status == "closed",
        EscalationRow.closed_at.is_not(None),
        EscalationRow.closed_at < cutoff,
    )


@dataclass(frozen=True)
class Target:
    """One table purged under one kind, and which of its rows are due."""

    kind: str
    table: Table
    due: Callable[[datetime], ColumnElement[bool]]


def targets() -> tuple[Target, ...]:
    """What the purge deletes, in order (messages before the conversations they belong to)."""
    return (
        Target(TRANSCRIPTS, InboxRow.__table__, due_inbox),  # type: ignore[arg-type]
        Target(TRANSCRIPTS, OutboxRow.__table__, due_outbox),  # type: ignore[arg-type]
        Target(REFERRALS, ReferralRow.__table__, due_referrals),  # type: ignore[arg-type]
        Target(ESCALATIONS, EscalationRow.__table__, due_escalations),  # type: ignore[arg-type]
        Target(CONTACTS, ConversationRow.__table__, due_conversations),  # type: ignore[arg-type]
    )


# --- deleting with what depends on it ---------------------------------------------------------


@dataclass(frozen=True)
class Dependent:
    """A table whose rows belong to rows of another (a foreign key that does not SET NULL)."""

    table: Table
    column: Any
    referenced: Any


def dependents(metadata: MetaData, table: Table) -> tuple[Dependent, ...]:
    """Tables whose rows go when a row of `table` goes (foreign keys to it, except SET NULL,
    which leave the referring row, e.g. an escalation outliving its referral)."""
    found = []
    for other in metadata.sorted_tables:
        if other.name in PROTECTED_TABLES:
            continue
        for fk in other.foreign_keys:
            if fk.column.table is table and (fk.ondelete or "").upper() != "SET NULL":
                found.append(Dependent(other, fk.parent, fk.column))
    return tuple(found)


def _count_tree(
    conn: Connection, metadata: MetaData, table: Table, where: ColumnElement[bool],
    counts: dict[str, int], path: frozenset[str] = frozenset(),
) -> None:  # fmt: skip
    """Count the rows of `table` matching `where` and the rows that belong to them."""
    for dep in dependents(metadata, table):
        if dep.table.name not in path:
            inner = dep.column.in_(select(dep.referenced).where(where))
            _count_tree(conn, metadata, dep.table, inner, counts, path | {table.name})
    found = conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()
    counts[table.name] = counts.get(table.name, 0) + int(found)


def _delete_tree(
    conn: Connection, metadata: MetaData, table: Table, where: ColumnElement[bool],
    counts: dict[str, int], path: frozenset[str] = frozenset(),
) -> int:  # fmt: skip
    """Delete the rows of `table` matching `where` and, first, the rows that belong to them."""
    for dep in dependents(metadata, table):
        if dep.table.name not in path:
            inner = dep.column.in_(select(dep.referenced).where(where))
            _delete_tree(conn, metadata, dep.table, inner, counts, path | {table.name})
    gone = int(conn.execute(delete(table).where(where)).rowcount or 0)
    counts[table.name] = counts.get(table.name, 0) + gone
    return gone


# --- auditing ---------------------------------------------------------------------------------


class AuditWriter(Protocol):
    """Appends one event (non-personal details only) to the audit log in the caller's
    transaction."""

    def __call__(
        self, session: Session, action: str, record_type: str, detail: Mapping[str, int | str]
    ) -> None: ...


def handoff_audit_writer(engine: Engine) -> AuditWriter | None:
    """The handoff audit log as an `AuditWriter`, or None if this database has none."""
    try:
        from handoff import audit
        from handoff.models import AuditRow
    except ImportError:
        return None
    if not inspect(engine).has_table(AuditRow.__tablename__):
        return None

    def write(
        session: Session, action: str, record_type: str, detail: Mapping[str, int | str]
    ) -> None:
        audit.record(
            session, actor=audit.SYSTEM, action=action, record_type=record_type, detail=detail
        )

    return write


# --- running the purge ------------------------------------------------------------------------


@dataclass(frozen=True)
class Purged:
    """Rows of one table purged (or due, in a dry run) under one kind."""

    kind: str
    table: str
    count: int


@dataclass(frozen=True)
class PurgeReport:
    """What one purge deleted (or would delete), per kind and table."""

    now: datetime
    dry_run: bool
    lines: tuple[Purged, ...]
    # Tracker events deleted; None when not run (not configured, dry run, or failed).
    tracker_events: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def by_kind(self) -> dict[str, int]:
        """Total rows per kind (tracker events count as transcripts)."""
        totals = dict.fromkeys(KINDS, 0)
        for line in self.lines:
            totals[line.kind] += line.count
        if self.tracker_events:
            totals[TRANSCRIPTS] += self.tracker_events
        return totals


def _purge_target(
    engine: Engine,
    metadata: MetaData,
    target: Target,
    cutoff: datetime,
    *,
    batch_size: int,
    audit: AuditWriter | None,
) -> dict[str, int]:
    table = target.table
    (key,) = table.primary_key.columns
    totals: dict[str, int] = {}
    while True:
        with Session(engine) as session, session.begin():
            conn = session.connection()
            if conn.dialect.name == "sqlite":
                # Take the write lock before reading: a read transaction that later writes
                # fails at once in WAL mode if another process wrote in between.
                conn.execute(delete(table).where(false()))
            ids = list(
                conn.execute(
                    select(key).where(target.due(cutoff)).order_by(key).limit(batch_size)
                ).scalars()
            )
            if not ids:
                break
            counts: dict[str, int] = {}
            # The rule is applied again with the ids: a row that changed since is kept.
            gone = _delete_tree(
                conn, metadata, table, and_(key.in_(ids), target.due(cutoff)), counts
            )
            if audit is not None and any(counts.values()):
                detail: dict[str, int | str] = {
                    "kind": target.kind,
                    "before": cutoff.isoformat(timespec="seconds"),
                }
                detail.update({name: n for name, n in counts.items() if n})
                audit(session, "retention.purge", "retention", detail)
        for name, n in counts.items():
            totals[name] = totals.get(name, 0) + n
        if gone == 0 or len(ids) < batch_size:
            break
    return totals


def run_purge(
    engine: Engine,
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    audit: AuditWriter | None = None,
    tracker: TrackerStoreCommand | None = None,
    keys: Sequence[str] = (),
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> PurgeReport:
    """Apply the policy once: delete (or, in a dry run, count) everything past its time.

    Each batch is one transaction together with its audit entry. `tracker` with `keys` also
    purges the Rasa tracker events of conversations quiet since the transcripts cutoff.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    now = now or utcnow()
    metadata = import_models()
    existing = set(inspect(engine).get_table_names())
    lines: list[Purged] = []
    notes: list[str] = []
    for target in targets():
        if target.table.name not in existing:
            notes.append(f"{target.table.name}: table not in this database, skipped")
            continue
        cutoff = policy.cutoff(target.kind, now)
        if dry_run:
            counts: dict[str, int] = {}
            with engine.connect() as conn:
                _count_tree(conn, metadata, target.table, target.due(cutoff), counts)
        else:
            counts = _purge_target(
                engine, metadata, target, cutoff, batch_size=batch_size, audit=audit
            )
        lines.extend(Purged(target.kind, name, counts.get(name, 0)) for name in sorted(counts))
        if target.table.name not in counts:
            lines.append(Purged(target.kind, target.table.name, 0))
    if dry_run:
        notes.append(
            "contacts are counted before this run's transcripts are deleted: a purge may delete"
            " more conversations than shown"
        )
    tracker_events = None
    if tracker is not None:
        tracker_events = _purge_tracker(
            engine, tracker, keys, policy.cutoff(TRANSCRIPTS, now), dry_run, audit, notes
        )
    report = PurgeReport(now, dry_run, tuple(lines), tracker_events, tuple(notes))
    log.info(
        "retention %s: %s",
        "dry run" if dry_run else "purge",
        ", ".join(f"{kind} {n}" for kind, n in report.by_kind().items()),
    )
    return report


def _purge_tracker(
    engine: Engine,
    tracker: TrackerStoreCommand,
    keys: Sequence[str],
    cutoff: datetime,
    dry_run: bool,
    audit: AuditWriter | None,
    notes: list[str],
) -> int | None:
    before = cutoff.isoformat(timespec="seconds")
    if dry_run:
        notes.append(
            f"tracker store: not counted in a dry run; a purge deletes the events of"
            f" conversations quiet since {before}"
        )
        return None
    reason = tracker.unavailable()
    if reason is not None:
        notes.append(f"tracker store: SKIPPED, {reason}")
        log.warning("tracker purge skipped: the Rasa environment is missing")
        return None
    done = tracker.run(["purge", "--before", before], keys=keys)
    count = count_in(done.stdout, r"purged (\d+) events")
    if done.returncode != 0 or count is None:
        notes.append(f"tracker store: purge FAILED (exit code {done.returncode})")
        log.error("tracker purge failed with exit code %d", done.returncode)
        return None
    if audit is not None and count:
        with Session(engine) as session, session.begin():
            audit(
                session,
                "retention.purge",
                "retention",
                {"kind": TRANSCRIPTS, "before": before, TRACKER_EVENTS: count},
            )
    return count


async def retention_loop(
    settings: Settings,
    engine: Engine,
    *,
    policy: RetentionPolicy,
    tracker: TrackerStoreCommand | None = None,
    audit: AuditWriter | None = None,
    interval: timedelta = timedelta(days=1),
    clock: Callable[[], datetime] = utcnow,
    stop: asyncio.Event | None = None,
) -> None:
    """Purge now and then every `interval` until `stop` is set (or the task is cancelled).

    For the handoff process: `asyncio.create_task(retention_loop(settings, engine, policy=...,
    tracker=TrackerStoreCommand.from_env(os.environ)))`. `audit` defaults to the handoff audit
    log. A failed run is logged (its error type only) and tried again at the next interval.
    """
    stop = stop or asyncio.Event()
    writer = audit if audit is not None else handoff_audit_writer(engine)
    if writer is None:
        log.warning("retention: no audit log in this database; purges are only logged")
    while not stop.is_set():
        try:
            await asyncio.to_thread(
                run_purge,
                engine,
                policy,
                now=clock(),
                audit=writer,
                tracker=tracker,
                keys=settings.encryption_keys,
            )
        except Exception as exc:
            # The message could quote bound values; the type is enough to go and look.
            log.error("retention run failed: %s", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval.total_seconds())


# --- command line -----------------------------------------------------------------------------


def format_report(report: PurgeReport) -> str:
    """The report as lines for a terminal."""
    verb = "due (dry run, nothing deleted)" if report.dry_run else "deleted"
    lines = [f"retention at {report.now.isoformat(timespec='seconds')}: rows {verb}"]
    for kind in KINDS:
        for line in (p for p in report.lines if p.kind == kind):
            lines.append(f"  {kind:<12} {line.table:<20} {line.count}")
    if report.tracker_events is not None:
        lines.append(f"  {TRANSCRIPTS:<12} {TRACKER_EVENTS:<20} {report.tracker_events}")
    totals = ", ".join(f"{kind} {n}" for kind, n in report.by_kind().items())
    lines.append(f"total: {totals}")
    lines.extend(report.notes)
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The `youthlink purge` argument parser."""
    parser = argparse.ArgumentParser(
        prog="youthlink purge",
        description="Delete what is past its retention period (settings from YOUTHLINK_*).",
    )
    parser.add_argument("--dry-run", action="store_true", help="count per kind, delete nothing")
    parser.add_argument("--skip-tracker", action="store_true", help="leave the tracker store")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    return parser


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    """`youthlink purge [--dry-run]`."""
    from youthlink.db import make_engine

    args = build_parser().parse_args(argv)
    env = os.environ if environ is None else environ
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if args.batch_size < 1:
        print("error: --batch-size must be at least 1", file=err)
        return 2
    try:
        settings = settings_from_env(env)
        policy = RetentionPolicy.from_env(env)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=err)
        return 2
    tracker = None if args.skip_tracker else TrackerStoreCommand.from_env(env)
    engine = make_engine(settings.database_url)
    try:
        audit = None if args.dry_run else handoff_audit_writer(engine)
        if audit is None and not args.dry_run:
            print("note: no audit log in this database; counts are only printed", file=err)
        report = run_purge(
            engine,
            policy,
            now=now,
            dry_run=args.dry_run,
            audit=audit,
            tracker=tracker,
            keys=settings.encryption_keys,
            batch_size=args.batch_size,
        )
    finally:
        engine.dispose()
    print(format_report(report), file=out)
    failed = any("FAILED" in note for note in report.notes)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
