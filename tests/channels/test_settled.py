"""When the local API's answer about a message is final."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from channels.gateway import settled
from channels.inbox import InboxItem
from channels.tables import DONE, FAILED, PENDING, PROCESSING

pytestmark = pytest.mark.unit

ITEM = InboxItem(
    id=1,
    conversation_id="c_1",
    channel="local",
    text="synthetic",
    status=PROCESSING,
    attempts=0,
    received_at=datetime(2026, 1, 1, tzinfo=UTC),
    screened=True,
    severity=0,
    categories=(),
    rule_ids=(),
    escalated=False,
    escalation_id=None,
)


def test_done_or_failed_is_final() -> None:
    assert settled(replace(ITEM, status=DONE), rasa_unavailable=False)
    assert settled(replace(ITEM, status=FAILED), rasa_unavailable=False)
    assert not settled(ITEM, rasa_unavailable=False)


def test_waiting_for_rasa_is_final_once_screened() -> None:
    assert settled(replace(ITEM, attempts=1), rasa_unavailable=False)
    assert settled(ITEM, rasa_unavailable=True)
    assert not settled(replace(ITEM, screened=False, status=PENDING), rasa_unavailable=True)


def test_an_escalation_is_final_only_once_recorded() -> None:
    # A paused conversation's message is done with as soon as it is claimed: the answer still
    # waits for the escalation's log id.
    escalated = replace(ITEM, status=DONE, escalated=True, severity=4)
    assert not settled(escalated, rasa_unavailable=False)
    assert not settled(replace(escalated, status=PROCESSING), rasa_unavailable=True)
    assert settled(replace(escalated, escalation_id="esc_1"), rasa_unavailable=False)
