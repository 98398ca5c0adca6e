"""The one text rule: line ends normalised, control characters and lone surrogates refused,
the same through the Pydantic types and through ``clean``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError

from expertloop import text
from expertloop.errors import ValidationFailed
from expertloop.text import CleanLine, CleanText

ALLOWED_CONTROLS = {"\t", "\n"}
# Every character at all, unpaired surrogates included (JSON "\ud800" can carry them).
ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=60)
LINE_ENDS = st.lists(
    st.sampled_from(["a", "b", "\r", "\n", "\r\n", "\t", "ع", " "]), max_size=40
).map("".join)


class Note(BaseModel):
    note: CleanText = Field(default="", max_length=10)
    title: CleanLine | None = Field(default=None, max_length=5)
    rubric: list[CleanText] = Field(default_factory=list)


def is_forbidden(char: str) -> bool:
    code = ord(char)
    if char in ALLOWED_CONTROLS:
        return False
    return code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF


@given(LINE_ENDS)
def test_normalising_is_idempotent_and_leaves_no_carriage_return(value: str) -> None:
    once = text.normalise_newlines(value)
    assert "\r" not in once
    assert text.normalise_newlines(once) == once
    # Every line end counts once: as many \n as there were \r\n, lone \r and lone \n.
    assert once.count("\n") == value.count("\n") + value.count("\r") - value.count("\r\n")


@given(ANY_TEXT)
def test_what_passes_holds_no_forbidden_character(value: str) -> None:
    try:
        cleaned = text.clean(value, field="Note")
    except ValidationFailed as exc:
        assert any(is_forbidden(c) for c in text.normalise_newlines(value))
        assert exc.message.startswith("Note contains ")
        return
    assert not any(is_forbidden(c) for c in cleaned)
    assert "\r" not in cleaned
    assert cleaned == text.normalise_newlines(value)


@given(ANY_TEXT)
def test_the_pydantic_type_and_the_function_agree(value: str) -> None:
    try:
        expected: str | None = text.clean(value, field="Note", max_length=10)
    except ValidationFailed:
        expected = None
    try:
        got: str | None = Note(note=value).note
    except ValidationError:
        got = None
    assert got == expected


def test_crlf_and_lone_cr_become_lf() -> None:
    assert Note(note="a\r\nb\rc").note == "a\nb\nc"
    assert Note(rubric=["one\r\ntwo"]).rubric == ["one\ntwo"]


def test_nul_is_refused_with_the_field_and_position() -> None:
    with pytest.raises(ValidationError) as info:
        Note(note="ab\x00")
    (err,) = info.value.errors()
    assert err["type"] == "control_character"
    assert err["msg"] == (
        "Note contains a control character (U+0000) at character 3; remove it and try again."
    )
    assert err["ctx"] == {"code_point": "U+0000", "position": 3}


def test_a_lone_surrogate_is_named_as_such() -> None:
    with pytest.raises(ValidationFailed) as info:
        text.clean("x\ud800", field="Prompt")
    assert info.value.message == (
        "Prompt contains an unpaired surrogate (U+D800) at character 2; remove it and try again."
    )


def test_tab_and_newline_pass_other_controls_do_not() -> None:
    assert text.clean("a\tb\nc", field="Note") == "a\tb\nc"
    for char in ("\x01", "\x0b", "\x0c", "\x1b", "\x7f"):
        with pytest.raises(ValidationFailed):
            text.clean(char, field="Note")


def test_the_length_limit_counts_the_normalised_text() -> None:
    # Ten characters once \r\n is one line end: within the limit.
    assert Note(note="abcd\r\nefgh\r\n").note == "abcd\nefgh\n"
    assert text.clean("ab\r\ncd", field="Title", max_length=5) == "ab\ncd"
    with pytest.raises(ValidationFailed) as info:
        text.clean("x" * 5321, field="Note", max_length=5000)
    assert info.value.message == "Note is too long: 5,321 characters, at most 5,000."
    assert info.value.details == {"field": "Note", "length": 5321, "max_length": 5000}


def test_one_line_fields_refuse_a_line_break() -> None:
    with pytest.raises(ValidationError) as info:
        Note(title="a\r\nb")
    assert info.value.errors()[0]["type"] == "line_break"
    with pytest.raises(ValidationFailed) as failed:
        text.clean("a\nb", field="Title", one_line=True)
    assert failed.value.message == "Title must be a single line; remove the line break."
    assert Note(title=None).title is None


def test_values_that_are_not_text_are_left_to_the_str_schema() -> None:
    with pytest.raises(ValidationError) as info:
        Note(note=3)  # type: ignore[arg-type]
    assert info.value.errors()[0]["type"] == "string_type"


def test_field_labels_read_as_words() -> None:
    assert text.field_label("review_comment") == "Review comment"
    assert text.field_label("draft_prompt") == "Prompt"
    assert text.field_label("note") == "Note"
