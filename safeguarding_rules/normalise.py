"""Text normalisation: what a message looks like by the time the rules see it.

The output is lower-case ASCII words separated by single spaces, with accents removed,
emoji turned into words, repeated letters squashed, and text-speak/misspellings mapped to
one spelling. When a message uses leetspeak or spaced-out letters ("k1ll", "k m s") a second
reading is added on its own line, so rules see both the literal and the decoded text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from safeguarding_rules.lexicon import Lexicon
from safeguarding_rules.trie import collapse, trie_pattern

APOSTROPHES = "'\u2019\u2018`\u00b4\u02bc\u2032"
# Zero-width characters, variation selectors, skin tones and soft hyphens hide inside words.
_INVISIBLE = [
    0x00AD,
    0x200B,
    0x200C,
    0x200D,
    0x2060,
    0xFEFF,
    0xFE0E,
    0xFE0F,
    *range(0x1F3FB, 0x1F400),
    *range(0xE0020, 0xE0080),
]
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_NON_WORD = re.compile(r"[^a-z0-9]+")
# ASCII: letters lower-cased, digits kept, everything else a space.
_CLEAN = str.maketrans({i: (chr(i).lower() if chr(i).isalnum() else " ") for i in range(128)})
_LEET_CHARS = "0-9@$|+\u20ac"
_LEET_HINT = re.compile(rf"[{_LEET_CHARS}!*]")
_LEET_WORD = re.compile(rf"[a-z][{_LEET_CHARS}]|[{_LEET_CHARS}!*][a-z]")
_SINGLE_LETTERS = re.compile(r"(?:^| )[a-z] [a-z](?= |$)")
_LEET_RUN = re.compile(rf"(?<=[a-z])[{_LEET_CHARS}]+|[{_LEET_CHARS}!]+(?=[a-z])")
_DOTTED = re.compile(r"(?<![a-z0-9])[a-z](?:[.\-_*~,/]+[a-z](?![a-z0-9]))+")
_SPACED = re.compile(r"(?<![a-z0-9])[a-z](?: +[a-z](?![a-z0-9]))+")
_STARRED = re.compile(r"[a-z]*\*+[a-z*]*")
_NUMBER_WORD = re.compile(r"^([0-9]+)([a-z]+)$")


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words ending in "in" that are not an "-ing" word with its g dropped (squashed spelling).
REAL_IN_WORDS = _wordset(
    """
    thin skin win sin pin kin tin bin din fin gin shin spin chin grin twin coin join
    loin ruin rein vein main pain rain gain train brain grain chain again stain drain
    plain cabin robin begin within cousin raisin basin penguin violin mufin margin cofin
    napkin pumpkin dolphin resin satin latin toxin vitamin insulin protein origin virgin
    admin bitcoin goblin kevin darwin austin martin justin dustin odin asasin mandarin
    aspirin heroin tamin strin sprin swin brin terain certain curtain mountain fountain
    captain bargain domain obtain retain contain sustain explain complain remain detain
    maintain entertain
    """
)
_CACHE_LIMIT = 50_000


class Normaliser:
    """Turns raw message text into the form rule patterns are written against."""

    def __init__(self, lexicon: Lexicon) -> None:
        table: dict[int, str | None] = {cp: None for cp in _INVISIBLE}
        for emoji, word in lexicon.emoji.items():
            if len(emoji) == 1:
                table[ord(emoji)] = f" {word} "
        self._emoji_table = table
        self._multi_emoji = {e: w for e, w in lexicon.emoji.items() if len(e) > 1}
        self._confusables = str.maketrans(dict(lexicon.confusables))
        self._apostrophes = str.maketrans({a: "'" for a in APOSTROPHES})
        self._apostrophe_words = dict(lexicon.apostrophe_words)
        self._apostrophe_re = _word_regex(self._apostrophe_words)
        self._protect = dict(lexicon.protect)
        self._leet = dict(lexicon.leet)
        single: dict[str, str] = {}
        phrases: dict[str, str] = {}
        for canonical, variants in lexicon.words.items():
            for variant in variants:
                key = collapse(" ".join(variant.split()))
                (phrases if " " in key else single)[key] = collapse(canonical)
        for filler in lexicon.fillers:
            single[collapse(filler)] = ""
        self._last_words = {collapse(k): collapse(v) for k, v in lexicon.last_words.items()}
        for word in lexicon.ing_words:
            dropped = collapse(word[:-1])
            if len(word) >= 6 and dropped not in single and dropped not in REAL_IN_WORDS:
                single[dropped] = collapse(word)
        self._single = single
        # Phrases are matched after single words are mapped, so map their words too.
        mapped = {
            " ".join(w for w in (single.get(t, t) for t in k.split()) if w): v
            for k, v in phrases.items()
        }
        self._phrases = {k: v for k, v in mapped.items() if k and k != v}
        starts = {k.split()[0] for k in self._phrases}
        # A phrase can start inside a mapped word too ("wanna" -> "want to" -> "want 2").
        self._phrase_starts = frozenset(
            starts | {out for out in single.values() if out and out.split()[0] in starts}
        )
        # Matched on " words " with a leading space, so the scan can jump between words.
        self._phrase_re = (
            re.compile(" (" + trie_pattern(self._phrases) + ")(?= )") if self._phrases else None
        )
        self._censored = tuple(lexicon.censored)
        # In patterns: whole words, not part of an escape (\\w) or a {term}.
        changed = {k: v for k, v in single.items() if k != v}
        self._pattern_single = _pattern_word_regex(changed)
        self._pattern_phrases = _pattern_word_regex(self._phrases)
        self._cache: dict[str, str] = {}

    def rewrite_pattern(self, source: str) -> str:
        """Rewrite the plain words of a regex source the way messages are rewritten
        ("i am" -> "im", "gonna" -> "going to", fillers dropped), so a pattern written
        in everyday spelling still matches. ``source`` is already lower case and squashed."""
        if self._pattern_single is not None:
            source = _substitute(self._pattern_single, self._single, source)
        if self._pattern_phrases is not None:
            source = _substitute(self._pattern_phrases, self._phrases, source)
        return source

    @property
    def word_map(self) -> Mapping[str, str]:
        """Single words and phrases (after squashing repeats) -> the spelling rules use."""
        return {**self._single, **self._phrases}

    def __call__(self, text: str) -> str:
        """Normalise ``text``; a decoded second reading follows on a new line if any."""
        s = text.lower()
        if not s.isascii():
            s = self._unicode(s)
        if "`" in s:
            s = s.replace("`", "'")
        if "'" in s:
            if self._apostrophe_re is not None:
                s = self._apostrophe_re.sub(lambda m: self._apostrophe_words[m.group()], s)
            s = s.replace("'", "")
        clean = s.translate(_CLEAN)
        meant = self._meant(clean)
        if meant:  # read on as if the message said it: "... fr" -> "... for real"
            s, clean = f"{s} {meant}", f"{clean} {meant}"
        base = self._words(clean)
        tricky = _LEET_HINT.search(s) is not None and _LEET_WORD.search(s) is not None
        if not tricky and _SINGLE_LETTERS.search(clean) is None:
            return base
        alt = self._words(self._untrick(s).translate(_CLEAN))
        return base if alt == base else f"{base}\n{alt}"

    def _meant(self, clean: str) -> str:
        """What a filler says as the message's last word ("for real"), else nothing."""
        last = clean.rsplit(None, 1)[-1:]
        return self._last_words.get(collapse(last[0]), "") if last else ""

    def _unicode(self, s: str) -> str:
        for emoji, word in self._multi_emoji.items():
            if emoji in s:
                s = s.replace(emoji, f" {word} ")
        s = s.translate(self._emoji_table)
        if s.isascii():  # only emoji: nothing left to decompose
            return s
        s = unicodedata.normalize("NFKD", s)
        s = _MARKS.sub("", s)
        s = s.translate(self._confusables).translate(self._apostrophes).lower()
        return _NON_ASCII.sub(" ", s)

    def _words(self, clean: str) -> str:
        raws = clean.split()
        words = list(map(self._cache.get, raws))
        if None in words:
            words = [
                self._word(raw) if word is None else word
                for raw, word in zip(raws, words, strict=True)
            ]
        out = " ".join(filter(None, words))
        if self._phrase_re is not None and not self._phrase_starts.isdisjoint(words):
            padded = self._phrase_re.sub(self._phrase, f" {out} ")
            out = " ".join(padded.split())
        return out

    def _phrase(self, match: re.Match[str]) -> str:
        return f" {self._phrases[match.group(1)]}"

    def _word(self, raw: str) -> str:
        word = collapse(self._protect.get(raw, raw))
        mapped = self._single.get(word)
        if mapped is not None:
            word = mapped
        elif _NUMBER_WORD.match(word):
            # "14yo", "3am", "2k": the number becomes a word of its own.
            word = _NUMBER_WORD.sub(r"\1 \2", word)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[raw] = word
        return word

    def _untrick(self, s: str) -> str:
        if "*" in s and self._censored:
            s = _STARRED.sub(self._uncensor, s)
        s = _LEET_RUN.sub(self._unleet, s)
        s = _DOTTED.sub(lambda m: _NON_WORD.sub("", m.group()), s)
        return _SPACED.sub(_join_letters, _NON_WORD.sub(" ", s))

    def _unleet(self, match: re.Match[str]) -> str:
        run = match.group().replace("11", "ll")
        return "".join(self._leet.get(char, char) for char in run)

    def _uncensor(self, match: re.Match[str]) -> str:
        token = match.group()
        if not token.strip("*"):
            return token
        parts = [re.escape(p) for p in re.split(r"\*+", token)]
        guess = re.compile("[a-z]{1,3}".join(parts))
        for word in self._censored:
            if guess.fullmatch(word):
                return word
        return token


