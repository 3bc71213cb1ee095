"""channels: link workers' messages in the outbox, and the pause/resume events Rasa still owes

Revision ID: channels_0003
Revises: channels_0002
Create Date: 2025-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "channels_0003"
down_revision: str | Sequence[str] | None = "channels_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "kind IN ('reply', 'crisis', 'holding', 'page', 'worker')"
KINDS_BEFORE = "kind IN ('reply', 'crisis', 'holding', 'page')"


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_outbox_kind"), KINDS)
    op.create_table(
        "rasa_controls",
        sa.Column("conversation_id", sa.String(40), nullable=False),
        sa.Column("event", sa.String(10), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(64), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("event IN ('pause', 'resume')", name=op.f("ck_rasa_controls_event")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.conversation_id"],
            name=op.f("fk_rasa_controls_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_rasa_controls")),
    )
    op.create_index("ix_rasa_controls_due", "rasa_controls", ["next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_rasa_controls_due", table_name="rasa_controls")
    op.drop_table("rasa_controls")
    # Older code knows no "worker" kind: keep the messages, as replies.
    op.execute("UPDATE outbox SET kind = 'reply' WHERE kind = 'worker'")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_outbox_kind"), KINDS_BEFORE)
