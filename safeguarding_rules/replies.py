"""Crisis and HELP replies as data (replies.yml), filled in from contacts.yml."""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from safeguarding_rules.categories import AGE_BANDS, CATEGORIES, MAX_SEVERITY, UNDER_18_BANDS
from safeguarding_rules.contacts import Contact
from safeguarding_rules.errors import Problem
from safeguarding_rules.schema import REPLIES_SCHEMA
from safeguarding_rules.verdict import Verdict
from safeguarding_rules.yamldoc import Node, compose_file, field, mapping_items, scalar, validate

# Sent if the reply data cannot give an answer: a crisis reply must never be missing.
FALLBACK_REPLY = (
    "If you're in danger now, call 999. Childline: 0800 1111 (free, 24/7). "
    "Samaritans: 116 123. Or text SHOUT to 85258. I've let our team know."
)

IMAGE_ABUSE = "image_abuse"
GENERAL = "general"
KINDS: tuple[str, ...] = (*CATEGORIES, IMAGE_ABUSE, GENERAL)
URGENCIES: tuple[str, ...] = ("default", "now")
UNDER_18 = "under_18"
ANY = "any"


def default_replies_path() -> Path:
    """replies.yml shipped with the package."""
    return Path(__file__).resolve().parent / "replies.yml"


def band_keys(age_band: str) -> tuple[str, ...]:
    """Keys tried in order for an age band (an unknown band is read as "unknown")."""
    band = age_band if age_band in AGE_BANDS else "unknown"
    if band in UNDER_18_BANDS:
        return (band, UNDER_18, ANY)
    return (band, ANY)


@dataclass(frozen=True)
class Template:
    """One reply text as written, with where it is in replies.yml."""

    text: str
    line: int


@dataclass(frozen=True)
class ReplyBook:
    """All reply texts and the contacts they mention."""

    max_length: int
    replies: Mapping[str, Mapping[str, Mapping[str, Template]]]
    help: Mapping[str, Template]
    contacts: Mapping[str, Contact]
    source: str = "replies.yml"

    def template(self, kind: str, urgency: str, age_band: str) -> Template | None:
        """The template used for this kind, urgency and age band, if any."""
        texts = self.replies.get(kind, {}).get(urgency, {})
        return _pick(texts, age_band)

    def help_template(self, age_band: str) -> Template | None:
        """The HELP template for an age band."""
        return _pick(self.help, age_band)

    def render(self, template: Template) -> str:
        """Fill {contact} placeholders from contacts.yml."""
        return template.text.format_map({k: c.reply for k, c in self.contacts.items()})

    def crisis(self, verdict: Verdict, age_band: str, tags: Iterable[str] = ()) -> str:
        """The crisis reply for a verdict (see :func:`reply_kind`)."""
        kind = reply_kind(verdict, tags)
        urgency = "now" if verdict.severity >= MAX_SEVERITY else "default"
        template = self.template(kind, urgency, age_band) or self.template(
            GENERAL, urgency, age_band
        )
        if template is None:
            raise LookupError(f"no {urgency} reply for {kind} / {age_band}")
        return self.render(template)

    def help_text(self, age_band: str) -> str:
        """Urgent-help numbers for the HELP command."""
        template = self.help_template(age_band)
        if template is None:
            raise LookupError(f"no help reply for {age_band}")
        return self.render(template)


def reply_kind(verdict: Verdict, tags: Iterable[str] = ()) -> str:
    """Which reply a verdict gets: its most severe category, image abuse for sexual abuse
    involving images, or the general reply."""
    if not verdict.categories:
        return GENERAL
    primary = verdict.categories[0]
    if primary == "sexual_abuse" and IMAGE_ABUSE in set(tags):
        return IMAGE_ABUSE
    return primary if primary in KINDS else GENERAL


def _pick(texts: Mapping[str, Template], age_band: str) -> Template | None:
    for key in band_keys(age_band):
        if key in texts:
            return texts[key]
    return None


def read_replies(
    path: Path, contacts: Mapping[str, Contact]
) -> tuple[ReplyBook | None, list[Problem]]:
    """Read replies.yml (schema only; :func:`check_replies` checks content and policy)."""
    node, problems = compose_file(path)
    if node is None:
        return None, problems
    problems = validate(node, REPLIES_SCHEMA, str(path))
    if problems:
        return None, problems
    replies: dict[str, dict[str, dict[str, Template]]] = {}
    for kind, _k, kind_node in mapping_items(field(node, "replies")):
        replies[kind] = {
            urgency: _templates(node_) for urgency, _u, node_ in mapping_items(kind_node)
        }
    help_node = field(node, "help")
    max_node = field(node, "max_length")
    book = ReplyBook(
        max_length=int(scalar(max_node)) if max_node is not None else 320,
        replies=replies,
        help=_templates(help_node) if help_node is not None else {},
        contacts=dict(contacts),
        source=str(path),
    )
    return book, []


def _templates(node: Node | None) -> dict[str, Template]:
    return {
        band: Template(str(scalar(value)), value.start_mark.line + 1)
        for band, _key, value in mapping_items(node)
    }


def check_replies(book: ReplyBook) -> list[Problem]:
    """Every reply renders, fits, and follows the order rules, for every age band."""
    problems: list[Problem] = []
    seen: set[int] = set()

    def report(template: Template, reason: str) -> None:
        problems.append(Problem(book.source, template.line, 1, reason))

    for kind in KINDS:
        for urgency in URGENCIES:
            for band in AGE_BANDS:
                where = f"{kind}/{urgency} for age band {band}"
                template = book.template(kind, urgency, band)
                if template is None:
                    problems.append(Problem(book.source, 1, 1, f"no reply for {where}"))
                    continue
                for reason in _check_one(book, template, kind, urgency, band):
                    key = hash((template.line, reason))
                    if key not in seen:
                        seen.add(key)
                        report(template, f"{where}: {reason}")
    for band in AGE_BANDS:
        template = book.help_template(band)
        if template is None:
            problems.append(Problem(book.source, 1, 1, f"no help reply for age band {band}"))
            continue
        for reason in _check_one(book, template, "help", "now", band):
            key = hash((template.line, reason))
            if key not in seen:
                seen.add(key)
                report(template, f"help for age band {band}: {reason}")
    return problems


def _check_one(
    book: ReplyBook, template: Template, kind: str, urgency: str, band: str
) -> list[str]:
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template.text) if f is not None]
    except ValueError as exc:
        return [f"cannot be read: {exc}"]
    unknown = [n for n in names if n not in book.contacts]
    if unknown:
        return [f"unknown contact(s) {', '.join(repr(n) for n in unknown)}"]
    reasons = []
    text = book.render(template)
    if len(text) > book.max_length:
        reasons.append(f"is {len(text)} characters; the limit is {book.max_length}")
    first = names[0] if names else None
    if urgency == "now" and first != "emergency":
        reasons.append("must give 999 ({emergency}) first")
    elif urgency == "default" and band in UNDER_18_BANDS and first != "childline":
        reasons.append("must give Childline ({childline}) first for under-18s")
    if band == "unknown" and kind != "help" and "childline" not in names and urgency == "default":
        reasons.append("must mention Childline ({childline}) when the age is unknown")
    if kind == IMAGE_ABUSE and band in (*UNDER_18_BANDS, "unknown"):
        for needed in ("ceop", "report_remove"):
            if needed not in names:
                reasons.append(f"must mention {{{needed}}} for image abuse")
    if kind == "criminal_exploitation" and "fearless" not in names:
        reasons.append("must mention Fearless ({fearless}) for exploitation")
    return reasons
