"""The vocabulary normalisation uses: emoji, leetspeak, text-speak and misspellings (data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Lexicon:
    """What ``rules/_normalise.yml`` holds; see docs/safeguarding-rules.md."""

    emoji: Mapping[str, str] = field(default_factory=dict)
    confusables: Mapping[str, str] = field(default_factory=dict)
    leet: Mapping[str, str] = field(default_factory=dict)
    apostrophe_words: Mapping[str, str] = field(default_factory=dict)
    protect: Mapping[str, str] = field(default_factory=dict)
    words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    fillers: tuple[str, ...] = ()
    # Fillers that, as the last word of a message, say it is meant: "i could kill him fr"
    last_words: Mapping[str, str] = field(default_factory=dict)
    censored: tuple[str, ...] = ()
    # "-ing" words the rules use; "cuttin", "killin" are read as "cutting", "killing"
    ing_words: frozenset[str] = frozenset()
