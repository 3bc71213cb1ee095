"""Synthetic referral records (valid against the referral schema) for tests."""

from __future__ import annotations

import copy
import uuid
from typing import Any

# Ofcom's drama range: a UK mobile number that belongs to no one.
TEST_PHONE = "+447700900461"
OWN_WORDS = "i feel like a lighthouse keeper with no lighthouse"


def make_referral(conversation_id: str = "c_test_conversation", **overrides: Any) -> dict[str, Any]:
    """A complete referral record as the action server sends it; top-level keys overridable."""
    record: dict[str, Any] = {
        "schema_version": "1.0",
        "referral_id": str(uuid.uuid4()),
        "created_at": "2025-11-28T18:30:00+00:00",
        "source": {"channel": "sms", "conversation_id": conversation_id, "completed": True},
        "young_person": {
            "preferred_name": "Jay",
            "pronouns": "he/him",
            "age": 14,
            "age_band": "13_15",
            "area": "LS7",
        },
        "contact": {
            "method": "sms",
            "address": None,
            "safe_to_contact": True,
            "ok_to_leave_message": False,
            "best_times": "after 4",
        },
        "consent": {
            "share_with_link_worker": True,
            "given_at": "2025-11-28T18:25:00+00:00",
            "privacy_notice_version": "2025-09",
        },
        "interests": [{"category": "sport_fitness", "own_words": "football and fifa"}],
        "concerns": [
            {"category": "anxiety_stress", "own_words": OWN_WORDS},
            {"category": "sleep", "own_words": "i dont sleep much"},
        ],
        "what_matters": "getting my grades up",
        "goals": ["join a football team"],
        "safeguarding": {
            "flagged": False,
            "highest_severity": 0,
            "categories": [],
            "escalation_ids": [],
        },
        "priority": "routine",
        "status": "new",
    }
    for key, value in overrides.items():
        record[key] = copy.deepcopy(value)
    return record
