"""Reading the rule directory into a RuleSet, with file and line for every mistake."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safeguarding_rules.anchors import Anchor, analyse, anchor_score, anchors
from safeguarding_rules.categories import CATEGORIES
from safeguarding_rules.errors import Problem, RuleSetError
from safeguarding_rules.lexicon import Lexicon
from safeguarding_rules.model import MODEL_FILE, read_model
from safeguarding_rules.normalise import Normaliser
from safeguarding_rules.pattern_cache import Derived, PatternCache, default_path, salt
from safeguarding_rules.patterns import (
    PatternError,
    compile_source,
    expand_terms,
    literal_groups_as_tries,
    parse_and_compile,
    to_normalised_spelling,
    whole_words,
)
from safeguarding_rules.rule import Combination, Rule
from safeguarding_rules.ruleset import RuleSet
from safeguarding_rules.schema import NORMALISE_SCHEMA, RULE_FILE_SCHEMA, TERMS_SCHEMA
from safeguarding_rules.trie import collapse
from safeguarding_rules.yamldoc import (
    Node,
    compose_file,
    mapping_items,
    problem,
    scalar,
    sequence,
    to_python,
    validate,
    where,
)
from safeguarding_rules.yamldoc import (
    field as node_field,
)

TERMS_FILE = "_terms.yml"
NORMALISE_FILE = "_normalise.yml"
_SLUG = re.compile(r"^[a-z][a-z0-9_]*$")


def default_rules_dir() -> Path:
    """The rule directory shipped with the package."""
    return Path(__file__).resolve().parent / "rules"


@dataclass
class LoadResult:
    """What loading found: the rule set (None if there were problems) and the problems."""

    ruleset: RuleSet | None
    problems: list[Problem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


_DEFAULT_CACHE: Any = object()


def load_ruleset_dir(
    path: Path, cache_path: Path | Any | None = _DEFAULT_CACHE, *, with_model: bool = True
) -> RuleSet:
    """Load the rules in ``path``; raise RuleSetError listing every problem.

    ``cache_path``: where worked-out patterns are kept between loads (`pattern_cache`); None
    for none; by default `pattern_cache.default_path()`. ``with_model``: False leaves out the
    model file (`model.MODEL_FILE`) even when the directory holds one.
    """
    result = read_rules(path, cache_path, with_model=with_model)
    if result.ruleset is None:
        raise RuleSetError(result.problems)
    return result.ruleset


def ruleset_version(files: list[Path]) -> str:
    """A short hash of the rule files' names and contents."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.name):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def read_rules(
    path: Path, cache_path: Path | Any | None = _DEFAULT_CACHE, *, with_model: bool = True
) -> LoadResult:
    """Read and check every file in the rule directory ``path`` (``cache_path`` and
    ``with_model``: as for `load_ruleset_dir`)."""
    if not path.is_dir():
        return LoadResult(None, [Problem(str(path), 1, 1, "rule directory not found")])
    files = sorted(path.glob("*.yml"))
    problems: list[Problem] = []
    category_files: list[Path] = []
    for file in files:
        if file.name in (TERMS_FILE, NORMALISE_FILE):
            continue
        if file.stem not in CATEGORIES:
            reason = f"file name must be a category ({', '.join(CATEGORIES)}) or {TERMS_FILE}"
            problems.append(Problem(str(file), 1, 1, reason))
            continue
        category_files.append(file)
    if not category_files and not problems:
        problems.append(Problem(str(path), 1, 1, "no rule files (<category>.yml) found"))

    terms = _read_terms(path / TERMS_FILE, problems)
    lexicon = _read_lexicon(path / NORMALISE_FILE, problems)
    lexicon = dataclasses.replace(lexicon, ing_words=_ing_words(category_files, terms))
    normaliser = Normaliser(lexicon)
    cache = PatternCache(
        default_path() if cache_path is _DEFAULT_CACHE else cache_path, salt(terms, lexicon)
    )
    builder = _RuleBuilder(terms, normaliser, cache)
    for file in category_files:
        builder.read_file(file)
    problems.extend(builder.problems)
    builder.check_signals()
    problems.extend(builder.late_problems)
    model = None
    model_path = path / MODEL_FILE
    if with_model and model_path.exists():
        files.append(model_path)
        model, more = read_model(model_path)
        problems.extend(more)
    if problems:
        return LoadResult(None, problems, files)
    cache.save()
    ruleset = RuleSet(
        builder.rules,
        builder.combinations,
        normaliser,
        ruleset_version(files),
        terms=terms,
        model=model,
    )
    return LoadResult(ruleset, [], files)


_ING = re.compile(r"(?<![a-z])([a-z]{3,}ing)(?![a-z])")


def _ing_words(files: list[Path], terms: dict[str, str]) -> frozenset[str]:
    """The "-ing" words the rules are written with (so "cuttin" reads as "cutting")."""
    words: set[str] = set()
    for text in [*terms.values(), *(_read_quietly(f) for f in files)]:
        words.update(m.group(1) for m in _ING.finditer(text.lower()))
    return frozenset(words)


