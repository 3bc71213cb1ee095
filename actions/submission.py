"""Sending a conversation's referral to the handoff API."""

from __future__ import annotations

import logging
import uuid

from actions.categories import load_tables
from actions.handoff import HandoffClient
from actions.referral import Draft, build_referral, check_referral, utc_now
from actions.settings import ActionSettings

logger = logging.getLogger(__name__)


def new_referral_id() -> str:
    return str(uuid.uuid4())


async def send_referral(
    draft: Draft, referral_id: str, *, completed: bool, settings: ActionSettings
) -> str:
    """Build, check against the schema and POST the referral; return the id the API answers.

    The same referral_id is used for every attempt in a conversation, so the handoff API can
    merge an early referral (asked for a person, escalation) with the completed one.
    """
    record = build_referral(
        draft, load_tables(), referral_id=referral_id, now=utc_now(), completed=completed
    )
    check_referral(record, settings.schema_file)
    return await HandoffClient.from_settings(settings).submit(record, draft.flags)
