"""Rule patterns: expanding ``{terms}``, rewriting into normalised spelling, compiling, and
finding the literal words ("anchors") at least one of which every match must contain.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from safeguarding_rules.trie import trie_pattern

try:  # Python 3.11+
    from re import _compiler as sre_compile  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # Python 3.10
    import sre_compile
    import sre_parse

_TERM = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_GAP = re.compile(r"gap(\d*)")
_WORD_CHARS = "a-z0-9"
MAX_TERM_DEPTH = 8


class PatternError(ValueError):
    """A pattern cannot be used; the message says why."""


def expand_terms(source: str, terms: Mapping[str, str], depth: int = 0) -> str:
    """Replace ``{name}`` with the term's alternatives and ``{gapN}`` with up to N words."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        gap = _GAP.fullmatch(name)
        if gap is not None:
            words = int(gap.group(1) or 3)
            return f"(?:[{_WORD_CHARS}]+ ){{0,{words}}}"
        if name not in terms:
            raise PatternError(f"unknown term {{{name}}}")
        if depth >= MAX_TERM_DEPTH:
            raise PatternError(f"terms nest too deeply at {{{name}}} (a term using itself?)")
        return "(?:" + expand_terms(terms[name], terms, depth + 1) + ")"

    return _TERM.sub(replace, source)


_LITERAL_GROUP = re.compile(r"\(\?:((?:[a-z0-9 ]+\|)+[a-z0-9 ]+)\)")


def literal_groups_as_tries(source: str) -> str:
    """Rewrite groups of plain alternatives, "(?:hit|hits|hitting)", as tries,
    "(?:hit(?:s|ting)?)": the same matches, found with less backtracking."""
    return _LITERAL_GROUP.sub(lambda m: "(?:" + trie_pattern(m.group(1).split("|")) + ")", source)


def to_normalised_spelling(source: str) -> str:
    """Rewrite a regex source the way messages are normalised: lower-case letters, no
    apostrophes, repeated letters squashed. Escapes, classes and quantifiers are kept."""
    out: list[str] = []
    last_letter = ""
    i = 0
    while i < len(source):
        char = source[i]
        if char == "\\":
            out.append(source[i : i + 2])
            i += 2
            last_letter = ""
            continue
        if char == "[":
            end = _class_end(source, i)
            out.append(source[i:end])
            i = end
            last_letter = ""
            continue
        if char == "{" and re.match(r"\{\d*(,\d*)?\}", source[i:]):
            end = source.index("}", i) + 1
            out.append(source[i:end])
            i = end
            continue
        if char in "'\u2019":
            i += 1
            continue
        if char.isalpha():
            lower = char.lower()
            if lower != last_letter:
                out.append(lower)
            last_letter = lower
        else:
            out.append(char)
            if not (char in "+*?" and last_letter):
                last_letter = ""
        i += 1
    return "".join(out)


def _class_end(source: str, start: int) -> int:
    i = start + 1
    if i < len(source) and source[i] == "^":
        i += 1
    if i < len(source) and source[i] == "]":
        i += 1
    while i < len(source):
        if source[i] == "\\":
            i += 2
            continue
        if source[i] == "]":
            return i + 1
        i += 1
    return len(source)


def whole_words(sources: Iterable[str]) -> str:
    """One regex matching any of ``sources`` as whole words in padded text.

    Rules run on normalised text padded with spaces (" words words \n words "), so a
    leading space marks the start of a word; it also lets the regex engine jump from one
    word to the next instead of trying every position.
    """
    body = "|".join(f"(?:{s.strip()})" for s in sources)
    return f" (?:{body})(?= )"


def pad(normalised: str) -> str:
    """Normalised text as rule regexes see it: a space before and after every word."""
    return f" {normalised} ".replace("\n", " \n ")


def compile_source(source: str) -> re.Pattern[str]:
    """Compile, turning ``re.error`` into :class:`PatternError`."""
    try:
        return re.compile(source)
    except re.error as exc:
        raise PatternError(f"not a valid regular expression: {exc}") from None


def parse_and_compile(source: str) -> tuple[Any, re.Pattern[str]]:
    """The parsed form (for working out anchors) and the compiled regex, reading the source
    once. The compiled regex's ``.pattern`` may be None; keep the source alongside."""
    try:
        parsed = sre_parse.parse(source)
    except re.error as exc:
        raise PatternError(f"not a valid regular expression: {exc}") from None
    try:
        compiled = sre_compile.compile(parsed)
    except (AttributeError, TypeError):  # an engine without compile-from-parse
        compiled = compile_source(source)
    except re.error as exc:
        raise PatternError(f"not a valid regular expression: {exc}") from None
    return parsed, compiled