def _read_quietly(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""  # reported when the file itself is read


def _read_terms(path: Path, problems: list[Problem]) -> dict[str, str]:
    if not path.exists():
        return {}
    node, errors = compose_file(path)
    problems.extend(errors)
    if node is None:
        return {}
    schema_problems = validate(node, TERMS_SCHEMA, str(path))
    problems.extend(schema_problems)
    if schema_problems:
        return {}
    raw: dict[str, tuple[str, Node]] = {}
    for name, key_node, value_node in mapping_items(node):
        if not _SLUG.match(name) or re.fullmatch(r"gap\d*", name):
            problems.append(problem(str(path), key_node, f"term name {name!r} is not allowed"))
            continue
        value = to_python(value_node)
        options = [value] if isinstance(value, str) else value
        raw[name] = ("|".join(f"(?:{o})" for o in options), value_node)
    terms = {name: source for name, (source, _node) in raw.items()}
    for name, (source, value_node) in raw.items():
        try:
            compile_source(to_normalised_spelling(expand_terms(source, terms)))
        except PatternError as exc:
            problems.append(problem(str(path), value_node, f"term {name!r}: {exc}"))
    return terms


def _read_lexicon(path: Path, problems: list[Problem]) -> Lexicon:
    if not path.exists():
        return Lexicon()
    node, errors = compose_file(path)
    problems.extend(errors)
    if node is None:
        return Lexicon()
    schema_problems = validate(node, NORMALISE_SCHEMA, str(path))
    problems.extend(schema_problems)
    if schema_problems:
        return Lexicon()
    data = to_python(node)
    words = {str(k): tuple(str(v).lower() for v in vs) for k, vs in data["words"].items()}
    seen: dict[str, str] = {}
    words_node = node_field(node, "words")
    for canonical, _key_node, variants_node in mapping_items(words_node):
        for item in sequence(variants_node):
            variant = collapse(str(scalar(item)).lower())
            target = collapse(canonical)
            if seen.get(variant, target) != target:
                reason = f"{scalar(item)!r} is mapped to both {seen[variant]!r} and {target!r}"
                problems.append(problem(str(path), item, reason))
            seen[variant] = target
    return Lexicon(
        emoji={str(k): str(v) for k, v in data["emoji"].items()},
        confusables={str(k): str(v) for k, v in data.get("confusables", {}).items()},
        leet={str(k): str(v) for k, v in data["leet"].items()},
        apostrophe_words={str(k): str(v) for k, v in data.get("apostrophe_words", {}).items()},
        protect={str(k): str(v) for k, v in data.get("protect", {}).items()},
        words=words,
        fillers=tuple(str(f) for f in data.get("fillers", [])),
        last_words={str(k): str(v) for k, v in data.get("last_words", {}).items()},
        censored=tuple(str(c) for c in data.get("censored", [])),
    )


class _RuleBuilder:
    def __init__(self, terms: dict[str, str], normaliser: Normaliser, cache: PatternCache) -> None:
        self.terms = terms
        self.normaliser = normaliser
        self.cache = cache
        self.rules: list[Rule] = []
        self.combinations: list[Combination] = []
        self.problems: list[Problem] = []
        self.late_problems: list[Problem] = []
        self._ids: dict[str, str] = {}
        self._combo_nodes: list[tuple[str, Combination, Node]] = []

    def read_file(self, path: Path) -> None:
        name = str(path)
        node, errors = compose_file(path)
        self.problems.extend(errors)
        if node is None:
            return
        schema_problems = validate(node, RULE_FILE_SCHEMA, name)
        self.problems.extend(schema_problems)
        if schema_problems:
            return
        category_node = node_field(node, "category")
        assert category_node is not None
        if scalar(category_node) != path.stem:
            reason = f"category {scalar(category_node)!r} does not match the file name"
            self.problems.append(problem(name, category_node, reason))
            return
        for rule_node in sequence(node_field(node, "rules")):
            self._read_rule(name, path.stem, rule_node)
        for combo_node in sequence(node_field(node, "combinations")):
            self._read_combination(name, path.stem, combo_node)

    def _claim_id(self, name: str, node: Node, category: str, value: dict) -> bool:
        rule_id = value["id"]
        ok = True
        if value["category"] != category:
            where_node = node_field(node, "category") or node
            reason = f"{rule_id}: category {value['category']!r} but the file is {category!r}"
            self.problems.append(problem(name, where_node, reason))
            ok = False
        if not rule_id.startswith(category + "."):
            where_node = node_field(node, "id") or node
            reason = f"id {rule_id!r} must start with {category + '.'!r}"
            self.problems.append(problem(name, where_node, reason))
            ok = False
        if rule_id in self._ids:
            where_node = node_field(node, "id") or node
            reason = f"id {rule_id!r} is already used at {self._ids[rule_id]}"
            self.problems.append(problem(name, where_node, reason))
            ok = False
        line, _col = where(node)
        self._ids[rule_id] = f"{name}:{line}"
        return ok

    def _sources(
        self, name: str, rule_id: str, node: Node | None, what: str
    ) -> list[tuple[Derived, re.Pattern[str] | None]]:
        """Patterns rewritten into normalised spelling and compiled (each as whole words),
        with their anchors and guards when ``what`` is "pattern"; mistakes reported at their
        line. Exceptions and requires_any items are only compiled when first worked out (to
        report mistakes): the rule compiles them joined."""
        sources: list[tuple[Derived, re.Pattern[str] | None]] = []
        analyse_too = what == "pattern"
        for item in sequence(node):
            text = str(scalar(item))
            derived = self.cache.get(what, text)
            if derived is not None:
                sources.append((derived, compile_source(derived.source) if analyse_too else None))
                continue
            try:
                source = literal_groups_as_tries(
                    self.normaliser.rewrite_pattern(
                        to_normalised_spelling(expand_terms(text, self.terms))
                    )
                )
                if not source.isascii():
                    raise PatternError(
                        "has characters that never reach the rules (emoji and accents are"
                        " normalised first: write the word, e.g. 'pills' for the pill emoji)"
                    )
                wrapped = whole_words([source])
                parsed, compiled = parse_and_compile(wrapped)
            except PatternError as exc:
                self.problems.append(problem(name, item, f"{rule_id}: {what} {text!r}: {exc}"))
                continue
            if analyse_too:
                found, guards = analyse(parsed)
                derived = Derived(wrapped, found, guards)
            else:
                derived = Derived(wrapped)
            self.cache.put(what, text, derived)
            sources.append((derived, compiled))
        return sources

    def _read_rule(self, name: str, category: str, node: Node) -> None:
        value = to_python(node)
        if not self._claim_id(name, node, category, value):
            return
        rule_id = value["id"]
        before = len(self.problems)
        patterns = self._sources(name, rule_id, node_field(node, "patterns"), "pattern")
        exceptions = self._sources(name, rule_id, node_field(node, "exceptions"), "exception")
        requires = self._sources(
            name, rule_id, node_field(node, "requires_any"), "requires_any pattern"
        )
        if len(self.problems) > before or not patterns:
            return
        requires_source = _join(d.source for d, _ in requires) if requires else None
        requires_anchors = anchors(requires_source) if requires_source else None
        line, _col = where(node)
        self.rules.append(
            Rule(
                id=rule_id,
                category=category,
                severity=value["severity"],
                rationale=value["rationale"].strip(),
                patterns=tuple(value["patterns"]),
                exceptions=tuple(value.get("exceptions", ())),
                requires_any=tuple(value.get("requires_any", ())),
                signal=value.get("signal"),
                tags=tuple(value.get("tags", ())),
                examples_match=tuple(value["examples"]["match"]),
                examples_no_match=tuple(value["examples"]["no_match"]),
                source=f"{name}:{line}",
                pattern_sources=tuple(d.source for d, _ in patterns),
                pattern_regexes=tuple(compiled for _, compiled in patterns if compiled),
                pattern_anchors=tuple(_better(d.anchors, requires_anchors) for d, _ in patterns),
                pattern_guards=tuple(d.guards for d, _ in patterns),
                exception_regex=(
                    compile_source(_join(d.source for d, _ in exceptions)) if exceptions else None
                ),
                requires_regex=compile_source(requires_source) if requires_source else None,
            )
        )

    def _read_combination(self, name: str, category: str, node: Node) -> None:
        value = to_python(node)
        if not self._claim_id(name, node, category, value):
            return
        line, _col = where(node)
        combo = Combination(
            id=value["id"],
            category=category,
            severity=value["severity"],
            rationale=value["rationale"].strip(),
            signals=tuple(value["signals"]),
            min_signals=value["min_signals"],
            window=value["window"],
            examples_match=tuple(tuple(c) for c in value["examples"]["match"]),
            examples_no_match=tuple(tuple(c) for c in value["examples"]["no_match"]),
            source=f"{name}:{line}",
        )
        if combo.min_signals > len(combo.signals):
            reason = f"{combo.id}: min_signals is more than the number of signals"
            self.problems.append(problem(name, node_field(node, "min_signals") or node, reason))
            return
        self._combo_nodes.append((name, combo, node))
        self.combinations.append(combo)

    def check_signals(self) -> None:
        known = {r.signal for r in self.rules if r.signal}
        for name, combo, node in self._combo_nodes:
            for signal_node in sequence(node_field(node, "signals")):
                signal = scalar(signal_node)
                if signal not in known:
                    reason = f"{combo.id}: no rule gives the signal {signal!r}"
                    self.late_problems.append(problem(name, signal_node, reason))


def _join(wrapped: Iterable[str]) -> str:
    """Several whole-word patterns as one regex."""
    return "|".join(f"(?:{w})" for w in wrapped)


def _better(
    own: frozenset[Anchor] | None, other: frozenset[Anchor] | None
) -> frozenset[Anchor] | None:
    """A pattern's anchors, or its rule's requires_any anchors when better (both must match)."""
    if own is None or (other is not None and anchor_score(other) > anchor_score(own)):
        return other
    return own
