"""Exports of one referral: the shared schema record as JSON, and a plain-text summary a
worker can paste into a case system (pure functions; the caller audits the export)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from handoff.validation import validate_referral

LOCAL_ZONE = "Europe/London"
AGE_BANDS = {
    "under_11": "under 11",
    "11_12": "11-12",
    "13_15": "13-15",
    "16_17": "16-17",
    "18_25": "18-25",
    "over_25": "over 25",
    "unknown": "not given",
}
METHODS = {
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "phone_call": "phone call",
    "web": "web chat",
    "local": "local test chat",
    "none": "no contact",
}


def label(slug: str) -> str:
    """A category or code as words: `anxiety_stress` → `Anxiety stress`."""
    return slug.replace("_", " ").strip().capitalize()


def local_time(moment: datetime | str | None, zone: str = LOCAL_ZONE) -> str:
    """A timestamp as UK local time, e.g. `Sat 28 Nov 2026 18:30`."""
    if moment is None or moment == "":
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %d %b %Y %H:%M")


def to_json(record: Mapping[str, Any]) -> str:
    """The record as the shared schema's JSON (checked against the schema first)."""
    plain = json.loads(json.dumps(record))
    validate_referral(plain)
    return json.dumps(plain, indent=2, ensure_ascii=False) + "\n"


def _yes_no(value: object) -> str:
    if value is None:
        return "not asked"
    return "yes" if value else "no"


def _or_dash(value: object) -> str:
    return "—" if value in (None, "", []) else str(value)


def _words(items: Sequence[Mapping[str, Any]]) -> list[str]:
    if not items:
        return ["  (none given)"]
    lines = []
    for item in items:
        words = str(item.get("own_words") or "").strip()
        lines.append(f"  - {label(item['category'])}: " + (f'"{words}"' if words else "—"))
    return lines


def to_text(
    record: Mapping[str, Any],
    *,
    due_at: datetime | None = None,
    worker: str | None = None,
    zone: str = LOCAL_ZONE,
) -> str:
    """A plain-text summary of the referral for pasting into a case system."""
    person = record["young_person"]
    contact = record["contact"]
    consent = record["consent"]
    safeguarding = record["safeguarding"]
    source = record["source"]
    name = _or_dash(person.get("preferred_name"))
    if person.get("pronouns"):
        name += f" ({person['pronouns']})"
    age = person.get("age")
    age_text = (
        f"{age} ({AGE_BANDS.get(person['age_band'], person['age_band'])})"
        if age
        else (AGE_BANDS.get(person["age_band"], person["age_band"]))
    )
    method = METHODS.get(contact["method"], contact["method"])
    via = METHODS.get(source["channel"], source["channel"])
    address = contact.get("address")
    lines = [
        f"YouthLink self-referral {record['referral_id']}",
        f"Status: {record['status']}    Priority: {record['priority']}"
        + (f"    First contact due: {local_time(due_at, zone)}" if due_at else ""),
        f"Received: {local_time(record['created_at'], zone)} via {via}"
        + ("" if source.get("completed", True) else " (not finished by the young person)"),
    ]
    if worker:
        lines.append(f"Link worker: {worker}")
    lines += [
        "",
        "Young person",
        f"  Name: {name}",
        f"  Age: {age_text}",
        f"  Area: {_or_dash(person.get('area'))}",
        f"  School or college: {_or_dash(person.get('school_or_college'))}",
        f"  GP practice: {_or_dash(person.get('gp_practice'))}",
        "",
        "Contact",
        f"  How: {method}" + (f" — {address}" if address else ""),
        f"  Safe to contact this way: {_yes_no(contact.get('safe_to_contact'))}",
        f"  OK to leave a message: {_yes_no(contact.get('ok_to_leave_message'))}",
        f"  Best times: {_or_dash(contact.get('best_times'))}",
        "",
        "Consent",
        f"  Share with a link worker: {_yes_no(consent.get('share_with_link_worker'))}"
        f" (given {local_time(consent.get('given_at'), zone)},"
        f" privacy notice {consent.get('privacy_notice_version')})",
        f"  Parent or carer aware: {_or_dash(consent.get('parent_carer_aware'))}",
        "",
        "What is going on (their own words)",
        *_words(record.get("concerns", [])),
        "",
        "What they enjoy or want to try (their own words)",
        *_words(record.get("interests", [])),
        "",
        f"What matters most to them: {_or_dash(record.get('what_matters'))}",
    ]
    goals = record.get("goals") or []
    lines.append("Goals:" + ("" if goals else " —"))
    lines += [f"  - {goal}" for goal in goals]
    lines += ["", "Safeguarding"]
    if safeguarding["flagged"]:
        categories = ", ".join(label(c) for c in safeguarding["categories"]) or "—"
        lines += [
            f"  Flagged: severity {safeguarding['highest_severity']} ({categories})",
            f"  Escalations: {', '.join(safeguarding['escalation_ids']) or '—'}",
        ]
    else:
        lines.append("  Not flagged")
    return "\n".join(lines) + "\n"
