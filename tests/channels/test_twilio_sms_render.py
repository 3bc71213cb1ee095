"""SMS rendering: GSM-7 / UCS-2 segments, numbered options, splitting at sentence ends."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.messages import BotMessage, Button
from channels.sms_render import (
    GSM7,
    UCS2,
    Segments,
    encoding_of,
    fits_chars,
    fits_segments,
    options_text,
    plain_typography,
    render_texts,
    resolve_option,
    segments,
    split_text,
)

pytestmark = pytest.mark.unit

YES_NO = (Button("Yes", "/affirm"), Button("No", "/deny"))


@pytest.mark.parametrize(
    ("text", "encoding", "units", "count"),
    [
        ("", GSM7, 0, 0),
        ("a" * 160, GSM7, 160, 1),
        ("a" * 161, GSM7, 161, 2),
        ("a" * 306, GSM7, 306, 2),  # 2 x 153
        ("a" * 307, GSM7, 307, 3),
        # Extension characters take two septets each.
        ("€" * 80, GSM7, 160, 1),
        ("€" * 81, GSM7, 162, 2),
        ("{}" * 40 + "a", GSM7, 161, 2),
        # ...and are never split across segments: 152 + 2 would straddle the boundary.
        ("a" * 152 + "€" + "a" * 10, GSM7, 164, 2),
        ("a" * 152 + "€" + "a" * 152, GSM7, 306, 3),
        # Any character outside GSM-7 makes the whole message UCS-2.
        ("a" * 69 + "é", GSM7, 70, 1),  # é is GSM-7
        ("a" * 69 + "ł", UCS2, 70, 1),
        ("a" * 70 + "ł", UCS2, 71, 2),
        ("a" * 134, GSM7, 134, 1),
        ("a" * 133 + "😀", UCS2, 135, 3),  # 67 + 66: the emoji's two units go on together
        ("😀" * 35, UCS2, 70, 1),
        ("😀" * 36, UCS2, 72, 2),
        ("a" + "😀" * 33, UCS2, 67, 1),
        ("a" + "😀" * 34, UCS2, 69, 1),
        ("a" + "😀" * 35, UCS2, 71, 2),  # 1 + 33 emoji = 67; then 2 more emoji
        ("😀" * 67, UCS2, 134, 3),  # 33 emoji (66 units) a segment: a pair is never split
    ],
)
def test_segments_known_answers(text: str, encoding: str, units: int, count: int) -> None:
    assert segments(text) == Segments(encoding, units, count)


def test_the_gsm7_tables() -> None:
    assert encoding_of("Hello @£$¥ èéùìò ÇØøÅå Δ_ΦΓΛΩΠΨΣΘΞ ÆæßÉ ¤ ¡¿ ÄÖÑÜ§ äöñüà") == GSM7
    assert encoding_of("^{}\\[~]|€\f") == GSM7
    for outside in ("`", "\t", "á", "ç", "ł", "—", "’", "😀", "中"):
        assert encoding_of(f"plain {outside}") == UCS2, outside


def test_typography_is_made_plain_but_emoji_and_scripts_are_kept() -> None:
    assert plain_typography("“Don’t” — it’s fine… ok") == "\"Don't\" - it's fine... ok"
    assert encoding_of(plain_typography("I’m OK – thanks")) == GSM7
    assert plain_typography("🙂 ok") == "🙂 ok"
    assert plain_typography("Zażółć") == "Zażółć"


def test_options_are_numbered() -> None:
    assert options_text([(1, "Yes"), (2, "No")]) == "Reply 1 for Yes or 2 for No."
    assert options_text([(1, "Skip")]) == "Reply 1 for Skip."
    long = [(1, "School or college"), (2, "Family"), (3, "Friends"), (4, "Something else")]
    assert options_text(long) == (
        "Reply with a number:\n1 School or college\n2 Family\n3 Friends\n4 Something else"
    )


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1", "/affirm"),
        (" 2 ", "/deny"),
        ("2.", "/deny"),
        ("#1", "/affirm"),
        ("(2)", "/deny"),
        ("yes", "/affirm"),
        ("  NO ", "/deny"),
        ("3", "3"),  # out of range: an answer in its own right
        ("0", "0"),
        ("16", "16"),
        ("1 or 2", "1 or 2"),
        ("yes please", "yes please"),
    ],
)
def test_a_number_picks_the_offered_option(typed: str, expected: str) -> None:
    assert resolve_option(typed, YES_NO) == expected


def test_without_options_numbers_are_just_text() -> None:
    assert resolve_option("1", ()) == "1"


def test_a_short_reply_is_one_message_with_its_options() -> None:
    texts = render_texts(
        [
            BotMessage("Thanks — that’s helpful."),
            BotMessage("Shall I carry on?", YES_NO, asking="continue"),
        ],
        fits_segments(3),
    )
    assert texts == ["Thanks - that's helpful.\n\nShall I carry on?\nReply 1 for Yes or 2 for No."]
    assert segments(texts[0]).encoding == GSM7


def test_numbering_runs_across_the_batch_like_the_offered_buttons() -> None:
    messages = [
        BotMessage("First?", (Button("A", "/a"), Button("B", "/b"))),
        BotMessage("Second?", (Button("B again", "/b"), Button("C", "/c"))),
    ]
    (text,) = render_texts(messages, fits_segments(3))
    assert "Reply 1 for A or 2 for B." in text
    assert "Reply 3 for C." in text
    offered = (Button("A", "/a"), Button("B", "/b"), Button("C", "/c"))
    assert [resolve_option(n, offered) for n in ("1", "2", "3")] == ["/a", "/b", "/c"]


def test_a_long_reply_is_split_at_sentence_ends_within_the_budget() -> None:
    sentences = [f"This is sentence number {n} of a long reply." for n in range(1, 25)]
    text = " ".join(sentences)
    parts = render_texts([BotMessage(text, YES_NO)], fits_segments(3))
    assert len(parts) >= 2
    for part in parts:
        assert segments(part).count <= 3
    for part in parts[:-1]:
        assert part.endswith(".")
    assert parts[-1].endswith("Reply 1 for Yes or 2 for No.")
    assert " ".join(p.replace("\nReply 1 for Yes or 2 for No.", "") for p in parts) == text


def test_an_emoji_reply_is_split_by_ucs2_segments() -> None:
    text = " ".join(["You did really well today 🙂."] * 12)
    parts = render_texts([BotMessage(text)], fits_segments(2))
    assert segments(text).count > 2
    assert len(parts) > 1
    for part in parts:
        assert segments(part).encoding == UCS2 and segments(part).count <= 2
        assert part.endswith("🙂.")  # cut between sentences, never inside the emoji
    assert " ".join(parts) == text


def test_one_huge_sentence_is_cut_at_words_and_a_huge_word_at_letters() -> None:
    text = "word " * 200 + "x" * 500
    parts = split_text(text.strip(), fits_segments(1))
    assert all(segments(p).count == 1 for p in parts)
    assert "".join(p.replace(" ", "") for p in parts) == text.replace(" ", "")


def test_options_too_long_to_share_a_message_are_split_too() -> None:
    buttons = tuple(Button(f"Option number {n} with a long title", f"/o{n}") for n in range(12))
    parts = render_texts([BotMessage("Which?", buttons)], fits_segments(1))
    assert all(segments(p).count == 1 for p in parts)
    joined = "\n".join(parts)
    assert "1 Option number 0" in joined and "12 Option number 11" in joined


def test_whatsapp_limit_is_characters() -> None:
    text = " ".join(["A sentence that is forty characters long."] * 60)
    parts = render_texts([BotMessage(text)], fits_chars(1600), gsm_friendly=False)
    assert all(len(p) <= 1600 for p in parts)
    assert len(parts) == 2


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("abc xyz.!?\n€{😀é—’")) | st.characters(), max_size=1200
    ),
    budget=st.integers(min_value=1, max_value=4),
    n_buttons=st.integers(min_value=0, max_value=5),
)
def test_every_part_fits_and_nothing_is_lost(text: str, budget: int, n_buttons: int) -> None:
    buttons = tuple(Button(f"Choice {i}", f"/c{i}") for i in range(n_buttons))
    parts = render_texts([BotMessage(text, buttons)], fits_segments(budget))
    for part in parts:
        assert 1 <= segments(part).count <= budget
    kept = "".join("".join(p.split()) for p in parts)
    for ch in "".join(plain_typography(text).split()):
        assert ch in kept
    if buttons:
        assert f"{n_buttons} for Choice {n_buttons - 1}" in "\n".join(parts) or (
            f"{n_buttons} Choice {n_buttons - 1}" in "\n".join(parts)
        )
