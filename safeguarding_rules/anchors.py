"""Anchors: literal text that every match of a rule contains, found by reading the regex.

A message is only run through a rule's regex when one of the rule's anchors is in it. An
anchor that is a whole word (the pattern puts a space or word boundary on both sides of it)
is looked up in the message's set of words, which costs almost nothing; other anchors are
found by one scan for all of them (see matcher.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from itertools import product
from typing import Any, cast

try:  # Python 3.11+
    from re import _constants as sre_constants  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # Python 3.10
    import sre_constants
    import sre_parse

_C = sre_constants
SEP = "\x01"  # a word boundary inside an anchor while it is being worked out
_SEPARATORS = re.compile(f"[ \n{SEP}]")
_MAX_FIXED = 64
_MIN_LENGTH = 2  # an anchor that is not a whole word needs at least this many characters
_MAX_WINDOW = 3  # fixed items joined into one anchor at most
_MAX_WINDOW_STRINGS = 24
_REPEATS = {_C.MAX_REPEAT, _C.MIN_REPEAT} | (
    {_C.POSSESSIVE_REPEAT} if hasattr(_C, "POSSESSIVE_REPEAT") else set()
)
_BOUNDARY_AT = {
    _C.AT_BOUNDARY,
    _C.AT_BEGINNING,
    _C.AT_END,
    _C.AT_BEGINNING_STRING,
    _C.AT_END_STRING,
}


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# How common a word is in young people's messages (in normalised spelling): the most
# common words make useless anchors, common ones poor anchors.
TOP_WORDS = _wordset(
    """a and i im me my the to you it is in of that so but he she they have be do on at for
    with was not like what this your ur u no dont can all we are if or as an i have"""
)
VERY_COMMON_WORDS = _wordset(
    """a am an and are as at be but by can cant do dont for from have he her him his i if im
    in is it its me my no not of on or our she so that the them they this to u up us was we
    with you your ur just like what wil il would wud realy i have id youre all out want going
    go get got love after phone dad mum help did had today friend friends schol last year wek
    clas know think time day people some when there then one about"""
)
COMMON_WORDS = _wordset(
    """again also any away back because ben before being could days didnt does doesnt down
    even ever every fel gona has here how into make more myself never now only over said say
    se should still take than their thing tok taken taking tel told try tried trying very
    wana way wel went were where which who why kep keps home mate mates money fod eat
    someone night tonight life hate bad god ned give gave come came house rom bed slep of lot
    lots loads please sory yeah yes ok okay thanks nice fine sad hapy tired leson teacher
    work job game play party bus town shop weeks man guy girl boy brother sister family
    parents feling felt alone scared anymore thought keping leave left lol haha omg gets
    getting goes put see saw need wants wanted talk talking tell telling says around too much
    many first new old big little right end cut cuts cuting dead drugs bit fight hair
    whats exams starving kiled kiling finish"""
)


@dataclass(frozen=True)
class Anchor:
    """Literal ``text`` every match contains; ``word`` is a whole word it contains, if any."""

    text: str
    word: str | None


def anchors(source: str, min_length: int = _MIN_LENGTH) -> frozenset[Anchor] | None:
    """Anchors of a regex source: at least one is in any text the regex matches.

    None when no useful set exists (the rule must then be tried on every message).
    """
    return analyse(source, min_length)[0]


def analyse(
    source: str | Any, min_length: int = _MIN_LENGTH, limit: int = 3
) -> tuple[frozenset[Anchor] | None, tuple[frozenset[str], ...]]:
    """Anchors and guards of a regex source, from one reading of it.

    ``source`` is a regex source or its parsed form. Anchors: literal text one of which is
    in any match. Guards: sets of whole words that
    are all required together (one word of each set is in any match); a message's words are
    checked against them before the regex runs. Only selective guard sets are kept (at most
    ``limit``, best first).
    """
    parsed = sre_parse.parse(source) if isinstance(source, str) else source
    candidates = _Analysis().candidates(_seq(parsed), True, True)
    if not candidates:
        return None, ()
    best = _reduce(max(candidates, key=_marked_score))
    found = frozenset(_anchor(s) for s in best)
    if any(a.word is None and len(a.text.strip()) < min_length for a in found):
        found_or_none: frozenset[Anchor] | None = None
    else:
        found_or_none = found
    weighed: list[tuple[int, frozenset[str]]] = []
    for candidate in candidates:
        words = [_anchor(s).word for s in _reduce(candidate)]
        if words and all(w is not None for w in words):
            weight = sum(_word_weight(w) for w in words if w is not None)
            if weight < 1000:
                weighed.append((weight, frozenset(w for w in words if w is not None)))
    weighed.sort(key=lambda pair: (pair[0], len(pair[1])))
    kept: list[frozenset[str]] = []
    for _, words_ in weighed:
        if words_ not in kept:
            kept.append(words_)
    return found_or_none, tuple(kept[:limit])


def anchor_score(found: Iterable[Anchor]) -> tuple[int, int]:
    """How selective a set of anchors is (higher is better): fewer expected hits first."""
    total = count = 0
    for anchor in found:
        count += 1
        total += _weight(anchor)
    return (-total, -count)


@lru_cache(maxsize=65536)
def _anchor(marked: str) -> Anchor:
    words = [w for w in _SEPARATORS.split(marked)[1:-1] if w]
    best = min(words, key=_word_weight, default=None)
    return Anchor(marked.replace(SEP, ""), best)


def _word_weight(word: str) -> int:
    if word in TOP_WORDS:
        return 1000
    if word in VERY_COMMON_WORDS:
        return 100
    if word in COMMON_WORDS:
        return 10
    return 1


def _weight(anchor: Anchor) -> int:
    """Roughly how often an anchor fires on ordinary messages (and what checking costs)."""
    if anchor.word is not None:
        return _word_weight(anchor.word)
    length = len(anchor.text.strip())
    if length < _MIN_LENGTH:
        return 10_000
    # Any such anchor costs a scan of every message, so prefer words.
    return 30 if length >= 6 else 100 if length >= 4 else 300


def _marked_score(strings: set[str]) -> tuple[int, int]:
    return anchor_score(_anchor(s) for s in strings)


# --- the analysis ----------------------------------------------------------------------


class _Edge(Enum):
    SEP = 1  # always a separator here
    OPEN = 2  # may be a letter or digit here
    PASS = 3  # matches nothing here: look at the neighbour


def _is_boundary(op: object, av: Any) -> bool:
    if op is _C.AT:
        return av in _BOUNDARY_AT
    if op is _C.ASSERT_NOT:
        items = list(_assertion(av))
        if len(items) == 1 and items[0][0] is _C.IN:
            members = items[0][1]
            return any(
                m_op is _C.RANGE and m_av[0] <= ord("a") <= m_av[1] for m_op, m_av in members
            )
        return False
    if op is _C.ASSERT:
        items = list(_assertion(av))
        if items and items[0][0] is _C.LITERAL and items[0][1] in (32, 10):
            return True
        return (
            len(items) == 1
            and items[0][0] is _C.BRANCH
            and all(
                len(alt) == 1
                and (
                    (alt[0][0] is _C.LITERAL and alt[0][1] == 10)
                    or (alt[0][0] is _C.AT and alt[0][1] in _BOUNDARY_AT)
                )
                for alt in items[0][1][1]
            )
        )
    return False


class _Analysis:
    """Works out required strings for one parsed regex (memoised per parse-tree node)."""

    def __init__(self) -> None:
        self._fixed_memo: dict[tuple[int, bool], set[str] | None] = {}
        self._edge_memo: dict[tuple[int, bool], _Edge] = {}

    # where words start and end

    def edge(self, items: list, at_end: bool) -> _Edge:
        """Whether a sequence always has a separator at its end (or start)."""
        for op, av in reversed(items) if at_end else items:
            edge = self.item_edge(op, av, at_end)
            if edge is not _Edge.PASS:
                return edge
        return _Edge.PASS

    def item_edge(self, op: object, av: Any, at_end: bool) -> _Edge:
        if _is_boundary(op, av):
            return _Edge.SEP
        if op in (_C.AT, _C.ASSERT, _C.ASSERT_NOT):
            return _Edge.PASS
        if op is _C.LITERAL:
            return _Edge.SEP if av in (32, 10) else _Edge.OPEN
        if op not in (_C.SUBPATTERN, _C.BRANCH) and op not in _REPEATS:
            return _Edge.OPEN
        key = (id(av), at_end)
        found = self._edge_memo.get(key)
        if found is None:
            found = self._edge_memo[key] = self._compound_edge(op, av, at_end)
        return found

    def _compound_edge(self, op: object, av: Any, at_end: bool) -> _Edge:
        if op is _C.SUBPATTERN:
            return self.edge(_seq(av[-1]), at_end)
        if op is _C.BRANCH:
            edges = {self.edge(_seq(alt), at_end) for alt in av[1]}
            if _Edge.OPEN in edges:
                return _Edge.OPEN
            return _Edge.SEP if edges == {_Edge.SEP} else _Edge.PASS
        low, _high, sub = _repeat(av)
        edge = self.edge(_seq(sub), at_end)
        if edge is _Edge.OPEN:
            return _Edge.OPEN
        return edge if low >= 1 else _Edge.PASS

    def separators(self, items: list, before: bool, after: bool) -> tuple[list[bool], list[bool]]:
        """For each item: is there always a separator just before it, and just after it?"""
        ends = [self.item_edge(op, av, True) for op, av in items]
        starts = [self.item_edge(op, av, False) for op, av in items]
        sep_before, state = [], before
        for edge in ends:
            sep_before.append(state)
            if edge is not _Edge.PASS:
                state = edge is _Edge.SEP
        sep_after, state = [False] * len(items), after
        for index in range(len(items) - 1, -1, -1):
            sep_after[index] = state
            if starts[index] is not _Edge.PASS:
                state = starts[index] is _Edge.SEP
        return sep_before, sep_after

    # fixed strings

    def fixed(self, items: list) -> set[str] | None:
        """All strings a sequence can match, if it matches only a few fixed strings."""
        results = {""}
        pending: list[str] = []  # literal characters not yet appended
        for op, av in items:
            if op is _C.LITERAL:
                pending.append(chr(av))
                continue
            options = self.fixed_item(op, av)
            if options is None:
                return None
            prefix = "".join(pending)
            pending.clear()
            results = {a + prefix + b for a, b in product(results, options)}
            if len(results) > _MAX_FIXED:
                return None
        if pending:
            tail = "".join(pending)
            results = {a + tail for a in results}
        return results

    def fixed_item(self, op: object, av: Any) -> set[str] | None:
        if op is _C.LITERAL:
            return {chr(av)}
        if op in (_C.AT, _C.ASSERT, _C.ASSERT_NOT):
            return {SEP} if _is_boundary(op, av) else {""}
        if op is _C.IN:
            return _charset(av)
        if op is not _C.SUBPATTERN and op is not _C.BRANCH and op not in _REPEATS:
            return None
        key = (id(av), True)
        if key not in self._fixed_memo:
            self._fixed_memo[key] = self._compound_fixed(op, av)
        return self._fixed_memo[key]

    def _compound_fixed(self, op: object, av: Any) -> set[str] | None:
        if op is _C.SUBPATTERN:
            return self.fixed(_seq(av[-1]))
        if op is _C.BRANCH:
            union: set[str] = set()
            for alternative in av[1]:
                options = self.fixed(_seq(alternative))
                if options is None:
                    return None
                union |= options
            return union if len(union) <= _MAX_FIXED else None
        low, high, sub = _repeat(av)
        options = self.fixed(_seq(sub))
        if options is None or high > 1:
            return None
        return options | {""} if low == 0 else options

    # required strings

    def required(self, items: list, before: bool, after: bool) -> set[str] | None:
        """Strings (with SEP marks) one of which any match of the sequence contains."""
        candidates = self.candidates(items, before, after)
        if not candidates:
            return None
        return _reduce(max(candidates, key=_marked_score))

    def candidates(self, items: list, before: bool, after: bool) -> list[set[str]]:
        """Every set of strings the sequence requires (one of each set is in any match)."""
        sep_before, sep_after = self.separators(items, before, after)
        candidates: list[set[str]] = []
        run: list[tuple[int, int, set[str]]] = []

        def flush() -> None:
            if run:
                candidates.extend(_windows(run, sep_before, sep_after))
                run.clear()

        for index, (op, av) in enumerate(items):
            options = self.fixed_item(op, av)
            if options is not None:
                if run and len(options) == 1 and len(run[-1][2]) == 1:
                    first, _last, merged = run[-1]
                    run[-1] = (first, index, {next(iter(merged)) + next(iter(options))})
                else:
                    run.append((index, index, options))
                continue
            flush()
            sub = self.required_item(op, av, sep_before[index], sep_after[index])
            if sub is not None:
                candidates.append(sub)
        flush()
        return candidates

    def required_item(self, op: object, av: Any, before: bool, after: bool) -> set[str] | None:
        if op is _C.SUBPATTERN:
            return self.required(_seq(av[-1]), before, after)
        if op is _C.BRANCH:
            union: set[str] = set()
            for alternative in av[1]:
                sub = self.required(_seq(alternative), before, after)
                if sub is None:
                    return None
                union |= sub
            return union
        if op in _REPEATS:
            low, _high, sub_items = _repeat(av)
            # Inside a repeat the neighbours may be the item itself: assume nothing.
            return self.required(_seq(sub_items), False, False) if low >= 1 else None
        return None


def _required(items: list, before: bool, after: bool) -> set[str] | None:
    return _Analysis().required(items, before, after)


def _seq(node: Any) -> list:
    """The items of a parsed (sub)pattern as a plain list (fast: no per-item lookups)."""
    data = getattr(node, "data", None)
    return data if isinstance(data, list) else list(node)


def _repeat(av: Any) -> tuple[int, int, Any]:
    """(min, max, sub-pattern) of a repeat node."""
    return cast(tuple[int, int, Any], av)


def _assertion(av: Any) -> Any:
    """The sub-pattern of a lookahead/lookbehind node."""
    return cast(tuple[int, Any], av)[1]


def _charset(av: Any) -> set[str] | None:
    chars: set[str] = set()
    for m_op, m_av in av:
        if m_op is _C.LITERAL:
            chars.add(chr(m_av))
        elif m_op is _C.RANGE:
            chars.update(chr(c) for c in range(m_av[0], m_av[1] + 1))
        else:
            return None
    return chars if len(chars) <= 10 else None


def _windows(
    run: list[tuple[int, int, set[str]]], sep_before: list[bool], sep_after: list[bool]
) -> list[set[str]]:
    """Contiguous stretches of a fixed run (up to _MAX_WINDOW items) with no empty string."""
    found = []
    for i in range(len(run)):
        acc = {""}
        head = SEP if sep_before[run[i][0]] else ""
        for width, (_first, last, options) in enumerate(run[i : i + _MAX_WINDOW]):
            acc = {a + b for a, b in product(acc, options)}
            if len(acc) > (_MAX_WINDOW_STRINGS if width else _MAX_FIXED):
                break
            if all(s.strip(SEP) for s in acc):
                tail = SEP if sep_after[last] else ""
                found.append({_tidy(head + s + tail) for s in acc})
    return found


def _tidy(marked: str) -> str:
    while SEP + SEP in marked:
        marked = marked.replace(SEP + SEP, SEP)
    return marked.replace(" " + SEP, " ").replace(SEP + " ", " ")


def _reduce(strings: set[str]) -> set[str]:
    """Drop strings that contain another member: the shorter one is present anyway."""
    if len(strings) < 2:
        return strings
    kept: list[str] = []
    for s in sorted(strings, key=len):
        if not any(k in s for k in kept):
            kept.append(s)
    return set(kept)
