"""Messages the actions put together from what the young person said."""

from __future__ import annotations

from collections.abc import Sequence

from actions.referral import Draft

NUDGE_YES_NO = "Sorry, I didn't catch that. Is that a yes or a no?"
NUDGE_AGE = "Sorry, I didn't get that. Just your age as a number is fine, like 14."
NUDGE_AGE_CHECK = "Hmm, can you check that? Just your age in years."
NUDGE_NAME = "Just a first name or nickname is fine, or say skip."
NUDGE_AREA = (
    "Sorry, I didn't get that. Just the town, or the first part of your postcode (like LS7)."
)
LEFT_FOR_NOW = "No problem, let's leave that one for now."
CHANGED = "Done, I've changed that."
NAME_LEFT_OUT = "No problem, I'll leave your name out for now."
AREA_LEFT_OUT = (
    "No problem, I'll leave the area out. The link worker can ask you about it when they get in "
    "touch."
)
NUDGE_ADDRESS = (
    "Please don't send your street or house number. Just the town, or the first part of your "
    "postcode (like LS7), is plenty."
)
NUDGE_CONTACT_OTHER = "Reply 'call' for a phone call instead, or 'none' for no contact for now."
NUDGE_CONFIRM = "Reply yes to send it, or 'change' to change something."
NUDGE_PART = (
    "Which part? You can say name, age, what's going on, what you enjoy, what matters, area, "
    "contact or times."
)
PRONOUNS_NOTED = "Thanks, I've noted your pronouns."
DELETE_NUDGE = "Sorry, I didn't catch that. Reply YES to delete or NO to keep it."

PERSON_REQUESTED = (
    "OK. I've asked a link worker to get in touch with you as soon as they can (usually the next "
    "working day). They'll see what you've told me so far. If you need help right now, text HELP."
)
PERSON_REQUESTED_EARLY = (
    "OK. I've asked a link worker to get in touch with you as soon as they can (usually the next "
    "working day). While you wait, I can ask a few quick questions so they know how best to help "
    "and how to reach you safely. If you need help right now, text HELP."
)
PERSON_FAILED = (
    "Sorry, I couldn't reach the team just now. Please ask again in a few minutes. If you need "
    "help right now, text HELP."
)
NOT_GIVEN = "(skipped)"


def area_kept(area: str) -> str:
    return f"Thanks. I've only kept {area}: we don't need your full address."


def join_words(items: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def reflection(said: Sequence[str], name: str | None) -> str:
    """A short, plain reflection of what they said has been going on."""
    thanks = f"Thanks for telling me, {name}." if name else "Thanks for telling me."
    if not said:
        return f"{thanks} That sounds like a lot to deal with."
    return f"{thanks} It sounds like things have been hard with {join_words(list(said))}."


def _shown(value: str | None) -> str:
    return value if value else NOT_GIVEN


def _quoted(value: str | None) -> str:
    return f'"{value}"' if value else NOT_GIVEN


def summary(draft: Draft) -> str:
    """Exactly what will be sent, in plain words, before asking to send it."""
    name = _shown(draft.preferred_name)
    if draft.pronouns:
        name = f"{name} ({draft.pronouns})"
    method = draft.contact_method
    if method == "none":
        contact = "no contact for now"
    elif method == "phone_call":
        contact = "a phone call"
    else:
        contact = "OK to contact you here"
    if method != "none" and draft.best_times:
        contact = f"{contact}, {draft.best_times}"
    lines = [
        "Here's what I'll send to the link worker team:",
        f"- Name: {name}",
        f"- Age: {draft.age if draft.age is not None else NOT_GIVEN}",
        f"- What's going on: {_quoted(draft.concerns)}",
        f"- What you enjoy: {_quoted(draft.interests)}",
        f"- What matters: {_quoted(draft.what_matters)}",
        f"- Area: {_shown(draft.area)}",
        f"- Contact: {contact}",
        "Shall I send it?",
    ]
    return "\n".join(lines)


HELD_CHARS = 20
"""Names and pronouns are shown up to this length (the summary should fit 3 SMS)."""


def what_we_hold(draft: Draft, *, sent: bool, data_requests_contact: str) -> str:
    """The answer to "what do you know about me?": the kinds of things held, in plain words.

    Their own words are named ("what you said is going on"), never repeated: the phone may not
    be theirs alone. Short answers they chose (name, pronouns, age, area) are shown.
    """
    held: list[str] = []
    if draft.age is not None:
        held.append(f"your age ({draft.age})")
    elif draft.age_band:
        held.append("your age group")
    name = (draft.preferred_name or "")[:HELD_CHARS]
    pronouns = (draft.pronouns or "")[:HELD_CHARS]
    if name and pronouns:
        held.append(f"the name you gave ({name}, {pronouns})")
    elif name:
        held.append(f"the name you gave ({name})")
    elif pronouns:
        held.append(f"your pronouns ({pronouns})")
    if draft.concerns:
        held.append("what you said is going on")
    if draft.interests:
        held.append("what you enjoy")
    if draft.what_matters:
        held.append("what matters to you")
    if draft.area:
        held.append(f"your area ({draft.area})")
    if draft.contact_ok is not None:
        held.append("how and when to contact you" if draft.best_times else "how to contact you")
    if held:
        lines = [f"Right now I have: {', '.join(held)}."]
    else:
        lines = ["Right now I don't have any of your answers."]
    lines.append("I also keep our chat and your number or chat ID.")
    if sent:
        lines.append("You've sent your referral, so a link worker can see it.")
    elif draft.asked_for_person:
        lines.append("You asked for a person, so a link worker can see it.")
    else:
        lines.append("Nothing has gone to a link worker yet.")
    lines.append("Any safety worries are kept by our safeguarding team.")
    lines.append(f"To get all of it, {data_requests_contact.strip().rstrip('.')}.")
    return " ".join(lines)


def school_year_ages(younger: int, older: int) -> str:
    """Asked when they give a school year instead of an age ("year 9")."""
    return f"Thanks! So are you {younger} or {older}?"
