"""Erasing what a conversation said, for the young person's DELETE."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from channels.tables import DONE, FAILED, SENT, InboxRow, OutboxRow
from youthlink.crypto import Cipher


def forget_messages(session: Session, cipher: Cipher, conversation_id: str) -> int:
    """Blank the stored text of every finished message of a conversation, both directions.

    Rows stay (their ids, times and safeguarding verdicts are not personal and keep the audit
    trail and ordering intact); messages still being handled are left alone so the reply
    confirming the deletion is still sent. Returns how many rows were blanked.
    """
    blank_text = cipher.encrypt("")
    blank_body = cipher.encrypt("{}")
    inbox_rows = session.execute(
        update(InboxRow)
        .where(InboxRow.conversation_id == conversation_id, InboxRow.status.in_((DONE, FAILED)))
        .values(text_encrypted=blank_text)
        .execution_options(synchronize_session=False)
    )
    outbox_rows = session.execute(
        update(OutboxRow)
        .where(OutboxRow.conversation_id == conversation_id, OutboxRow.status.in_((SENT, FAILED)))
        .values(body_encrypted=blank_body)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(inbox_rows, "rowcount", 0) or 0) + int(
        getattr(outbox_rows, "rowcount", 0) or 0
    )
