"""Reading answers: yes/no, skip, age, name and pronouns, area, contact, parts, goals."""

from __future__ import annotations

import pytest

from actions import answers

pytestmark = [pytest.mark.unit, pytest.mark.rasa]


@pytest.mark.parametrize(
    "text",
    ["yes", "Yeah!", "yep", "ok", "k", "sure thing", "go on", "👍", "ye", "its safe", "It’s fine",
     "why not", "aight", "sound", "all good", "send it"],
)  # fmt: skip
def test_yes(text: str) -> None:
    assert answers.yes_no(text) is True


@pytest.mark.parametrize(
    "text",
    ["no", "nah", "Nope", "not really", "no its not safe", "👎", "absolutely not",
     "definitely not", "I'd rather not", "i don't think so", "it's not safe", "please dont"],
)  # fmt: skip
def test_no(text: str) -> None:
    assert answers.yes_no(text) is False


@pytest.mark.parametrize("text", ["not sure", "idk", "maybe", "what"])
def test_neither_yes_nor_no(text: str) -> None:
    assert answers.yes_no(text) is None


@pytest.mark.parametrize(
    ("text", "watched"),
    [("my mum checks my phone", True), ("yes but my dad goes through my messages", True),
     ("my boyfriend always reads my texts", True), ("nobody checks my phone", False),
     ("i have my own phone", False), ("yes its safe", False), ("my phone is broken", False)],
)  # fmt: skip
def test_someone_else_reading_the_phone(text: str, watched: bool) -> None:
    assert answers.phone_watched(text) is watched


def test_button_payloads_use_the_intent() -> None:
    assert answers.yes_no("/affirm", "affirm") is True
    assert answers.yes_no("/deny", "deny") is False
    assert answers.is_skip("/skip", "skip")


@pytest.mark.parametrize(
    "text",
    ["skip", "SKIP", "skip it pls", "rather not say", "idk", "no", "-", "i'd rather not",
     "skp", "prefer not", "not now", "idc", "whatever", "dont mind", "up to you"],
)  # fmt: skip
def test_skip(text: str) -> None:
    assert answers.is_skip(text)


def test_an_answer_is_not_a_skip() -> None:
    assert not answers.is_skip("not having to skip meals")


@pytest.mark.parametrize(
    ("text", "age"),
    [("14", 14), ("im 15", 15), ("i'm 17 years old", 17), ("fifteen", 15), ("twenty one", 21),
     ("nearly 16", 15), ("19 next month", 18), ("9", 9), ("abc", None),
     ("15yo", 15), ("15 yrs", 15), ("im 17 nearly 18", 17), ("16 in june", 15),
     ("turning 16 next week", 15), ("almost sixteen", 15), ("14 and a half", 14),
     ("🙂 14", 14), ("I’m 14", 14), ("age: 18", 18),
     # A school year is not an age (year 10 is 14 or 15): asked again, never read as 10.
     ("im in year 10", None), ("yr 9", None), ("year 12, im 16", 16), ("born 2009", None)],
)  # fmt: skip
def test_age(text: str, age: int | None) -> None:
    assert answers.parse_age(text) == age


@pytest.mark.parametrize(
    ("age", "band"),
    [(5, "under_11"), (10, "under_11"), (11, "11_12"), (12, "11_12"), (13, "13_15"), (15, "13_15"),
     (16, "16_17"), (17, "16_17"), (18, "18_25"), (25, "18_25"), (26, "over_25")],
)  # fmt: skip
def test_age_bands(age: int, band: str) -> None:
    assert answers.age_band(age) == band


@pytest.mark.parametrize(
    ("text", "name", "pronouns"),
    [
        ("Jay", "Jay", None),
        ("Sam, they/them", "Sam", "they/them"),
        ("my name is Sam and I use they/them", "Sam", "they/them"),
        ("Mia (she/her)", "Mia", "she/her"),
        ("call me ash", "Ash", None),
        ("they/them", None, "they/them"),
        ("i live at 12 oak road", None, None),
    ],
)
def test_name_and_pronouns(text: str, name: str | None, pronouns: str | None) -> None:
    read = answers.read_name(text)
    assert (read.name, read.pronouns) == (name, pronouns)


