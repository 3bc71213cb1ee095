"""What the loader works out for each pattern, kept on disk from one load to the next.

Turning a pattern as written into the regex the rules run (terms expanded, spellings
normalised, literal groups as tries, whole words) and working out its anchors and guards took
about 80% of loading a rule set of 1,000 patterns; that work depends only on the pattern's
text, the terms, the normalisation vocabulary and this package's code. Each result is kept
under a hash of all of them, so any change to a rule file, a term, `_normalise.yml` or the
engine is worked out afresh, never read from an older cache. Only patterns that loaded without
a problem are kept. The file is JSON (never pickle: reading it runs no code), written whole to a
temporary file and moved into place, so a reader never sees half of one; a file that cannot be
read or written is ignored (loading then does all the work, as without a cache).

Where: `YOUTHLINK_SAFEGUARDING_CACHE` (a file path, or `off`), by default
`~/.cache/youthlink/safeguarding-patterns-py3.11.json` (one per Python version: regexes are
read by the version's own parser, and the two environments would otherwise take turns
rewriting one file).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safeguarding_rules.anchors import Anchor
from safeguarding_rules.lexicon import Lexicon

CACHE_ENV = "YOUTHLINK_SAFEGUARDING_CACHE"
FORMAT = 1
# The modules whose code decides what a pattern turns into.
_ENGINE_FILES = ("anchors.py", "loader.py", "normalise.py", "patterns.py", "trie.py")


@dataclass(frozen=True)
class Derived:
    """A pattern as the rules run it: the regex source, its anchors and guards (worked out for
    patterns only: exceptions and requires_any items need just the source)."""

    source: str
    anchors: frozenset[Anchor] | None = None
    guards: tuple[frozenset[str], ...] = ()


def default_path() -> Path | None:
    """The cache file to use, or None when caching is off."""
    configured = os.environ.get(CACHE_ENV, "").strip()
    if configured.lower() == "off":
        return None
    if configured:
        return Path(configured)
    version = f"py{sys.version_info.major}.{sys.version_info.minor}"
    try:
        home = Path.home()
    except (KeyError, RuntimeError):  # no home directory (some containers): no cache
        return None
    return home / ".cache" / "youthlink" / f"safeguarding-patterns-{version}.json"


def salt(terms: Mapping[str, str], lexicon: Lexicon) -> str:
    """A hash of everything besides a pattern's text that decides what it turns into."""
    digest = hashlib.sha256(f"format {FORMAT}\0{sys.version}\0".encode())
    here = Path(__file__).resolve().parent
    for name in _ENGINE_FILES:
        digest.update(name.encode() + b"\0" + (here / name).read_bytes() + b"\0")
    digest.update(_canonical(dict(terms)).encode() + b"\0")
    digest.update(_canonical(dataclasses.asdict(lexicon)).encode())
    return digest.hexdigest()


def _canonical(value: Any) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, Mapping):
            return sorted((str(k), plain(x)) for k, x in v.items())
        if isinstance(v, (set, frozenset)):
            return sorted(plain(x) for x in v)
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    return json.dumps(plain(value), ensure_ascii=False)


class PatternCache:
    """Derived patterns by a hash of their text and the `salt`; read once, written once."""

    def __init__(self, path: Path | None, salt_: str) -> None:
        self.path = path
        self._salt = salt_
        self._stored: dict[str, Any] = self._read() if path is not None else {}
        self._used: dict[str, Any] = {}
        self.hits = self.misses = 0

    def _read(self) -> dict[str, Any]:
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    def _key(self, kind: str, text: str) -> str:
        return hashlib.sha256(f"{self._salt}\0{kind}\0{text}".encode()).hexdigest()

    def get(self, kind: str, text: str) -> Derived | None:
        """What `text` (a pattern of `kind`) turned into, if known."""
        key = self._key(kind, text)
        entry = self._stored.get(key)
        derived = _decode(entry) if entry is not None else None
        if derived is None:
            self.misses += 1
            return None
        self.hits += 1
        self._used[key] = entry
        return derived

    def put(self, kind: str, text: str, derived: Derived) -> None:
        """Remember what `text` turned into."""
        self._used[self._key(kind, text)] = _encode(derived)

    def save(self) -> None:
        """Write the entries this load used (when anything new was worked out)."""
        if self.path is None or self.misses == 0:
            return
        payload = json.dumps({"format": FORMAT, "entries": self._used}, ensure_ascii=False)
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(payload)
                os.replace(temporary, self.path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)


def _encode(derived: Derived) -> dict[str, Any]:
    return {
        "source": derived.source,
        "anchors": None
        if derived.anchors is None
        else sorted(
            ([a.text, a.word] for a in derived.anchors), key=lambda pair: (pair[0], pair[1] or "")
        ),
        "guards": [sorted(guard) for guard in derived.guards],
    }


def _decode(entry: Any) -> Derived | None:
    try:
        anchors = entry["anchors"]
        return Derived(
            source=str(entry["source"]),
            anchors=None
            if anchors is None
            else frozenset(
                Anchor(str(text), None if word is None else str(word)) for text, word in anchors
            ),
            guards=tuple(frozenset(str(w) for w in guard) for guard in entry["guards"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
