"""Reading what a conversation holds from the rasa-sdk tracker."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from actions.referral import CHANNELS, Draft, Safeguarding
from actions.text import normalise

REFERRAL_SLOTS = (
    "consent", "consent_given_at", "age", "age_band", "preferred_name", "pronouns",
    "concerns", "interests", "what_matters", "area", "contact_ok",
    "contact_other", "best_times", "confirm", "change_which", "change_requested", "stage",
    "referral_id", "referral_uuid", "asked_for_person",
)  # fmt: skip


def clear(slots: tuple[str, ...]) -> list[dict[str, Any]]:
    """Events that empty the given slots."""
    return [SlotSet(name, None) for name in slots]


def latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def latest_intent(tracker: Tracker) -> str | None:
    intent = tracker.latest_message.get("intent") or {}
    return intent.get("name")


def latest_metadata(tracker: Tracker) -> Mapping[str, Any]:
    metadata = tracker.latest_message.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def said_again(tracker: Tracker) -> bool:
    """True when the latest user message repeats the one before it."""
    said = [str(e.get("text") or "") for e in tracker.events if e.get("event") == "user"]
    return len(said) >= 2 and normalise(said[-1]) == normalise(said[-2]) != ""


def channel(tracker: Tracker) -> str:
    """The channel of the latest message ("local" when the gateway did not say)."""
    value = latest_metadata(tracker).get("channel")
    return value if isinstance(value, str) and value in CHANNELS else "local"


def pending_question(tracker: Tracker) -> str | None:
    """The slot the bot was asking for when the latest user message arrived."""
    requested: str | None = None
    last_user = max(
        (i for i, e in enumerate(tracker.events) if e.get("event") == "user"), default=-1
    )
    for event in tracker.events[: max(last_user, 0)]:
        if event.get("event") == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value")
        elif event.get("event") == "active_loop" and event.get("name") is None:
            requested = None
    return requested


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def safeguarding_summary(tracker: Tracker) -> Safeguarding:
    return Safeguarding(
        highest_severity=int(tracker.get_slot("sg_severity") or 0),
        categories=tuple(tracker.get_slot("sg_categories") or ()),
        escalation_ids=tuple(tracker.get_slot("sg_escalation_ids") or ()),
    )


def draft_from(tracker: Tracker, *, asked_for_person: bool | None = None) -> Draft:
    """A draft referral from the tracker's slots ("" means skipped: nothing to pass on)."""
    slot = tracker.get_slot
    age = slot("age")
    return Draft(
        conversation_id=tracker.sender_id,
        channel=channel(tracker),
        consent=slot("consent"),
        consent_given_at=_text_or_none(slot("consent_given_at")),
        age=age if isinstance(age, int) and not isinstance(age, bool) else None,
        age_band=_text_or_none(slot("age_band")),
        preferred_name=_text_or_none(slot("preferred_name")),
        pronouns=_text_or_none(slot("pronouns")),
        concerns=_text_or_none(slot("concerns")),
        interests=_text_or_none(slot("interests")),
        what_matters=_text_or_none(slot("what_matters")),
        area=_text_or_none(slot("area")),
        contact_ok=slot("contact_ok") if isinstance(slot("contact_ok"), bool) else None,
        contact_other=_text_or_none(slot("contact_other")),
        best_times=_text_or_none(slot("best_times")),
        asked_for_person=bool(slot("asked_for_person"))
        if asked_for_person is None
        else asked_for_person,
        safeguarding=safeguarding_summary(tracker),
    )


@dataclass(frozen=True)
class Disclosure:
    """What the safeguarding gate or the gateway found in the latest message."""

    severity: int
    categories: tuple[str, ...]
    escalation_id: str | None
    gateway_replied: bool


def latest_disclosure(tracker: Tracker) -> Disclosure | None:
    """The gateway's verdict from the metadata, else the gate's own from the parse data."""
    from_gateway = latest_metadata(tracker).get("safeguarding")
    if isinstance(from_gateway, Mapping) and "severity" in from_gateway:
        return _disclosure(from_gateway, gateway_replied=True)
    from_gate = tracker.latest_message.get("safeguarding")
    if isinstance(from_gate, Mapping) and "severity" in from_gate:
        return _disclosure(from_gate, gateway_replied=False)
    return None


def _disclosure(data: Mapping[str, Any], *, gateway_replied: bool) -> Disclosure:
    escalation_id = data.get("escalation_id")
    return Disclosure(
        severity=int(data.get("severity") or 0),
        categories=tuple(str(c) for c in data.get("categories") or ()),
        escalation_id=str(escalation_id) if escalation_id else None,
        gateway_replied=gateway_replied,
    )
