"""Seed file readers and record checks: line numbers, limits, refused characters, and the quick
path agreeing with the careful one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expertloop.datasets import import_checks
from expertloop.datasets.import_checks import to_seed
from expertloop.datasets.import_parsers import (
    MAX_COLUMNS,
    MAX_LINE_BYTES,
    RowError,
    compression_of,
    read_records,
    resolve_format,
    safe_filename,
)
from expertloop.datasets.imports import StagedUpload, UploadTooLarge, check_declared_size
from expertloop.errors import ValidationFailed


def records(path: Path, fmt: str) -> list[Any]:
    return list(read_records(path, fmt, max_bytes=1 << 30))


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_format_from_name_or_parameter() -> None:
    assert resolve_format("a/b/seeds.JSONL", None) == "jsonl"
    assert resolve_format("x.ndjson", None) == "jsonl"
    assert resolve_format("export.json", None) == "label_studio"
    assert resolve_format("t.parquet", None) == "parquet"
    assert resolve_format("whatever.bin", "Label-Studio") == "label_studio"
    with pytest.raises(ValidationFailed, match="jsonl, csv, parquet, label_studio"):
        resolve_format("seeds.txt", None)
    with pytest.raises(ValidationFailed, match="Unknown import format 'xml'"):
        resolve_format("seeds.csv", "xml")


def test_filenames_keep_only_their_last_part() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\x\\seeds.csv") == "seeds.csv"
    assert safe_filename("a\x00b.jsonl") == "ab.jsonl"
    assert len(safe_filename("x" * 1000)) == 255


def test_compression_is_recognised() -> None:
    assert compression_of(b"\x1f\x8b\x08") == "gzip"
    assert compression_of(b"PK\x03\x04") == "zip"
    assert compression_of(b"BZh91AY") == "bzip2"
    assert compression_of(b"\xfd7zXZ\x00") == "xz"
    assert compression_of(b"\x28\xb5\x2f\xfd") == "zstd"
    assert compression_of(b'{"title"') is None
    assert compression_of(b"PAR1") is None


def test_jsonl_lines_count_blank_ones_and_report_bad_ones(tmp_path: Path) -> None:
    data = b'\xef\xbb\xbf{"title": "a"}\n\n{"title": \n[1, 2]\n{"title": "b"}'
    got = records(write(tmp_path, "s.jsonl", data), "jsonl")
    assert got[0] == (1, {"title": "a"})
    assert isinstance(got[1], RowError) and got[1].line == 3 and "not valid JSON" in got[1].message
    assert got[2] == RowError(4, "", "Each line must be a JSON object ({...}).")
    assert got[3] == (5, {"title": "b"})


def test_jsonl_line_too_long_is_skipped_not_read_whole(tmp_path: Path) -> None:
    long = b'{"title": "' + b"x" * (MAX_LINE_BYTES * 2) + b'"}\n'
    got = records(write(tmp_path, "s.jsonl", long + b'{"title": "after"}\n'), "jsonl")
    assert isinstance(got[0], RowError) and got[0].line == 1 and "longer than" in got[0].message
    assert got[1] == (2, {"title": "after"})


def test_jsonl_invalid_utf8_is_an_error(tmp_path: Path) -> None:
    got = records(write(tmp_path, "s.jsonl", b'{"title": "\xff"}\n'), "jsonl")
    assert isinstance(got[0], RowError) and got[0].line == 1


def test_csv_line_numbers_are_physical(tmp_path: Path) -> None:
    data = (
        b'title,statement\r\n"One","multi\r\nline\r\nstatement"\r\n\r\nTwo,plain\r\n'
        b'"Three","broken\r\n'
    )
    got = records(write(tmp_path, "s.csv", data), "csv")
    assert got[0] == (2, {"title": "One", "statement": "multi\r\nline\r\nstatement"})
    assert got[1] == (6, {"title": "Two", "statement": "plain"})
    assert isinstance(got[2], RowError) and got[2].line == 7


def test_csv_header_rules(tmp_path: Path) -> None:
    (dup,) = records(write(tmp_path, "a.csv", b"title,title\nx,y\n"), "csv")
    assert isinstance(dup, RowError) and "twice" in dup.message
    wide = ",".join(f"c{i}" for i in range(MAX_COLUMNS + 1)).encode() + b"\n"
    (too_wide,) = records(write(tmp_path, "b.csv", wide), "csv")
    assert isinstance(too_wide, RowError) and "columns" in too_wide.message
    got = records(write(tmp_path, "c.csv", b"title\nx,extra\n"), "csv")
    assert isinstance(got[0], RowError) and got[0].line == 2


def test_parquet_must_be_parquet(tmp_path: Path) -> None:
    (bad,) = records(write(tmp_path, "x.parquet", b"PAR1 but not really"), "parquet")
    assert isinstance(bad, RowError) and "Parquet" in bad.message
    (other,) = records(write(tmp_path, "y.parquet", b"title\nx\n"), "parquet")
    assert isinstance(other, RowError) and "PAR1" in other.message


def test_parquet_that_unpacks_too_far_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.parquet"
    pq.write_table(pa.table({"title": ["x" * 10_000] * 2_000}), path, compression="zstd")
    got = list(read_records(path, "parquet", max_bytes=path.stat().st_size))
    assert len(got) == 1 and isinstance(got[0], RowError) and "unpacks" in got[0].message


def test_label_studio_needs_an_array_of_tasks(tmp_path: Path) -> None:
    (bad,) = records(write(tmp_path, "a.json", b'{"id": 1, "data": {}}'), "label_studio")
    assert isinstance(bad, RowError) and "array" in bad.message
    got = records(
        write(tmp_path, "b.json", b'[{"id": 1, "data": {"text": "t"}}, {"id": 2, '), "label_studio"
    )
    assert got[0] == (1, {"prompt": "t", "external_id": 1})
    assert isinstance(got[1], RowError) and got[1].line == 2


def test_label_studio_data_maps_to_seed_fields(tmp_path: Path) -> None:
    export = [
        {"id": 5, "data": {"prompt": "p", "text": "also here", "title": "T"}, "annotations": [1]},
        {"id": 6, "data": {"id": "own-id", "text": "x"}},
    ]
    got = records(write(tmp_path, "e.json", json.dumps(export).encode()), "label_studio")
    assert got[0] == (1, {"prompt": "p", "text": "also here", "title": "T", "external_id": 5})
    assert got[1] == (2, {"id": "own-id", "prompt": "x"})


def fields_of(result: tuple[dict[str, Any] | None, list[RowError]]) -> list[tuple[int, str]]:
    return [(e.line, e.field) for e in result[1]]


def test_seed_fields_and_defaults() -> None:
    seed, errors = to_seed(3, {"prompt": "  Draft the\n budget  ", "id": 42, "tag": ["a"]})
    assert errors == [] and seed is not None
    assert seed["title"] == "Draft the budget" and seed["prompts"] == ["  Draft the\n budget  "]
    assert seed["external_id"] == "42" and seed["extra"] == {"tag": ["a"]} and seed["line"] == 3


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, [(1, "title")]),
        ({"title": "x" * 301}, [(1, "title")]),
        ({"title": "t", "statement": 5}, [(1, "statement")]),
        ({"title": "t", "prompts": ["a"] * 51}, [(1, "prompts")]),
        ({"title": "t", "prompts": "not a list"}, [(1, "prompts")]),
        ({"title": "t", "prompts": ["ok", "  "]}, [(1, "prompts[2]")]),
        ({"title": "t", "prompt": "a", "prompts": ["b"]}, [(1, "prompts")]),
        ({"title": "t", "domain": "d" * 101}, [(1, "domain")]),
        ({"title": "t", "external_id": "e" * 201}, [(1, "external_id")]),
        ({"title": "t", "id": 1.5}, [(1, "id")]),
        ({"title": "t", "context": "bell\x07"}, [(1, "context")]),
        ({"title": "t", "note": "esc\x1b"}, [(1, "note")]),
        ({"title": "t", "prompt": "\ud800"}, [(1, "prompt")]),
        ({"title": "t", "score": float("nan")}, [(1, "score")]),
    ],
)
def test_seed_refusals_name_the_field(fields: dict[str, Any], expected: list[Any]) -> None:
    assert fields_of(to_seed(1, fields)) == expected


def test_control_character_message_says_which_and_where() -> None:
    _seed, (error,) = to_seed(7, {"title": "t", "statement": "ab\x00c"})
    assert error.message == (
        "Holds the control character U+0000 at position 3; only tab and newline are allowed."
    )


def test_crlf_and_cr_become_lf_tabs_stay() -> None:
    seed, _ = to_seed(1, {"title": "a\r\nb", "statement": "x\ry\r\nz\tw", "prompts": ["p\r\nq"]})
    assert seed is not None
    assert (seed["title"], seed["statement"], seed["prompts"]) == ("a\nb", "x\ny\nz\tw", ["p\nq"])


def test_csv_prompts_cell_is_a_json_list() -> None:
    seed, _ = to_seed(2, {"title": "t", "prompts": '["one", "two"]'}, csv_cells=True)
    assert seed is not None and seed["prompts"] == ["one", "two"]
    assert fields_of(to_seed(2, {"title": "t", "prompts": "one|two"}, csv_cells=True)) == [
        (2, "prompts")
    ]


text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["", " ", "a\r\nb", "x" * 301, "\x00", "\t\n", "é"]
)
value = (
    st.none() | text | st.integers(-5, 5) | st.floats(allow_nan=True) | st.lists(text, max_size=3)
)
record = st.dictionaries(
    st.sampled_from(
        ["title", "statement", "context", "domain", "prompt", "prompts", "id", "external_id", "x"]
    ),
    value,
    max_size=6,
)


@settings(max_examples=400, deadline=None)
@given(record)
def test_quick_path_agrees_with_the_careful_one(fields: dict[str, Any]) -> None:
    quick = import_checks._quick(1, fields)
    careful, errors = import_checks.careful_seed(1, fields)
    if quick is not None:
        assert errors == [] and careful == quick
    assert to_seed(1, fields) == (careful, errors)


def test_upload_is_counted_and_stopped_past_the_limit(tmp_path: Path) -> None:
    staged = StagedUpload(tmp_path, limit=10, fmt="jsonl")
    staged.write(b"12345678")
    with pytest.raises(UploadTooLarge):
        staged.write(b"901")
    assert not staged.path.exists()
    with pytest.raises(UploadTooLarge):
        check_declared_size(str(10**12), 1024)
    check_declared_size(None, 1024)
    check_declared_size("1024", 1024)


def test_upload_refuses_compressed_and_empty(tmp_path: Path) -> None:
    staged = StagedUpload(tmp_path, limit=1000, fmt="csv")
    with pytest.raises(ValidationFailed, match="gzip-compressed"):
        staged.write(b"\x1f\x8b\x08\x00\x00\x00\x00")
    assert not staged.path.exists()
    empty = StagedUpload(tmp_path, limit=1000, fmt="csv")
    with pytest.raises(ValidationFailed, match="empty"):
        empty.finish()
    short = StagedUpload(tmp_path, limit=1000, fmt="jsonl")
    short.write(b"PK\x03")
    short.write(b"\x04")
    with pytest.raises(ValidationFailed, match="zip"):
        short.finish()
    assert list(tmp_path.iterdir()) == []


def test_upload_hash_and_name(tmp_path: Path) -> None:
    staged = StagedUpload(tmp_path, limit=1000, fmt="jsonl")
    staged.write(b'{"title": "a"}\n')
    staged.finish()
    assert staged.sha256 == hashlib.sha256(b'{"title": "a"}\n').hexdigest()
    assert staged.path.parent == tmp_path and staged.path.name.endswith(".upload")
    assert staged.relative_path == f"uploads/{staged.path.name}"


def test_label_studio_task_too_big_is_an_error(tmp_path: Path) -> None:
    big = {"id": 2, "data": {"text": "x" * (MAX_LINE_BYTES + 200_000)}}
    export = [{"id": 1, "data": {"text": "small"}}, big, {"id": 3, "data": {"text": "after"}}]
    got = records(write(tmp_path, "e.json", json.dumps(export).encode()), "label_studio")
    assert got[0] == (1, {"prompt": "small", "external_id": 1})
    assert isinstance(got[1], RowError) and got[1].line == 2 and "larger" in got[1].message
    assert got[2] == (3, {"prompt": "after", "external_id": 3})
