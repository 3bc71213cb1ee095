"""Carrier keywords (STOP, START, HELP) and Telegram commands: what a message asks of the gateway.

Pure functions. SMS and WhatsApp follow the carriers' conventions, with Twilio's own keyword
lists so our state agrees with Twilio's opt-out filtering: a keyword counts only when it is the
whole message (any case, surrounding spaces and a final "." or "!" ignored). Telegram has its
own commands, which become plain words for the dialogue's language understanding.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from channels.texts import is_help

OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
OPT_IN_WHEN_STOPPED = frozenset({"YES"})  # "yes" is also an ordinary answer otherwise
HELP_WORDS = frozenset({"HELP", "INFO"})

# Twilio's `OptOutType` webhook field: set when its Advanced Opt-Out recognised a keyword (and
# already sent its own confirmation).
TWILIO_OPT_OUT_TYPES = frozenset({"STOP", "START", "HELP"})

# Telegram commands and the plain words the dialogue understands for them.
# Telegram's own convention: /privacy shows a bot's privacy notice.
TELEGRAM_COMMANDS = {
    "start": "hi", "help": "help", "stop": "stop", "delete": "delete", "privacy": "privacy",
}  # fmt: skip
_COMMAND = re.compile(r"^/(?P<name>[A-Za-z0-9_]{1,32})(?:@(?P<bot>[A-Za-z0-9_]{1,64}))?(?:\s+|$)")


class Keyword(enum.Enum):
    """What a message asks of the gateway itself."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


def _normalise(text: str) -> str:
    return " ".join(text.strip().rstrip(".!").split()).upper()


def carrier_keyword(text: str, *, stopped: bool, provider_type: str = "") -> Keyword | None:
    """The carrier keyword this SMS/WhatsApp message is, if any.

    `provider_type` is Twilio's `OptOutType` (it knows keywords we may not); `stopped` says
    whether the conversation is opted out, when YES also means START.
    """
    provided = provider_type.strip().upper()
    if provided == "STOP":
        return Keyword.OPT_OUT
    if provided == "START":
        return Keyword.OPT_IN
    if provided == "HELP":
        return Keyword.HELP
    word = _normalise(text)
    if word in OPT_OUT_WORDS:
        return Keyword.OPT_OUT
    if word in OPT_IN_WORDS or (stopped and word in OPT_IN_WHEN_STOPPED):
        return Keyword.OPT_IN
    if word in HELP_WORDS or is_help(text):
        return Keyword.HELP
    return None


@dataclass(frozen=True)
class Command:
    """A Telegram command: its name, the bot it was addressed to, what followed it."""

    name: str
    bot: str | None
    rest: str


def telegram_command(text: str) -> Command | None:
    """The command a Telegram message starts with (`/name[@bot] rest`), or None."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    rest = text.strip()[match.end() :].strip()
    return Command(name=match.group("name").lower(), bot=match.group("bot"), rest=rest)


def command_text(text: str) -> str:
    """A Telegram command as the words the dialogue understands; other text unchanged.

    `/start` (with or without a deep-link payload) is a greeting; `/help`, `/stop`, `/delete`
    and `/privacy` are those words, followed by anything typed after them. Never an `/intent`.
    """
    command = telegram_command(text)
    if command is None or command.name not in TELEGRAM_COMMANDS:
        return text
    word = TELEGRAM_COMMANDS[command.name]
    if command.name == "start" or not command.rest:
        return word
    return f"{word} {command.rest}"


def is_telegram_stop(text: str) -> bool:
    """True for `/stop` (the young person asks the bot to stop messaging them)."""
    command = telegram_command(text)
    return command is not None and command.name == "stop"
