"""channels: opt-out state, reply-from number, notices and delivery status

Revision ID: channels_0002
Revises: channels_0001
Create Date: 2025-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "channels_0002"
down_revision: str | Sequence[str] | None = "channels_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("opt_out_inbox_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reply_from", sa.String(64), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("notice", sa.String(20), nullable=True))
        batch.add_column(sa.Column("error", sa.String(64), nullable=True))
        batch.add_column(sa.Column("delivery_status", sa.String(20), nullable=True))
        batch.add_column(
            sa.Column("delivery_updated_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_index(
        "ix_outbox_provider_message_id", "outbox", ["provider_message_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_provider_message_id", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("delivery_updated_at")
        batch.drop_column("delivery_status")
        batch.drop_column("error")
        batch.drop_column("notice")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("reply_from")
        batch.drop_column("opt_out_inbox_id")
        batch.drop_column("opted_out_at")
