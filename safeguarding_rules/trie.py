"""Regular expressions built as tries, so a large set of words is scanned in one pass.

Python's ``re`` tries the alternatives of ``a|b|c`` one after another at every position;
sharing prefixes (``k(?:ill|ms)``) keeps that cost to one branch per character.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_REPEATS = re.compile(r"([a-z])\1+")


def collapse(text: str) -> str:
    """Squash runs of a repeated letter to one letter ("diieee" -> "die", "kill" -> "kil")."""
    return _REPEATS.sub(r"\1", text)


def trie_pattern(words: Iterable[str]) -> str:
    """A regex source matching any of ``words``, longest first at each position."""
    trie: dict[str, dict] = {}
    for word in set(words):
        if not word:
            raise ValueError("empty word in trie")
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _emit(trie)


def _emit(node: dict[str, dict]) -> str:
    terminal = "" in node
    branches = [re.escape(char) + _emit(child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if terminal else body


def prefix_free(words: Iterable[str]) -> dict[str, str]:
    """Map each word to the shortest word of the set that is a prefix of it (maybe itself).

    A prefix-free set has at most one member starting at any position of a text, so a
    single regex scan can report every member present.
    """
    roots: dict[str, str] = {}
    root: str | None = None
    for word in sorted(set(words)):
        if root is None or not word.startswith(root):
            root = word
        roots[word] = root
    return roots
