"""Messages whose intent is certain without a classifier: command keywords, emoji, keyboard mash."""

from __future__ import annotations

import re

COMMANDS = {
    "help": "get_help", "help me": "get_help", "help pls": "get_help", "help please": "get_help",
    "sos": "get_help",
    "stop": "stop", "stop it": "stop", "stopall": "stop", "unsubscribe": "stop", "stop pls": "stop",
    "delete": "delete_data", "delete it": "delete_data", "delete everything": "delete_data",
    "delete my data": "delete_data",
    "restart": "start_over", "start over": "start_over", "start again": "start_over",
    "privacy": "privacy", "privacy notice": "privacy", "privacy policy": "privacy",
    "privacy pls": "privacy", "privacy please": "privacy",
}  # fmt: skip
EMOJI = {
    "👍": "affirm", "👌": "affirm", "✅": "affirm", "👎": "deny", "❌": "deny",
    "❤": "thanks", "🙏": "thanks", "👋": "greet",
}  # fmt: skip
FILLERS = frozenset(
    [
        "lol",
        "lmao",
        "lmfao",
        "rofl",
        "hmm",
        "hmmm",
        "erm",
        "ermm",
        "umm",
        "um",
        "uh",
        "uhh",
        "blah",
        "haha",
        "hahaha",
        "ahaha",
        "ksks",
    ]
)
KEYBOARD_RUNS = ("qwert", "werty", "asdf", "sdfg", "dfgh", "ghjk", "hjkl", "zxcv", "xcvb", "uiop")
NOT_A_COMMAND = {
    # "i cant stop crying", "i want to stop vaping": about their life, not the messages.
    "stop": re.compile(
        r"\b(?:can'?t|cannot|won'?t|never|to|wanna|trying to)\s+stop\s+[a-z]"
        r"|\bstop\s+(?!it\b|now\b|this\b|that\b|pls\b|please\b|all\b|the\b|texting|text\b"
        r"|messag|contact|send|sending|talking to me|replying)[a-z]+ing\b",
        re.IGNORECASE,
    ),
    # "i need help with my anger", "help making friends": what is going on, not HELP.
    "get_help": re.compile(
        r"\bhelp\s+(?:me\s+)?(?:with|making|to|getting|finding|for|about|sorting)\b",
        re.IGNORECASE,
    ),
    # "i get no privacy at home", "my mum doesnt respect my privacy": what is going on.
    "privacy": re.compile(
        r"\b(?:no|any|zero|enough|some|more|own)\s+privacy\b"
        r"|\b(?:invad\w*|respect\w*|violat\w*)\s+(?:my\s+|our\s+)?privacy\b"
        r"|\bprivacy\s+(?:at|in)\s+(?:home|my|the|school|our)\b",
        re.IGNORECASE,
    ),
}
_VOWELS = re.compile(r"[aeiouy]")
_LETTERS = re.compile(r"[a-z]+")
_REPEAT = re.compile(r"(.)\1{3,}")


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", " ", text.lower()).strip()


def certain_intent(text: str) -> str | None:
    """The intent of a message that needs no guessing, or None."""
    stripped = text.strip()
    meanings = {EMOJI.get(ch) for ch in stripped.replace("\ufe0f", "") if not ch.isspace()}
    if stripped and len(meanings) == 1 and None not in meanings:
        return meanings.pop()  # e.g. "👍" or "👍👍"
    plain = " ".join(_plain(stripped).split())
    if plain in COMMANDS:
        return COMMANDS[plain]
    return "nonsense" if is_gibberish(stripped) else None


def not_a_command(intent: str | None, text: str) -> bool:
    """True when a command guess is plainly about their life ("i cant stop crying")."""
    pattern = NOT_A_COMMAND.get(intent or "")
    return bool(pattern and pattern.search(text))


def is_gibberish(text: str) -> bool:
    """Keyboard mash, filler noises, or nothing but symbols and emoji."""
    lowered = text.lower().strip()
    if not lowered:
        return False
    if not re.search(r"[a-z0-9]", lowered):
        return True  # only symbols or emoji (the ones that mean something are matched first)
    if re.search(r"\d", lowered):
        return False  # ages and postcodes
    words = _LETTERS.findall(lowered)
    if words and all(w in FILLERS for w in words):
        return True
    return any(
        _REPEAT.search(w)
        or (len(w) >= 6 and not _VOWELS.search(w))
        or any(run in w for run in KEYBOARD_RUNS)
        for w in words
    )
