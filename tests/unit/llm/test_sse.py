"""SSEDecoder gives the same events however the byte stream is chunked."""

from __future__ import annotations

import itertools

from hypothesis import example, given, settings
from hypothesis import strategies as st

from expertloop.llm.sse import SSEDecoder

# Text of one data line: any characters but line breaks, including multi-byte UTF-8.
line_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=12,
) | st.sampled_from(["é", "🙂", "naïve 日本語", '{"a": "ü"}', " leading space", ""])


def encode(events: list[list[str]], eol: str, comments: bool) -> bytes:
    """Serialise events (each a list of data lines) as an SSE byte stream."""
    out = []
    for lines in events:
        if comments:
            out.append(f": keep-alive{eol}")
        out.extend(f"data: {line}{eol}" for line in lines)
        out.append(eol)
    return "".join(out).encode()


def decode(data: bytes, cuts: list[int]) -> list[str]:
    """Feed ``data`` split at ``cuts`` and return every event's data."""
    decoder = SSEDecoder()
    points = [0, *sorted({c % (len(data) + 1) for c in cuts}), len(data)]
    got: list[str] = []
    for a, b in itertools.pairwise(points):
        got.extend(decoder.feed(data[a:b]))
    got.extend(decoder.close())
    return got


def expected(events: list[list[str]]) -> list[str]:
    return ["\n".join(lines) for lines in events]


cuts_strategy = st.lists(st.integers(min_value=0, max_value=10_000), max_size=30)


@settings(max_examples=300, deadline=None, database=None)
@given(
    events=st.lists(st.lists(line_text, min_size=1, max_size=3), min_size=1, max_size=6),
    cuts=cuts_strategy,
    comments=st.booleans(),
)
def test_any_split_gives_the_same_events_lf(
    events: list[list[str]], cuts: list[int], comments: bool
) -> None:
    data = encode(events, "\n", comments)
    assert decode(data, cuts) == expected(events)
    assert decode(data, []) == expected(events)


@settings(max_examples=300, deadline=None, database=None)
@given(
    events=st.lists(st.lists(line_text, min_size=1, max_size=1), min_size=1, max_size=6),
    cuts=cuts_strategy,
    eol=st.sampled_from(["\r\n", "\r"]),
    comments=st.booleans(),
)
def test_any_split_gives_the_same_single_line_events_crlf_cr(
    events: list[list[str]], cuts: list[int], eol: str, comments: bool
) -> None:
    assert decode(encode(events, eol, comments), cuts) == expected(events)


@settings(max_examples=300, deadline=None, database=None)
@given(
    events=st.lists(st.lists(line_text, min_size=1, max_size=3), min_size=1, max_size=6),
    cuts=cuts_strategy,
    eol=st.sampled_from(["\n", "\r\n", "\r"]),
    comments=st.booleans(),
)
@example(events=[["a", "b"]], cuts=[len("data: a\r")], eol="\r\n", comments=False)
def test_any_split_gives_the_same_events_any_line_ending(
    events: list[list[str]], cuts: list[int], eol: str, comments: bool
) -> None:
    assert decode(encode(events, eol, comments), cuts) == expected(events)


def test_crlf_split_between_cr_and_lf_inside_a_multi_line_event() -> None:
    data = b"data: a\r\ndata: b\r\n\r\n"
    assert decode(data, []) == ["a\nb"]
    assert decode(data, [len(b"data: a\r")]) == ["a\nb"]  # fails: ["a", "b"]


def test_utf8_character_split_across_feeds() -> None:
    decoder = SSEDecoder()
    data = "data: 🙂é\n\n".encode()
    got: list[str] = []
    for i in range(len(data)):
        got.extend(decoder.feed(data[i : i + 1]))
    assert got == ["🙂é"]


def test_fields_other_than_data_are_ignored() -> None:
    decoder = SSEDecoder()
    got = list(decoder.feed(b"event: delta\nid: 7\nretry: 100\ndata:x\n\n: c\n\ndata\n\n"))
    assert got == ["x", ""]


def test_last_event_without_blank_line_is_flushed_by_close() -> None:
    decoder = SSEDecoder()
    assert list(decoder.feed(b"data: one\n\ndata: two")) == ["one"]
    assert list(decoder.close()) == ["two"]
