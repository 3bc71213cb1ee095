"""pager: the page outbox and each escalation's paging state

Revision ID: pager_0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "pager_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("pager",)
depends_on: str | Sequence[str] | None = "handoff_0001"


def upgrade() -> None:
    op.create_table(
        "pages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("escalation_id", sa.String(36), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("contact_ref", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider_id", sa.String(64), nullable=True),
        sa.Column("last_error", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed', 'cancelled')", name=op.f("ck_pages_status")
        ),
        sa.CheckConstraint("channel IN ('sms', 'telegram')", name=op.f("ck_pages_channel")),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalations.escalation_id"],
            name=op.f("fk_pages_escalation_id_escalations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pages")),
        sa.UniqueConstraint(
            "escalation_id", "round", "contact_ref", "channel", name=op.f("uq_pages_once")
        ),
    )
    op.create_index(op.f("ix_pages_escalation_id"), "pages", ["escalation_id"], unique=False)
    op.create_index("ix_pages_due", "pages", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "escalation_paging",
        sa.Column("escalation_id", sa.String(36), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_round_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_round_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_because", sa.String(16), nullable=True),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalations.escalation_id"],
            name=op.f("fk_escalation_paging_escalation_id_escalations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("escalation_id", name=op.f("pk_escalation_paging")),
    )
    op.create_index(
        "ix_escalation_paging_due", "escalation_paging", ["next_round_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("escalation_paging")
    op.drop_table("pages")
