"""Pure functions on referral records (plain dicts valid against the referral schema)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from handoff.validation import load_schema

SCHEMA_VERSION = "1.0"
PRIORITY_ORDER = {"routine": 0, "priority": 1, "urgent": 2}
# Severity 3 and above makes a referral urgent (taxonomy.yml: "3: concern - urgent referral").
URGENT_FROM_SEVERITY = 3
# Until the young person has said otherwise, an early referral assumes no consent to share.
UNKNOWN_PRIVACY_NOTICE = "unknown"
ESCALATED_FLAG = "escalated"


def iso(moment: datetime) -> str:
    """A timestamp as the schema's date-time text."""
    return moment.isoformat()


@cache
def _enum(*path: str) -> tuple[str, ...]:
    node: Any = load_schema()
    for key in path:
        node = node[key]
    return tuple(v for v in node["enum"] if v is not None)


def safeguarding_categories() -> tuple[str, ...]:
    """Risk categories a referral record may carry."""
    return _enum("properties", "safeguarding", "properties", "categories", "items")


def channels() -> tuple[str, ...]:
    """Channels a conversation can come from."""
    return _enum("properties", "source", "properties", "channel")


def age_bands() -> tuple[str, ...]:
    """Age bands a referral record may carry."""
    return _enum("properties", "young_person", "properties", "age_band")


def union(*groups: Iterable[str]) -> list[str]:
    """Every distinct item, in first-seen order."""
    seen: dict[str, None] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item, None)
    return list(seen)


def higher_priority(a: str, b: str) -> str:
    """The more pressing of two priorities."""
    return a if PRIORITY_ORDER[a] >= PRIORITY_ORDER[b] else b


def priority_floor(record: dict[str, Any]) -> str:
    """The record's priority, raised to urgent when its safeguarding severity calls for it."""
    priority: str = record["priority"]
    if record["safeguarding"]["highest_severity"] >= URGENT_FROM_SEVERITY:
        return higher_priority(priority, "urgent")
    return priority


def is_completed(record: dict[str, Any]) -> bool:
    """Whether the young person finished the referral (absent means they did)."""
    return bool(record["source"].get("completed", True))


def early_record(
    *,
    conversation_id: str,
    channel: str,
    age_band: str,
    now: datetime,
    referral_id: str | None = None,
) -> dict[str, Any]:
    """An incomplete referral created before the conversation finished (e.g. by an escalation)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "referral_id": referral_id or str(uuid.uuid4()),
        "created_at": iso(now),
        "updated_at": iso(now),
        "source": {"channel": channel, "conversation_id": conversation_id, "completed": False},
        "young_person": {"age_band": age_band if age_band in age_bands() else "unknown"},
        "contact": {"method": channel, "address": None, "safe_to_contact": False},
        "consent": {
            "share_with_link_worker": False,
            "given_at": iso(now),
            "privacy_notice_version": UNKNOWN_PRIVACY_NOTICE,
        },
        "interests": [],
        "concerns": [],
        "safeguarding": {
            "flagged": False,
            "highest_severity": 0,
            "categories": [],
            "escalation_ids": [],
        },
        "priority": "routine",
        "status": "new",
    }


def add_escalation(
    record: dict[str, Any],
    *,
    escalation_id: str,
    severity: int,
    categories: Sequence[str],
) -> dict[str, Any]:
    """The record flagged with one more escalation, and urgent."""
    result = copy.deepcopy(record)
    known = set(safeguarding_categories())
    safeguarding = result["safeguarding"]
    safeguarding["flagged"] = True
    safeguarding["highest_severity"] = max(safeguarding["highest_severity"], severity)
    safeguarding["categories"] = union(
        safeguarding["categories"], (c for c in categories if c in known)
    )
    safeguarding["escalation_ids"] = union(safeguarding["escalation_ids"], [escalation_id])
    result["priority"] = "urgent"
    return result


def _absent(value: Any) -> bool:
    return value is None or value == "unknown" or value == [] or value == ""


def _fill_gaps(incoming: dict[str, Any], existing: dict[str, Any]) -> dict[str, Any]:
    result = dict(incoming)
    for key, value in existing.items():
        if _absent(result.get(key)) and not _absent(value):
            result[key] = value
    return result


def merge(existing: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
    """Fold a later submission into an earlier record for the same conversation.

    The earlier record keeps its id, creation time and status; priority and safeguarding only
    ever go up; the later answers win, and gaps in them are filled from the earlier record.
    """
    result = copy.deepcopy(incoming)
    result["referral_id"] = existing["referral_id"]
    result["created_at"] = existing["created_at"]
    result["status"] = existing["status"]
    result["priority"] = higher_priority(existing["priority"], incoming["priority"])
    result["source"]["completed"] = is_completed(existing) or is_completed(incoming)
    result["young_person"] = _fill_gaps(incoming["young_person"], existing["young_person"])
    contact = dict(incoming["contact"])
    old_contact = existing["contact"]
    if contact.get("address") is None and old_contact.get("method") == contact["method"]:
        contact["address"] = old_contact.get("address")
    if contact.get("best_times") is None and old_contact.get("best_times") is not None:
        contact["best_times"] = old_contact["best_times"]
    result["contact"] = contact
    for key in ("interests", "concerns", "goals", "what_matters", "coding"):
        if _absent(result.get(key)) and not _absent(existing.get(key)):
            result[key] = copy.deepcopy(existing[key])
    old, new = existing["safeguarding"], incoming["safeguarding"]
    result["safeguarding"] = {
        "flagged": bool(old["flagged"] or new["flagged"]),
        "highest_severity": max(old["highest_severity"], new["highest_severity"]),
        "categories": union(old["categories"], new["categories"]),
        "escalation_ids": union(old["escalation_ids"], new["escalation_ids"]),
    }
    return result


def wipe_personal(record: dict[str, Any]) -> dict[str, Any]:
    """The record with every personal field removed, keeping only what monitoring needs."""
    result = copy.deepcopy(record)
    result["young_person"] = {"age_band": record["young_person"]["age_band"]}
    result["contact"] = {"method": "none", "address": None, "safe_to_contact": False}
    result["consent"] = {
        "share_with_link_worker": False,
        "given_at": record["consent"]["given_at"],
        "privacy_notice_version": record["consent"]["privacy_notice_version"],
    }
    result["interests"] = [
        {"category": i["category"], "own_words": ""} for i in record["interests"]
    ]
    result["concerns"] = [{"category": c["category"], "own_words": ""} for c in record["concerns"]]
    result.pop("what_matters", None)
    result.pop("goals", None)
    return result


def categories_of(items: Sequence[dict[str, Any]]) -> list[str]:
    """The distinct category slugs of tagged own-words items."""
    return union(item["category"] for item in items)
