"""The referral record (handoff/schema/referral.schema.json) built from a conversation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from actions.answers import read_goals
from actions.categories import CategoryTable

SCHEMA_VERSION = "1.0"
PRIVACY_NOTICE_VERSION = "1.0"
CHANNELS = frozenset({"sms", "whatsapp", "telegram", "web", "local"})
CODING = {
    "system": "http://snomed.info/sct",
    "code": "871731000000106",
    "display": "Referral to social prescribing service",
}


class InvalidReferral(ValueError):
    """The referral record does not match the schema."""


@dataclass(frozen=True)
class Safeguarding:
    """Escalations seen in the conversation (severity at or above the threshold)."""

    highest_severity: int = 0
    categories: tuple[str, ...] = ()
    escalation_ids: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        return self.highest_severity > 0

    def add(
        self, severity: int, categories: tuple[str, ...], escalation_id: str | None
    ) -> Safeguarding:
        """This summary with one more escalation folded in."""
        ids = self.escalation_ids
        if escalation_id and escalation_id not in ids:
            ids = (*ids, escalation_id)
        merged = self.categories + tuple(c for c in categories if c not in self.categories)
        return Safeguarding(max(self.highest_severity, severity), merged, ids)

    def as_dict(self) -> dict[str, Any]:
        return {
            "flagged": self.flagged,
            "highest_severity": self.highest_severity,
            "categories": list(self.categories),
            "escalation_ids": list(self.escalation_ids),
        }


@dataclass(frozen=True)
class Draft:
    """Everything the conversation has gathered, as plain values."""

    conversation_id: str
    channel: str = "local"
    consent: bool | None = None
    consent_given_at: str | None = None
    age: int | None = None
    age_band: str | None = None
    preferred_name: str | None = None
    pronouns: str | None = None
    concerns: str | None = None
    interests: str | None = None
    what_matters: str | None = None
    area: str | None = None
    contact_ok: bool | None = None
    contact_other: str | None = None
    best_times: str | None = None
    asked_for_person: bool = False
    safeguarding: Safeguarding = field(default_factory=Safeguarding)

    @property
    def source_channel(self) -> str:
        """The channel the conversation came in on ("local" for one the schema does not know)."""
        return self.channel if self.channel in CHANNELS else "local"

    @property
    def contact_method(self) -> str:
        """How a link worker may get in touch: this channel, a phone call, or not at all."""
        if self.contact_ok is False:
            return "phone_call" if self.contact_other == "phone_call" else "none"
        return self.source_channel

    @property
    def safe_to_contact(self) -> bool:
        """Only what they said: unanswered counts as not (yet) safe."""
        return self.contact_ok is True or self.contact_other == "phone_call"

    @property
    def priority(self) -> str:
        if self.safeguarding.flagged:
            return "urgent"
        return "priority" if self.asked_for_person else "routine"

    @property
    def flags(self) -> list[str]:
        return ["asked_for_person"] if self.asked_for_person else []


def utc_now() -> str:
    """The current time as an RFC 3339 UTC timestamp."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_referral(
    draft: Draft,
    tables: Mapping[str, CategoryTable],
    *,
    referral_id: str,
    now: str,
    completed: bool,
) -> dict[str, Any]:
    """The referral record for a draft (own words kept verbatim, categories from the tables)."""
    method = draft.contact_method
    return {
        "schema_version": SCHEMA_VERSION,
        "referral_id": referral_id,
        "created_at": now,
        "source": {
            "channel": draft.source_channel,
            "conversation_id": draft.conversation_id,
            "completed": completed,
        },
        "young_person": {
            "preferred_name": draft.preferred_name,
            "pronouns": draft.pronouns,
            "age": draft.age if draft.age is not None and 5 <= draft.age <= 120 else None,
            "age_band": draft.age_band or "unknown",
            "area": draft.area,
        },
        "contact": {
            "method": method,
            "address": None,
            "safe_to_contact": draft.safe_to_contact,
            "best_times": draft.best_times if method != "none" else None,
        },
        "consent": {
            "share_with_link_worker": True,
            "given_at": draft.consent_given_at or now,
            "privacy_notice_version": PRIVACY_NOTICE_VERSION,
        },
        "interests": _tagged(tables["interests"], draft.interests),
        "concerns": _tagged(tables["concerns"], draft.concerns),
        "what_matters": draft.what_matters,
        "goals": read_goals(draft.what_matters) if draft.what_matters else [],
        "safeguarding": draft.safeguarding.as_dict(),
        "priority": draft.priority,
        "status": "new",
        "coding": dict(CODING),
    }


def _tagged(table: CategoryTable, text: str | None) -> list[dict[str, str]]:
    return [item.as_dict() for item in table.tag(text[:1000])] if text else []


@cache
def _validator(schema_file: Path) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_file.read_text(encoding="utf-8")))


def check_referral(record: Mapping[str, Any], schema_file: Path) -> None:
    """Raise `InvalidReferral` naming the first problem when the record breaks the schema."""
    errors = sorted(_validator(schema_file).iter_errors(record), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].path) or "(record)"
        raise InvalidReferral(f"referral invalid at {where}: {errors[0].validator}")
