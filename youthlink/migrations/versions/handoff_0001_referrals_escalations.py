"""handoff: referrals and escalations

Revision ID: handoff_0001
Revises:
Create Date: 2025-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "handoff_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("handoff",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "referrals",
        sa.Column("referral_id", sa.String(36), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("submitted", sa.Boolean(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("merged_ids", sa.JSON(), nullable=False),
        sa.Column("age_band", sa.String(16), nullable=False),
        sa.Column("highest_severity", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("interest_categories", sa.JSON(), nullable=False),
        sa.Column("concern_categories", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_encrypted", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(
            "status IN ('new', 'claimed', 'contacted', 'closed', 'withdrawn')",
            name=op.f("ck_referrals_status"),
        ),
        sa.CheckConstraint(
            "priority IN ('routine', 'priority', 'urgent')", name=op.f("ck_referrals_priority")
        ),
        sa.CheckConstraint(
            "highest_severity BETWEEN 0 AND 5", name=op.f("ck_referrals_highest_severity")
        ),
        sa.PrimaryKeyConstraint("referral_id", name=op.f("pk_referrals")),
    )
    op.create_index(
        op.f("ix_referrals_conversation_id"), "referrals", ["conversation_id"], unique=False
    )
    op.create_index(
        "ix_referrals_queue", "referrals", ["status", "priority", "created_at"], unique=False
    )

    op.create_table(
        "escalations",
        sa.Column("escalation_id", sa.String(36), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("referral_id", sa.String(36), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("rule_ids", sa.JSON(), nullable=False),
        sa.Column("ruleset_version", sa.String(64), nullable=False),
        sa.Column("excerpt_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("acknowledged_by", sa.String(120), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(120), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(64), nullable=True),
        sa.Column("action_taken_encrypted", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'acknowledged', 'closed')", name=op.f("ck_escalations_status")
        ),
        sa.CheckConstraint("severity BETWEEN 0 AND 5", name=op.f("ck_escalations_severity")),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.referral_id"],
            name=op.f("fk_escalations_referral_id_referrals"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("escalation_id", name=op.f("pk_escalations")),
    )
    op.create_index(
        op.f("ix_escalations_conversation_id"), "escalations", ["conversation_id"], unique=False
    )
    op.create_index(
        op.f("ix_escalations_referral_id"), "escalations", ["referral_id"], unique=False
    )
    op.create_index("ix_escalations_log", "escalations", ["status", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("escalations")
    op.drop_table("referrals")
