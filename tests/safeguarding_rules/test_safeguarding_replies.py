"""Crisis and HELP replies: short, in the right order, and checked like the rules."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from safeguarding_rules import AGE_BANDS, CATEGORIES, Verdict, crisis_reply, help_reply
from safeguarding_rules.categories import UNDER_18_BANDS
from safeguarding_rules.contacts import add_months, default_contacts_path, read_contacts
from safeguarding_rules.replies import check_replies, default_replies_path, read_replies

pytestmark = pytest.mark.unit

CHILDLINE = "0800 1111"
EMERGENCY = "999"


def verdict(category: str, severity: int, rule_ids: tuple[str, ...] = ()) -> Verdict:
    return Verdict(severity, (category,), rule_ids or (f"{category}.test",), "test")


@pytest.mark.parametrize("band", AGE_BANDS)
@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("severity", [4, 5])
def test_every_reply_is_sms_sized_and_ordered(category: str, band: str, severity: int) -> None:
    reply = crisis_reply(verdict(category, severity), band)
    assert 40 < len(reply) <= 320
    assert "{" not in reply and "}" not in reply
    if severity == 5:
        assert reply.index(EMERGENCY) < min(
            (reply.index(n) for n in (CHILDLINE, "116 123") if n in reply), default=len(reply)
        )
    elif band in UNDER_18_BANDS:
        assert CHILDLINE in reply
        first_number = min(
            reply.index(n)
            for n in (CHILDLINE, "116 123", "85258", "0808", "fearless", "999")
            if n in reply
        )
        assert reply.index(CHILDLINE) == first_number
    if category == "criminal_exploitation":
        assert "fearless.org" in reply


@pytest.mark.parametrize("band", ["11_12", "13_15", "16_17", "unknown"])
def test_image_abuse_gives_ceop_and_report_remove(ruleset: object, band: str) -> None:
    v = ruleset.screen("he is blackmailing me with my pictures")  # type: ignore[attr-defined]
    reply = crisis_reply(v, band)
    assert "ceop.police.uk" in reply and "childline.org.uk/remove" in reply
    assert reply.startswith("If you're in danger")  # severity 5: 999 first


def test_image_abuse_for_adults_gives_the_revenge_porn_helpline(ruleset: object) -> None:
    v = ruleset.screen("my ex shared my nudes")  # type: ignore[attr-defined]
    assert "0345 6000 459" in crisis_reply(v, "18_25")


def test_unknown_age_band_is_treated_as_unknown() -> None:
    assert crisis_reply(verdict("suicide", 4), "banana") == crisis_reply(
        verdict("suicide", 4), "unknown"
    )


def test_clear_verdict_gets_the_general_reply() -> None:
    assert CHILDLINE in crisis_reply(Verdict.clear("x"), "13_15")


@pytest.mark.parametrize("band", AGE_BANDS)
def test_help_reply(band: str) -> None:
    reply = help_reply(band)
    assert len(reply) <= 320 and reply.index(EMERGENCY) < 40
    if band in UNDER_18_BANDS:
        assert CHILDLINE in reply


def test_packaged_replies_pass_the_check() -> None:
    contacts, problems = read_contacts(default_contacts_path())
    book, more = read_replies(default_replies_path(), contacts)
    assert not problems and not more and book is not None
    assert check_replies(book) == []


def _broken_copy(tmp_path: Path, old: str, new: str) -> list[str]:
    path = tmp_path / "replies.yml"
    shutil.copy(default_replies_path(), path)
    path.write_text(path.read_text().replace(old, new, 1))
    contacts, _ = read_contacts(default_contacts_path())
    book, problems = read_replies(path, contacts)
    assert book is not None, problems
    return [str(p) for p in check_replies(book)]


def test_check_catches_a_reply_that_is_too_long(tmp_path: Path) -> None:
    found = _broken_copy(tmp_path, "Thank you for telling me.", "Thank you. " * 30)
    assert any("characters; the limit is 320" in f for f in found)


def test_check_catches_childline_not_first(tmp_path: Path) -> None:
    found = _broken_copy(
        tmp_path,
        "Talk to {childline}, or {shout}.",
        "Talk to {shout}, or {childline}.",
    )
    assert any("must give Childline ({childline}) first" in f for f in found)


def test_check_catches_an_unknown_contact(tmp_path: Path) -> None:
    found = _broken_copy(tmp_path, "{fearless}", "{fearles}")
    assert any("unknown contact(s) 'fearles'" in f for f in found)


def test_contacts_are_dated_and_age_is_computed_from_today() -> None:
    contacts, problems = read_contacts(default_contacts_path())
    assert not problems
    for key in (
        "emergency",
        "nhs_111",
        "childline",
        "shout",
        "samaritans",
        "papyrus",
        "ceop",
        "report_remove",
        "fearless",
        "the_mix",
    ):
        assert key in contacts
    childline = contacts["childline"]
    assert childline.last_checked == dt.date(2026, 11, 28)
    assert not childline.is_stale(dt.date(2027, 5, 28))
    assert childline.is_stale(dt.date(2027, 5, 29))


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(dt.date(2026, 8, 31), 6) == dt.date(2027, 2, 28)
    assert add_months(dt.date(2026, 11, 28), 6) == dt.date(2027, 5, 28)
