"""Pure text handling at the gateway: cleaning, limits, slash escaping and fixed replies."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection

MAX_TEXT_CHARS = 10_000
"""Longest message accepted into the inbox; longer requests are refused (413)."""

MAX_RASA_CHARS = 2_000
"""Longest text relayed to Rasa; the inbox keeps (and the screen reads) the full text."""

HOLDING_TEXT = (
    "Thanks \u2014 I've got your message. I'm having a short delay and will reply soon. "
    "If you need help now: "
)

FALLBACK_HELP_TEXT = (
    "If you are in danger now, call 999. You can talk to Childline any time on 0800 1111, "
    "or text SHOUT to 85258."
)
"""Used only if the safeguarding library cannot produce its own reply."""

_HELP_WORDS = frozenset({"help", "help me", "helpline", "helplines"})


def clean_text(text: str) -> str:
    """Make arbitrary input safe to store and relay.

    Lone surrogates become U+FFFD, NUL and other control characters (except newline and tab)
    are removed, and surrounding whitespace is trimmed. Emoji and other scripts are kept.
    """
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cs":
            kept.append("\ufffd")
        elif category != "Cc" or ch in "\n\t":
            kept.append(ch)
    return "".join(kept).strip()


def truncate_for_rasa(text: str, limit: int = MAX_RASA_CHARS) -> str:
    """Cut `text` to at most `limit` characters, at a word boundary when one is near."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space >= limit * 0.8:
        cut = cut[:space]
    return cut.rstrip()


def escape_slash(text: str, offered_payloads: Collection[str]) -> str:
    """Stop typed `/intent` text bypassing NLU.

    Rasa reads text starting with `/` as an intent payload. Only a payload the bot itself
    offered in its latest reply passes unchanged; anything else loses its leading slashes.
    """
    stripped = text.strip()
    if not stripped.startswith("/"):
        return text
    if stripped in offered_payloads:
        return stripped
    escaped = stripped
    while escaped and (escaped[0] == "/" or escaped[0].isspace()):
        escaped = escaped[1:]
    # A lone "/" still has to reach the dialogue as something it can answer.
    return escaped or "?"


def is_help(text: str) -> bool:
    """True when the whole message asks for help (answered even when Rasa is down)."""
    words = " ".join(text.lower().replace("!", " ").replace("?", " ").replace(".", " ").split())
    return words in _HELP_WORDS


def holding_text(help_text: str) -> str:
    """The one holding reply sent while Rasa is unreachable, ending with where to get help now."""
    return HOLDING_TEXT + help_text.strip()
