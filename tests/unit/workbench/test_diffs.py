"""Word diffs: tokens join back, the operations rebuild both texts exactly, for any Unicode."""

from __future__ import annotations

import json
import unicodedata
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from expertloop.workbench import assess, diffs
from expertloop.workbench.models import IdealAnswer
from tests.unit.workbench.conftest import Bench
from tests.unit.workbench.strategies import PIECES, texts

# Any text, including what the Unicode-heavy strategy does not cover (e.g. NUL).
any_texts = st.one_of(texts, st.text())
# An edit of a text: the same pieces, some kept, some dropped, some added — diffs with overlap.
words = st.sampled_from([*PIECES, "the", "balance", "is", "1,204.50", "€", ".", " "])


@st.composite
def edited_pair(draw: st.DrawFn) -> tuple[str, str]:
    before = draw(st.lists(words, max_size=20))
    after = list(before)
    for _ in range(draw(st.integers(0, 6))):
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        if action == "insert" or not after:
            after.insert(draw(st.integers(0, len(after))), draw(words))
        elif action == "delete":
            del after[draw(st.integers(0, len(after) - 1))]
        else:
            after[draw(st.integers(0, len(after) - 1))] = draw(words)
    return "".join(before), "".join(after)


pairs = st.one_of(edited_pair(), st.tuples(any_texts, any_texts))


def _side(ops: list[diffs.Op], keep: str) -> str:
    return "".join(text for op, text in ops if op in ("=", keep))


@given(any_texts)
@example("")
@example("👩\u200d👩\u200d👧\u200d👦e\u0301\r\nمُحَمَّدٌ 漢字")
def test_tokens_join_back_to_the_text(text: str) -> None:
    parts = diffs.tokens(text)
    assert "".join(parts) == text
    assert all(parts)


def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


@given(any_texts)
@example("مُحَمَّدٌ رسول")
@example("a\u0301\u0301b")
def test_a_combining_mark_never_starts_a_token_after_a_word(text: str) -> None:
    parts = diffs.tokens(text)
    for previous, token in pairwise(parts):
        if _is_mark(token[0]):
            assert not (previous[-1].isalnum() or previous[-1] == "_" or _is_mark(previous[-1]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("مُحَمَّدٌ رسولُ", ["مُحَمَّدٌ", " ", "رسولُ"]),  # harakat
        ("नमस्ते दुनिया", ["नमस्ते", " ", "दुनिया"]),  # virama and vowel signs
        ("cafe\u0301, naïve", ["cafe\u0301", ",", " ", "naïve"]),  # decomposed / precomposed
        ("\u0301x", ["\u0301x"]),  # a stray mark at the start stays with its word
        ("❤\ufe0f!", ["❤", "\ufe0f", "!"]),  # a mark after a symbol is its own token
    ],
)
def test_words_keep_their_combining_marks(text: str, expected: list[str]) -> None:
    assert diffs.tokens(text) == expected


def test_arabic_words_with_harakat_diff_and_count_as_whole_words() -> None:
    ops = diffs.diff_words("كَتَبَ الطالبُ", "كَتَبَتْ الطالبةُ")
    assert ops == [
        ("-", "كَتَبَ"),
        ("+", "كَتَبَتْ"),
        ("=", " "),
        ("-", "الطالبُ"),
        ("+", "الطالبةُ"),
    ]
    assert diffs.stats(ops) == {"added": 2, "removed": 2}
    assert diffs.stats([("+", "नमस्ते दुनिया"), ("-", "cafe\u0301")]) == {"added": 2, "removed": 1}


@given(pairs)
@example(("", ""))
@example(("", "added"))
@example(("removed", ""))
@example(("The balance is 1,204.50 €.", "The opening balance is 1,240.50 €."))
@example(("مرحبا 👍🏽\r\n漢字", "مرحبا 👍🏿\n漢字"))
@example(("e\u0301", "é"))
def test_apply_rebuilds_after_and_the_parts_rebuild_both_sides(pair: tuple[str, str]) -> None:
    before, after = pair
    ops = diffs.diff_words(before, after)
    assert diffs.apply(before, ops) == after
    assert _side(ops, "-") == before
    assert _side(ops, "+") == after


@given(pairs)
def test_operations_are_well_formed_and_merged(pair: tuple[str, str]) -> None:
    before, after = pair
    ops = diffs.diff_words(before, after)
    assert all(op in ("=", "-", "+") and text for op, text in ops)
    assert all(a[0] != b[0] for a, b in pairwise(ops))


@given(pairs)
def test_the_diff_survives_a_json_round_trip(pair: tuple[str, str]) -> None:
    """The ideal answer stores its diff as JSON lists; they still rebuild the text exactly."""
    before, after = pair
    stored = json.loads(json.dumps([list(op) for op in diffs.diff_words(before, after)]))
    assert diffs.apply(before, stored) == after


@given(any_texts)
def test_a_text_against_itself_is_one_kept_part(text: str) -> None:
    assert diffs.diff_words(text, text) == ([("=", text)] if text else [])
    assert diffs.stats(diffs.diff_words(text, text)) == {"added": 0, "removed": 0}


def test_a_word_change_reads_like_track_changes() -> None:
    ops = diffs.diff_words("The balance is 1,204.50.", "The opening balance is 1,240.50.")
    assert ops == [
        ("=", "The"),
        ("+", " opening"),
        ("=", " balance is 1,"),
        ("-", "204"),
        ("+", "240"),
        ("=", ".50."),
    ]
    assert diffs.stats(ops) == {"added": 2, "removed": 1}


def test_a_diff_for_another_text_is_refused() -> None:
    ops = diffs.diff_words("one two", "one three")
    with pytest.raises(ValueError, match="does not fit"):
        diffs.apply("uno two", ops)
    with pytest.raises(ValueError, match="does not cover"):
        diffs.apply("one two and more", ops)


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=30, deadline=None
)
@given(pair=edited_pair())
def test_the_ideal_answer_diff_rebuilds_it_after_reload(
    bench: Bench,
    db: Session,
    session_factory: sessionmaker[Session],
    pair: tuple[str, str],
) -> None:
    model_answer, ideal = pair
    step = bench.add_step(title="Ideal")
    step_run = bench.run(model_answer)
    row = assess.save_ideal(
        session=db, loaded=bench.loaded, step=step, text=ideal, version=None, based_on=step_run
    )
    db.flush()
    with session_factory() as fresh:
        stored = fresh.scalars(select(IdealAnswer).where(IdealAnswer.id == row.id)).one()
        assert stored.text == ideal
        assert diffs.apply(model_answer, stored.diff) == ideal