def _pattern_word_regex(words: Mapping[str, str]) -> re.Pattern[str] | None:
    if not words:
        return None
    return re.compile(r"(?<![a-z0-9\\{])(?:" + trie_pattern(words) + r")(?![a-z0-9}])")


def _substitute(regex: re.Pattern[str], words: Mapping[str, str], source: str) -> str:
    out: list[str] = []
    last = 0
    for match in regex.finditer(source):
        start, end = match.span()
        if start < last:
            continue
        replacement = words[match.group()]
        if not replacement:  # a filler: drop it with one space next to it
            before, after = source[start - 1 : start], source[end : end + 1]
            if before in ("|", ":", "(", "") and after in ("|", ")", ""):
                continue  # a whole alternative on its own: dropping it would change the regex
            if after == " ":
                end += 1
            elif start > last and source[start - 1] == " ":
                start -= 1
        out.append(source[last:start])
        out.append(replacement)
        last = end
    out.append(source[last:])
    return "".join(out)


def _join_letters(match: re.Match[str]) -> str:
    letters = match.group().split()
    # "i k m s" reads as "i kms": a leading "i", "a" or "u" is usually a word of its own.
    if len(letters) >= 3 and letters[0] in ("i", "a", "u"):
        return letters[0] + " " + "".join(letters[1:])
    return "".join(letters)


def _word_regex(words: Mapping[str, str]) -> re.Pattern[str] | None:
    if not words:
        return None
    return re.compile(r"(?<![a-z0-9])(?:" + trie_pattern(words) + r")(?![a-z0-9])")
