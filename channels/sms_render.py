"""Text-only rendering for SMS and WhatsApp: numbered options, GSM-7 and UCS-2 segments, splitting.

An SMS travels in 140-byte segments. In GSM-7 a segment holds 160 characters (153 when the
message is split, the rest is the concatenation header); the characters of the extension table
(`^{}\\[~]|€` and form feed) take two. One character outside GSM-7, an emoji for example, makes
the whole message UCS-2: 70 UTF-16 units a segment, 67 when split, and a character outside the
Basic Multilingual Plane takes two units. Carriers never split a character across segments.

Everything here is pure: the Twilio channel calls it to render and to read replies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from channels.messages import BotMessage, Button, offered_buttons

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

DEFAULT_MAX_SEGMENTS = 3
WHATSAPP_MAX_CHARS = 1600
"""Twilio's limit on one message body (WhatsApp has no segments)."""

# Typography that would turn a whole message into UCS-2 for no reason, and its plain twin.
_PLAIN = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
        "\u2212": "-", "\u2022": "-", "\u00b7": "-",
        "\u2026": "...",
        "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u202f": " ", "\t": " ",
        "\u200b": None, "\u200c": None, "\u2060": None, "\ufeff": None,
    }
)  # fmt: skip

# A reply that picks an option: "2", " 2. ", "#2", "(2)", "2)".
_OPTION = re.compile(r"^\s*[#(\[]?\s*(\d{1,2})\s*[.)\]]?\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_SPACE = re.compile(r"[ ]+")


@dataclass(frozen=True)
class Segments:
    """How a text travels as SMS: its encoding, its size in that encoding, its segments."""

    encoding: str
    units: int
    count: int


def plain_typography(text: str) -> str:
    """Curly quotes, long dashes, ellipses and odd spaces as their GSM-7 twins.

    Emoji and letters of other scripts are kept: they are what the young person wrote or
    needs to read; they just cost more segments.
    """
    return text.translate(_PLAIN)


def encoding_of(text: str) -> str:
    """GSM-7 when every character is in the GSM-7 tables, else UCS-2."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        return GSM7
    return UCS2


def _unit_sizes(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def segments(text: str) -> Segments:
    """The encoding, size and number of segments `text` is sent as (0 for empty text)."""
    encoding = encoding_of(text)
    sizes = _unit_sizes(text, encoding)
    total = sum(sizes)
    single, part = (GSM7_SINGLE, GSM7_PART) if encoding == GSM7 else (UCS2_SINGLE, UCS2_PART)
    if total == 0:
        return Segments(encoding, 0, 0)
    if total <= single:
        return Segments(encoding, total, 1)
    count, used = 1, 0
    for size in sizes:
        if used + size > part:  # a character is never split across segments
            count += 1
            used = 0
        used += size
    return Segments(encoding, total, count)


def fits_segments(max_segments: int) -> Callable[[str], bool]:
    """A test for texts that travel in at most `max_segments` SMS segments."""
    return lambda text: segments(text).count <= max_segments


def fits_chars(max_chars: int) -> Callable[[str], bool]:
    """A test for texts of at most `max_chars` characters."""
    return lambda text: len(text) <= max_chars


def options_text(options: Sequence[tuple[int, str]]) -> str:
    """Numbered options: "Reply 1 for Yes or 2 for No." when short, else one option a line."""
    if not options:
        return ""
    if len(options) <= 3 and all(len(title) <= 20 for _, title in options):
        choices = [f"{n} for {title}" for n, title in options]
        listed = choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]
        return f"Reply {listed}."
    return "Reply with a number:\n" + "\n".join(f"{n} {title}" for n, title in options)


def resolve_option(text: str, offered: Sequence[Button]) -> str:
    """What a reply means given the options last offered: "2" is the second option's payload.

    An option's title typed exactly (any case) is that option too. Anything else, numbers out
    of range included (an age, say), is passed on unchanged.
    """
    if not offered:
        return text
    match = _OPTION.match(text)
    if match:
        number = int(match.group(1))
        if 1 <= number <= len(offered):
            return offered[number - 1].payload
        return text
    typed = " ".join(text.split()).casefold()
    for button in offered:
        if typed and typed == " ".join(button.title.split()).casefold():
            return button.payload
    return text


def tidy(text: str) -> str:
    """Shorter text for a small screen: single spaces, at most one blank line, no edges."""
    lines = [_SPACE.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    tidied = "\n".join(lines)
    while "\n\n\n" in tidied:
        tidied = tidied.replace("\n\n\n", "\n\n")
    return tidied.strip()


@dataclass(frozen=True)
class _Atom:
    text: str
    gap: str  # the whitespace that followed it in the original


def _pieces(text: str, pattern: re.Pattern[str]) -> list[_Atom]:
    atoms, start = [], 0
    for match in pattern.finditer(text):
        if match.start() > start:
            atoms.append(_Atom(text[start : match.start()], match.group(0)))
        start = match.end()
    if start < len(text):
        atoms.append(_Atom(text[start:], ""))
    return atoms


def _hard_split(word: str, fits: Callable[[str], bool]) -> list[_Atom]:
    chunks, current = [], ""
    for ch in word:
        if current and not fits(current + ch):
            chunks.append(_Atom(current, ""))
            current = ""
        current += ch
    if current:
        chunks.append(_Atom(current, ""))
    return chunks


def _atoms(text: str, fits: Callable[[str], bool]) -> list[_Atom]:
    """Sentences; a sentence too long for one message is cut into words, a word into letters."""
    atoms: list[_Atom] = []
    for sentence in _pieces(text, _SENTENCE_END):
        if fits(sentence.text):
            atoms.append(sentence)
            continue
        words = _pieces(sentence.text, re.compile(r"\s+"))
        for index, word in enumerate(words):
            gap = word.gap if index < len(words) - 1 else sentence.gap
            if fits(word.text):
                atoms.append(_Atom(word.text, gap))
            else:
                pieces = _hard_split(word.text, fits)
                atoms.extend(pieces[:-1])
                atoms.append(_Atom(pieces[-1].text, gap))
    return atoms


def _join(atoms: Sequence[_Atom]) -> str:
    return "".join(a.text + a.gap for a in atoms[:-1]) + (atoms[-1].text if atoms else "")


def _pack(atoms: Sequence[_Atom], fits: Callable[[str], bool]) -> list[list[_Atom]]:
    parts: list[list[_Atom]] = []
    current: list[_Atom] = []
    for atom in atoms:
        if current and not fits(_join([*current, atom]).strip()):
            parts.append(current)
            current = []
        current.append(atom)
    if current:
        parts.append(current)
    return parts


def split_text(text: str, fits: Callable[[str], bool], suffix: str = "") -> list[str]:
    """`text` as few messages as possible, each passing `fits`, cut at sentence ends.

    `suffix` (numbered options) ends the last message, which is kept short enough for it;
    a suffix too long to share a message is split the same way.
    """
    text = text.strip()
    suffix = suffix.strip()
    if not suffix:
        return [_join(part).strip() for part in _pack(_atoms(text, fits), fits) if part]
    if not text:
        return split_text(suffix, fits)
    combined = f"{text}\n{suffix}"
    if fits(combined):
        return [combined]
    if not fits(suffix):
        return split_text(text, fits) + split_text(suffix, fits)

    def fits_last(candidate: str) -> bool:
        return fits(f"{candidate.strip()}\n{suffix}")

    atoms = _atoms(text, fits)
    # The last message: as many closing sentences as fit beside the options.
    tail: list[_Atom] = []
    while atoms and fits_last(_join([atoms[-1], *tail])):
        tail.insert(0, atoms.pop())
    if not tail and atoms:
        last = atoms.pop()
        pieces = _atoms(last.text, fits_last)
        pieces = [_Atom(p.text, p.gap) for p in pieces]
        while pieces and fits_last(_join([pieces[-1], *tail])):
            tail.insert(0, pieces.pop())
        atoms.extend(pieces)
    head = [_join(part).strip() for part in _pack(atoms, fits) if part]
    last_text = _join(tail).strip()
    return [*head, f"{last_text}\n{suffix}" if last_text else suffix]


def render_texts(
    messages: Sequence[BotMessage],
    fits: Callable[[str], bool],
    *,
    gsm_friendly: bool = True,
) -> list[str]:
    """The dialogue's messages as plain texts that each pass `fits`.

    Buttons become numbered options, numbered across the whole batch in the order of
    `offered_buttons`, so a reply "2" means the same as in `resolve_option`. Consecutive short
    messages are sent together when they fit, to spend fewer messages and segments.
    """
    numbers = {b.payload: i + 1 for i, b in enumerate(offered_buttons(messages))}

    def plain(text: str) -> str:
        return tidy(plain_typography(text) if gsm_friendly else text)

    blocks: list[str] = []
    for message in messages:
        # A payload offered twice in one batch is numbered (and shown) once, where it first is.
        options = [
            (numbers.pop(b.payload), plain(b.title) or b.payload)
            for b in message.buttons
            if b.payload in numbers
        ]
        blocks.extend(split_text(plain(message.text), fits, options_text(options)))
    merged: list[str] = []
    for block in blocks:
        if not block:
            continue
        if merged and fits(f"{merged[-1]}\n\n{block}"):
            merged[-1] = f"{merged[-1]}\n\n{block}"
        else:
            merged.append(block)
    return merged