@pytest.mark.parametrize(
    ("text", "area", "trimmed"),
    [
        ("LS7", "LS7", False),
        ("m14", "M14", False),
        ("Bradford", "Bradford", False),
        ("i live in leeds", "Leeds", False),
        ("LS7 3AB", "LS7", True),
        ("12 Oak Street, Leeds LS7 3AB", "LS7", True),
        ("12 Oak Street, Leeds", "Leeds", True),
        ("flat 3, 10 high st, hull", "Hull", True),
        ("12 oak street", None, True),
    ],
)
def test_area_never_keeps_a_full_address(text: str, area: str | None, trimmed: bool) -> None:
    read = answers.read_area(text)
    assert (read.area, read.trimmed) == (area, trimmed)


@pytest.mark.parametrize(
    ("text", "choice"),
    [("a phone call", "phone_call"), ("ring me", "phone_call"), ("no", "none"), ("skip", "none"),
     ("dont call me", "none"), ("email", None)],
)  # fmt: skip
def test_other_way_to_contact(text: str, choice: str | None) -> None:
    assert answers.read_contact_other(text) == choice


def test_other_way_from_the_button_entity() -> None:
    assert answers.read_contact_other('/inform{"contact_method": "none"}', "none") == "none"


@pytest.mark.parametrize(
    ("text", "part"),
    [("area", "area"), ("my name", "preferred_name"), ("what i enjoy", "interests"),
     ("the bit about whats going on", "concerns"), ("nothing", "none"), ("dont send it", "cancel"),
     ("how to contact me", "contact"), ("the times", "best_times"), ("hmm", None)],
)  # fmt: skip
def test_which_part_to_change(text: str, part: str | None) -> None:
    assert answers.read_part(text) == part


def test_up_to_three_goals_in_their_words() -> None:
    assert answers.read_goals("making friends and getting a job, also sleeping better, pizza") == [
        "making friends",
        "getting a job",
        "sleeping better",
    ]


@pytest.mark.parametrize(
    ("text", "name", "pronouns"),
    [("just call me J", "J", None), ("Jordan but everyone calls us JD", "JD", None),
     ("Leo, he/him, 14", "Leo", "he/him"), ("Kit (he/they)", "Kit", "he/they"),
     ("my mates call me Bex", "Bex", None), ("Mohammed but call me Mo", "Mo", None),
     ("its Jessica, call me Jess", "Jess", None)],
)  # fmt: skip
def test_names_as_fresh_answers_gave_them(text: str, name: str, pronouns: str | None) -> None:
    assert answers.read_name(text) == answers.NameAnswer(name, pronouns)


@pytest.mark.parametrize(
    "text",
    ["i guess", "i think so?", "ok i guess", "guess so", "umm ok", "erm yeah", "oh go on then",
     "wait whats a link worker 😅 ok yes", "is that like a social worker? if its not then yeah ok"],
)  # fmt: skip
def test_hesitant_yes(text: str) -> None:
    assert answers.yes_no(text) is True


def test_an_emoji_answer_is_not_a_skip() -> None:
    assert not answers.is_skip("👍") and answers.is_skip("-")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("only text not call", True), ("text only please", True), ("text is fine not calls", True),
     ("chat is better than calls but yes", True), ("no dont want calls", False),
     ("not this number its my mums", False), ("no, only text my mum", False)],
)  # fmt: skip
def test_contact_by_message_only_is_contact_here(text: str, expected: bool) -> None:
    assert answers.messages_only(text) is expected


@pytest.mark.parametrize(
    ("text", "area", "trimmed"),
    [("Sheffield S11", "Sheffield S11", False), ("bradford BD8", "Bradford BD8", False),
     ("42 Hollins Lane, Bolton BL3", "Bolton BL3", True),
     ("flat 3, 27 Marlowe Street, Leicester LE2", "Leicester LE2", True),
     ("27 Brackenfield Road, Wakefield WF2 9ZZ", "WF2", True)],
)  # fmt: skip
def test_a_town_with_its_postcode_district_keeps_both(text: str, area: str, trimmed: bool) -> None:
    assert answers.read_area(text) == answers.AreaAnswer(area, trimmed=trimmed)


