"""The category mapping: dev referrals' expected categories, own words verbatim, lookups in sync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from actions.categories import KINDS, LOOKUPS_FILE, OTHER, load_tables, lookups_yaml, parse_tables
from tests.support.evaldata import load_jsonl

pytestmark = [pytest.mark.unit, pytest.mark.rasa]

DEV = [case for case in load_jsonl("referrals_dev.jsonl") if case["expect"].get("referral", 1)]


@pytest.mark.parametrize("kind", KINDS)
def test_recall_on_the_development_referrals_is_at_least_90_percent(kind: str) -> None:
    table = load_tables()[kind]
    expected = found = 0
    for case in DEV:
        answer = case["answers"].get(kind)
        if not answer or kind not in case["expect"]:
            continue
        matched = set(table.match(answer))
        expected += len(case["expect"][kind])
        found += len(set(case["expect"][kind]) & matched)
    assert expected > 0
    assert found / expected >= 0.9, (kind, found, expected)


def test_every_matched_category_keeps_the_whole_answer_verbatim() -> None:
    answer = "i like drawing anime and playing guitar 🎸"
    tagged = load_tables()["interests"].tag(answer)
    assert {t.category for t in tagged} == {"arts_crafts", "music"}
    assert all(t.own_words == answer for t in tagged)


@pytest.mark.parametrize("kind", KINDS)
def test_unmatched_words_are_other(kind: str) -> None:
    assert load_tables()[kind].match("qwzx blorp") == (OTHER[kind],)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("soooo stressed rn", "anxiety_stress"),  # stretched letters
        ("I'm being BULLIED", "bullying"),
        ("lost my mum last year", "bereavement"),
        ("my parents r getting divorced", "family"),
        ("i can't sleep", "sleep"),
        ("we're broke", "money_housing"),
    ],
)
def test_young_peoples_spelling_still_matches(text: str, category: str) -> None:
    assert category in load_tables()["concerns"].match(text)


def test_breaking_up_is_not_money_trouble() -> None:
    matched = load_tables()["concerns"].match("my girlfriend broke up with me")
    assert "friendships_relationships" in matched
    assert "money_housing" not in matched


def test_slugs_are_the_taxonomy_slugs() -> None:
    from tests.support.evaldata import eval_dir

    taxonomy = yaml.safe_load((eval_dir().parent / "taxonomy.yml").read_text(encoding="utf-8"))
    for kind in KINDS:
        assert [c.slug for c in load_tables()[kind].categories] == list(taxonomy[kind])


def test_a_word_belongs_to_one_category_of_its_kind() -> None:
    for kind in KINDS:
        seen: dict[str, str] = {}
        for category in load_tables()[kind].categories:
            for word in (*category.words, *category.setting_words):
                assert word not in seen, (kind, word, seen.get(word), category.slug)
                seen[word] = category.slug


def test_setting_words_tag_only_when_nothing_else_is_found() -> None:
    data = {
        "concerns": {
            "bullying": {"words": ["mean to me"]},
            "school_college_work": {
                "words": ["exams"],
                "patterns": [r"\bmissing loads of school\b"],
                "setting_words": ["school"],
                "setting_patterns": [r"\bin class\b"],
            },
            "other_concern": {},
        },
        "interests": {"music": {"words": ["drums"]}},
    }
    concerns = parse_tables(data)["concerns"]
    assert concerns.match("people at school are mean to me") == ("bullying",)
    assert concerns.match("people are mean to me in class") == ("bullying",)
    assert concerns.match("school") == ("school_college_work",)
    assert concerns.match("exams at school and people are mean to me") == (
        "bullying",
        "school_college_work",
    )
    assert concerns.match("missing loads of school cos theyre mean to me") == (
        "bullying",
        "school_college_work",
    )
    assert concerns.match("nothing really") == ("other_concern",)
    # Setting words are written to the NLU lookup tables like any other word.
    assert "    - school" in lookups_yaml(parse_tables(data))


def test_nlu_lookup_tables_are_written_from_the_category_data() -> None:
    assert LOOKUPS_FILE.read_text(encoding="utf-8") == lookups_yaml(load_tables()), (
        "run `python -m actions.categories` after editing actions/categories.yml"
    )


def test_tables_parse_from_plain_data() -> None:
    data = {
        "concerns": {"sleep": {"say": "sleep", "words": ["tired"]}, "other_concern": {}},
        "interests": {"music": {"words": ["drums"], "patterns": [r"\bbeat ?box"]}},
    }
    tables = parse_tables(data)
    assert tables["concerns"].match("so tired") == ("sleep",)
    assert tables["interests"].match("i beatbox") == ("music",)
    assert tables["concerns"].say(["sleep", "other_concern"]) == ["sleep"]


def test_patterns_share_terms_and_an_unknown_term_is_refused() -> None:
    data: dict[str, Any] = {
        "terms": {"pet": "(dog|cat)s?"},
        "concerns": {"bereavement": {"patterns": [r"\bmy {pet} died\b"]}, "other_concern": {}},
        "interests": {"animals": {"patterns": [r"\b{pet}( [a-z]+){0,2} walking\b"]}},
    }
    tables = parse_tables(data)
    assert tables["concerns"].match("my cat died") == ("bereavement",)
    assert tables["interests"].match("dogs and dog walking") == ("animals",)
    data["concerns"]["bereavement"]["patterns"] = [r"\bmy {pets} died\b"]
    with pytest.raises(ValueError, match="unknown term"):
        parse_tables(data)


def test_ignored_phrases_are_blanked_before_the_words_are_looked_for() -> None:
    data: dict[str, Any] = {
        "ignore": {"interests": [r"\bused to like [a-z]+ but not anymore\b"]},
        "concerns": {
            "substance_use": {"words": ["drinking"], "ignore": [r"\bmums drinking\b"]},
            "family": {"words": ["mum"]},
            "other_concern": {},
        },
        "interests": {"sport_fitness": {"words": ["football"]}, "other_interest": {}},
    }
    tables = parse_tables(data)
    # Only for the category that ignores the phrase: the mum is still family.
    assert tables["concerns"].match("mums drinking again") == ("family",)
    assert tables["concerns"].match("mums drinking and im drinking too") == (
        "substance_use",
        "family",
    )
    # The kind's own ignore holds for all its categories.
    assert tables["interests"].match("used to like football but not anymore") == ("other_interest",)
    assert tables["interests"].match("football") == ("sport_fitness",)


def _cases(*names: str) -> dict[str, list[dict[str, Any]]]:
    cases: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for name in names:
        data = yaml.safe_load((Path(__file__).with_name("data") / name).read_text("utf-8"))
        for kind in KINDS:
            cases[kind] += data[kind]
    return cases


CASES = _cases("category_cases.yml", "category_cases_fresh.yml")


@pytest.mark.parametrize(
    ("kind", "case"),
    [(kind, case) for kind in KINDS for case in CASES[kind]],
    ids=lambda value: value["text"][:40] if isinstance(value, dict) else value,
)
def test_answers_as_young_people_write_them_get_exactly_their_categories(
    kind: str, case: dict[str, Any]
) -> None:
    assert set(load_tables()[kind].match(case["text"])) == set(case["expect"])
