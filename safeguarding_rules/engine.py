"""The process-wide default rule set: loaded once (lazily, or by load_ruleset) and cached."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from safeguarding_rules.contacts import default_contacts_path, read_contacts
from safeguarding_rules.errors import RuleSetError
from safeguarding_rules.loader import default_rules_dir, load_ruleset_dir
from safeguarding_rules.replies import (
    FALLBACK_REPLY,
    ReplyBook,
    default_replies_path,
    read_replies,
)
from safeguarding_rules.ruleset import RuleSet
from safeguarding_rules.verdict import Verdict

_lock = threading.Lock()
_cache: dict[Path, RuleSet] = {}
_default: RuleSet | None = None
_books: dict[tuple[Path, Path], ReplyBook] = {}


def load_ruleset(path: str | Path | None = None, *, reload: bool = False) -> RuleSet:
    """Load the rules in ``path`` (default: the packaged rules) and cache them.

    Loading the default rules makes them the ones :func:`screen` uses. Raises
    RuleSetError (listing file, line and reason of each mistake) if the rules are broken.
    """
    global _default
    directory = Path(path).resolve() if path is not None else default_rules_dir()
    with _lock:
        ruleset = None if reload else _cache.get(directory)
        if ruleset is None:
            ruleset = load_ruleset_dir(directory)
            _cache[directory] = ruleset
        if path is None:
            _default = ruleset
        return ruleset


def default_ruleset() -> RuleSet:
    """The packaged rule set, loaded on first use."""
    ruleset = _default
    return ruleset if ruleset is not None else load_ruleset()


def screen(text: str, history: Sequence[str] = ()) -> Verdict:
    """Screen one message (with the young person's earlier messages, oldest first)."""
    return default_ruleset().screen(text, history)


def screen_conversation(turns: Sequence[str]) -> Verdict:
    """The standing verdict after the last turn of a conversation (never lowered)."""
    return default_ruleset().screen_conversation(turns)


def load_replies(
    replies: str | Path | None = None, contacts: str | Path | None = None
) -> ReplyBook:
    """Load replies.yml and contacts.yml (default: the packaged ones) and cache them."""
    replies_path = Path(replies).resolve() if replies is not None else default_replies_path()
    contacts_path = Path(contacts).resolve() if contacts is not None else default_contacts_path()
    key = (replies_path, contacts_path)
    with _lock:
        book = _books.get(key)
        if book is None:
            found, problems = read_contacts(contacts_path)
            loaded, more = read_replies(replies_path, found) if not problems else (None, [])
            if loaded is None:
                raise RuleSetError(problems + more)
            book = _books[key] = loaded
        return book


def crisis_reply(verdict: Verdict, age_band: str = "unknown") -> str:
    """The short crisis reply for an escalated verdict and the young person's age band
    (11_12, 13_15, 16_17, 18_25 or unknown): 999 first at severity 5, Childline first for
    under-18s, CEOP and Report Remove for image abuse, Fearless for exploitation."""
    try:
        tags = default_ruleset().tags(verdict.rule_ids)
        return load_replies().crisis(verdict, age_band, tags)
    except (LookupError, ValueError, RuleSetError):
        return FALLBACK_REPLY


def help_reply(age_band: str = "unknown") -> str:
    """Urgent-help numbers for the HELP command."""
    try:
        return load_replies().help_text(age_band)
    except (LookupError, ValueError, RuleSetError):
        return FALLBACK_REPLY