@pytest.mark.parametrize("text", ["umm no", "erm nah", "hmm no thanks", "lol no"])
def test_hesitant_no(text: str) -> None:
    assert answers.yes_no(text) is False


@pytest.mark.parametrize("text", ["umm", "hmm", "erm"])
def test_a_hesitation_alone_is_neither(text: str) -> None:
    assert answers.yes_no(text) is None


@pytest.mark.parametrize(
    ("text", "ages"),
    [("year 9", (13, 14)), ("im in year 12", (16, 17)), ("yr 7", (11, 12)), ("S3", (13, 14)),
     ("15", None), ("im 15, year 10", None), ("year 1", None)],
)  # fmt: skip
def test_school_years_give_their_two_ages(text: str, ages: tuple[int, int] | None) -> None:
    assert answers.school_year_ages(text) == ages


@pytest.mark.parametrize(
    ("text", "area"),
    [("BD3 area", "BD3"), ("Leeds innit", "Leeds"), ("just Leeds", "Leeds"),
     ("14 Ashfield Road, Southall, UB1 3... wait you said not full address. just Southall",
      "Southall")],
)  # fmt: skip
def test_areas_as_fresh_answers_gave_them(text: str, area: str) -> None:
    assert answers.read_area(text).area == area


@pytest.mark.parametrize(
    "text", ["dont really want to say", "i dont want to share that", "id rather not say tbh"]
)
def test_not_wanting_to_say_is_a_skip(text: str) -> None:
    assert answers.is_skip(text)


@pytest.mark.parametrize(
    "text",
    [
        "grand",
        "Looks right, thank you",
        "go for it",
        "i dont really know what id say. but ok yeah",
        "what happens to what i say? ...ok yeah fine",
    ],
)
def test_yes_as_fresh_answers_gave_it(text: str) -> None:
    assert answers.yes_no(text) is True


def test_text_first_is_contact_by_message() -> None:
    assert answers.messages_only("text first please, i dont answer unknown numbers")


@pytest.mark.parametrize(
    ("text", "meant"),
    [("Who will be able to see what I write? I'm fine to go ahead either way, yes.", True),
     ("its my mums phone but she said its ok", True), ("fine by me", True),
     ("i dont know if thats ok", None), ("idk if its safe", None), ("its not ok", False),
     ("my mum reads it, no", False), ("yes that's fine full stop", True),
     ("hes at work now so yes till later", True), ("mhm", True),
     ("umm actually not really, my mum pays my phone bill and goes through it", False)],
)  # fmt: skip
def test_a_yes_or_no_said_last(text: str, meant: bool | None) -> None:
    assert answers.yes_no(text) is meant


@pytest.mark.parametrize(
    ("text", "name"),
    [("it's Callum C A L L U M", "Callum"), ("Leah L E A H", "Leah"), ("A J", "A J"),
     ("Priya is fine.", "Priya"), ("call me Alex. pronouns they/them if thats ok", "Alex")],
)
def test_a_name_spelt_out_after_it(text: str, name: str) -> None:
    assert answers.read_name(text).name == name


@pytest.mark.parametrize(
    ("slot", "text", "slots"),
    [("area", "Bradford, but i dont want to go home tonight. my step dad hits me",
      {"area": "Bradford"}),
     ("area", "my dad hits me", {}),
     ("contact_ok", "No, not really - this is my work phone and my manager can see the messages",
      {"contact_ok": False}),
     ("age", "14 and my dad hits me", {"age": 14, "age_band": "13_15"}),
     ("preferred_name", "Sam. my dad hits me", {})],
)  # fmt: skip
def test_what_a_disclosure_still_answers(slot: str, text: str, slots: dict[str, object]) -> None:
    assert answers.answer_within(slot, text) == slots


def test_a_phone_taken_away_at_night_still_reaches_them_before() -> None:
    assert answers.read_contact_ok("yes but my dad takes my phone at 9 so before then") is True
    assert answers.read_contact_ok("my dad takes my phone") is False
