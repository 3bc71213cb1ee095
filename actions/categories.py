"""Map a young person's own words to taxonomy categories, from the data in `categories.yml`.

Run `python -m actions.categories` to rewrite `nlu/lookups.yml` from the same data.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from actions.text import normalise

DATA_FILE = Path(__file__).with_name("categories.yml")
LOOKUPS_FILE = Path(__file__).resolve().parents[1] / "nlu" / "lookups.yml"
KINDS = ("concerns", "interests")
OTHER = {"concerns": "other_concern", "interests": "other_interest"}
LOOKUP_NAMES = {"concerns": "concern", "interests": "interest"}


@dataclass(frozen=True)
class Tagged:
    """One category with the young person's own words, as in the referral record."""

    category: str
    own_words: str

    def as_dict(self) -> dict[str, str]:
        return {"category": self.category, "own_words": self.own_words}


@dataclass(frozen=True)
class Category:
    """A taxonomy slug with the words that point to it, and the words that only name where
    something happens ("at school", "in class"): those tag it only when nothing else is found."""

    slug: str
    say: str | None
    words: tuple[str, ...]
    pattern: re.Pattern[str] | None
    setting_words: tuple[str, ...] = ()
    setting: re.Pattern[str] | None = None
    ignore: re.Pattern[str] | None = None

    def _own(self, normalised: str) -> str:
        """The text with the phrases where its words mean something else blanked out."""
        return self.ignore.sub(" ", normalised) if self.ignore else normalised

    def matches(self, normalised: str) -> bool:
        """Whether its own words (not its setting words) occur."""
        return bool(self.pattern and self.pattern.search(self._own(normalised)))

    def names_the_setting(self, normalised: str) -> bool:
        """Whether its setting words occur (the answer names the place, not the matter)."""
        return bool(self.setting and self.setting.search(self._own(normalised)))


@dataclass(frozen=True)
class CategoryTable:
    """All categories of one kind (concerns or interests), in the order of the data file."""

    kind: str
    categories: tuple[Category, ...]

    @property
    def other(self) -> str:
        return OTHER[self.kind]

    def match(self, text: str) -> tuple[str, ...]:
        """Slugs whose words occur in the text; the "other" slug when none do. A category
        named only by its setting ("people at school are mean to me") is left out when another
        category is found, and kept when it is all the answer says."""
        normalised = normalise(text)
        found = [c.slug for c in self.categories if c.matches(normalised)]
        if not found:
            found = [c.slug for c in self.categories if c.names_the_setting(normalised)]
        return tuple(found) or (self.other,)

    def tag(self, text: str) -> tuple[Tagged, ...]:
        """Each matched category with the whole answer, verbatim, as its own words."""
        return tuple(Tagged(slug, text) for slug in self.match(text))

    def say(self, slugs: Iterable[str]) -> list[str]:
        """Plain words for the given slugs, for reflecting back (skips those without any)."""
        by_slug = {c.slug: c for c in self.categories}
        return [by_slug[s].say for s in slugs if s in by_slug and by_slug[s].say]  # type: ignore[misc]


def _word_regex(word: str) -> str:
    body = r"\s+".join(re.escape(part) for part in normalise(word).split())
    return rf"(?<![a-z0-9]){body}(?:s|es)?(?![a-z0-9])"


def _compile(words: Sequence[str], patterns: Sequence[str]) -> re.Pattern[str] | None:
    parts = [_word_regex(w) for w in words if normalise(w)] + list(patterns)
    return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None


_TERM = re.compile(r"\{([a-z_]+)\}")


def _expand(pattern: str, terms: Mapping[str, str]) -> str:
    """Replace each `{name}` with the term of that name (regex quantifiers like {0,2} stay)."""

    def term(match: re.Match[str]) -> str:
        if match.group(1) not in terms:
            raise ValueError(f"unknown term {{{match.group(1)}}} in a category pattern")
        return terms[match.group(1)]

    return _TERM.sub(term, pattern)


def parse_tables(data: Mapping[str, Any]) -> dict[str, CategoryTable]:
    """Build the tables from the parsed data file."""
    terms = {str(k): str(v) for k, v in (data.get("terms") or {}).items()}
    tables = {}
    for kind in KINDS:
        categories = []
        # Phrases ignored by every category of the kind ("used to like football but not anymore").
        ignored_by_all = tuple(str(p) for p in (data.get("ignore") or {}).get(kind) or ())
        for slug, spec in data[kind].items():
            words = tuple(str(w) for w in spec.get("words") or ())
            patterns = tuple(_expand(str(p), terms) for p in spec.get("patterns") or ())
            setting_words = tuple(str(w) for w in spec.get("setting_words") or ())
            setting_patterns = tuple(
                _expand(str(p), terms) for p in spec.get("setting_patterns") or ()
            )
            ignore = tuple(
                _expand(str(p), terms) for p in (*ignored_by_all, *(spec.get("ignore") or ()))
            )
            categories.append(
                Category(
                    slug,
                    spec.get("say"),
                    words,
                    _compile(words, patterns),
                    setting_words,
                    _compile(setting_words, setting_patterns),
                    _compile((), ignore),
                )
            )
        tables[kind] = CategoryTable(kind, tuple(categories))
    return tables


@cache
def load_tables(path: Path = DATA_FILE) -> dict[str, CategoryTable]:
    """The category tables from the data file (read once per process)."""
    return parse_tables(yaml.safe_load(path.read_text(encoding="utf-8")))


def lookups_yaml(tables: Mapping[str, CategoryTable]) -> str:
    """NLU lookup tables (one per kind) with every word of every category."""
    lines = [
        'version: "3.1"',
        "",
        "# Written by `python -m actions.categories` from actions/categories.yml: edit that file.",
        "# The words of each kind feed the RegexFeaturizer as a lookup table.",
        "nlu:",
    ]
    for kind in KINDS:
        lines += [f"- lookup: {LOOKUP_NAMES[kind]}", "  examples: |"]
        seen: set[str] = set()
        for category in tables[kind].categories:
            for word in (*category.words, *category.setting_words):
                if word not in seen:
                    seen.add(word)
                    lines.append(f"    - {word}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] = ()) -> int:
    """Write nlu/lookups.yml (or the path given) from the category data."""
    target = Path(argv[0]) if argv else LOOKUPS_FILE
    target.write_text(lookups_yaml(load_tables()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
