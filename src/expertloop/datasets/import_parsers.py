"""Read seed files (JSONL, CSV, Parquet, Label Studio JSON) record by record.

Each reader streams its file and yields ``(line, fields)`` for a record or a ``RowError`` for a
record it cannot read (``import_checks.to_seed`` then checks the fields). ``line`` is the 1-based
line for JSONL and CSV (for CSV the physical line where the record starts), the row number for
Parquet and the task number for a Label Studio export.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import IO, Any

import ijson
import orjson
import pyarrow.parquet as pq

from expertloop.errors import ValidationFailed
from expertloop.text import FORBIDDEN as FORBIDDEN  # import_checks reads it here

FORMATS = ("jsonl", "csv", "parquet", "label_studio")
EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".json": "label_studio",
}

MAX_LINE_BYTES = 1024 * 1024  # one JSONL line or Label Studio task
_LS_BUFFER = 64 * 1024
MAX_COLUMNS = 200  # CSV and Parquet columns, and fields of one record
PARQUET_BATCH_ROWS = 5_000
# A Parquet file's columns are compressed: refuse one that would unpack to more than this many
# times the upload limit (the same guard as refusing gzip uploads: no decompression bombs).
PARQUET_MAX_EXPANSION = 8


COMPRESSED_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"PK\x07\x08", "zip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
)
MAGIC_BYTES = 6  # enough of a file's start to recognise every format above
PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class RowError:
    """What is wrong with one record (``field`` is empty when the record itself is unreadable)."""

    line: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """Return the error as stored and shown: ``{line, field, message}``."""
        return {"line": self.line, "field": self.field, "message": self.message}


Record = tuple[int, dict[str, Any]]  # (line, fields)


def accepted_formats() -> str:
    """Return the accepted format names for messages."""
    return ", ".join(FORMATS)


def resolve_format(filename: str, fmt: str | None) -> str:
    """Return the format asked for, or the one the filename's extension names (422 otherwise)."""
    if fmt:
        name = fmt.strip().lower().replace("-", "_")
        if name not in FORMATS:
            raise ValidationFailed(
                f"Unknown import format {fmt!r}: use one of {accepted_formats()}.",
                details={"accepted": list(FORMATS)},
            )
        return name
    suffix = PurePath(safe_filename(filename)).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    raise ValidationFailed(
        f"Cannot tell the format of {filename or 'the upload'!r}: name it .jsonl, .csv, .parquet "
        f"or .json (Label Studio), or pass format= one of {accepted_formats()}.",
        details={"accepted": list(FORMATS)},
    )


def safe_filename(filename: str) -> str:
    """Return the last component of an uploaded name, for display only (never used as a path)."""
    name = re.split(r"[/\\]", filename or "")[-1]
    name = FORBIDDEN.sub("", name).strip()
    return name[:255]


def compression_of(head: bytes) -> str | None:
    """Return the compression a file starts with (gzip, zip, ...), or None."""
    for magic, name in COMPRESSED_MAGIC:
        if head.startswith(magic):
            return name
    return None


def read_records(path: Path, fmt: str, *, max_bytes: int) -> Iterator[Record | RowError]:
    """Stream the records of a seed file of format ``fmt``."""
    readers = {
        "jsonl": read_jsonl,
        "csv": read_csv,
        "label_studio": read_label_studio,
    }
    if fmt == "parquet":
        return read_parquet(path, max_bytes=max_bytes)
    if fmt not in readers:
        raise ValidationFailed(f"Unknown import format {fmt!r}: use one of {accepted_formats()}.")
    return readers[fmt](path)


# --- JSONL -------------------------------------------------------------------------------------


def _skip_rest_of_line(handle: IO[bytes]) -> None:
    while True:
        chunk = handle.readline(MAX_LINE_BYTES)
        if not chunk or chunk.endswith(b"\n"):
            return


def read_jsonl(path: Path) -> Iterator[Record | RowError]:
    """Yield one JSON object per line; blank lines are skipped (but counted)."""
    with path.open("rb") as handle:
        line = 0
        while True:
            raw = handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            line += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                _skip_rest_of_line(handle)
                yield RowError(line, "", f"The line is longer than {MAX_LINE_BYTES:,} bytes.")
                continue
            if line == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            if raw.isspace():
                continue
            try:
                value = orjson.loads(raw)
            except ValueError as exc:
                yield RowError(line, "", f"The line is not valid JSON ({_json_reason(exc)}).")
                continue
            if not isinstance(value, dict):
                yield RowError(line, "", "Each line must be a JSON object ({...}).")
                continue
            yield line, value


def _json_reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    return str(exc)


# --- CSV ---------------------------------------------------------------------------------------


def read_csv(path: Path) -> Iterator[Record | RowError]:
    """Yield one record per CSV row after the header; empty cells count as absent."""
    with path.open("rb") as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="", errors="strict")
        reader = csv.reader(text, strict=True)
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            yield RowError(1, "", f"The header cannot be read: {_csv_reason(exc)}.")
            return
        if header is None:
            return
        columns = [name.strip() for name in header]
        problem = _check_columns(columns)
        if problem:
            yield RowError(1, "", problem)
            return
        consumed = reader.line_num
        while True:
            start = consumed + 1
            try:
                row = next(reader, None)
            except (csv.Error, UnicodeDecodeError) as exc:
                # The reader cannot resynchronise after a broken quote or bad bytes: stop here.
                yield RowError(start, "", f"The row cannot be read: {_csv_reason(exc)}.")
                return
            if row is None:
                return
            consumed = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) > len(columns):
                yield RowError(
                    start, "", f"The row has {len(row)} cells; the header names {len(columns)}."
                )
                continue
            yield start, {name: cell for name, cell in zip(columns, row, strict=False) if cell}


def _check_columns(columns: list[str]) -> str:
    if len(columns) > MAX_COLUMNS:
        return f"The file has {len(columns)} columns; at most {MAX_COLUMNS} are accepted."
    if any(not name for name in columns):
        return "Every column needs a name in the header row."
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            return f"The column {name!r} appears twice."
        seen.add(name)
    return ""


def _csv_reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "the text is not valid UTF-8"
    return str(exc)


# --- Parquet -----------------------------------------------------------------------------------


def read_parquet(path: Path, *, max_bytes: int) -> Iterator[Record | RowError]:
    """Yield one record per Parquet row, reading record batches."""
    with path.open("rb") as handle:
        if handle.read(len(PARQUET_MAGIC)) != PARQUET_MAGIC:
            yield RowError(0, "", "The file is not a Parquet file (it does not start with PAR1).")
            return
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several kinds for a damaged file
        yield RowError(0, "", f"The Parquet file cannot be read: {exc}.")
        return
    with parquet:
        columns = [field.name for field in parquet.schema_arrow]
        problem = _check_columns(columns)
        if problem:
            yield RowError(0, "", problem)
            return
        metadata = parquet.metadata
        unpacked = sum(
            metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups)
        )
        if unpacked > PARQUET_MAX_EXPANSION * max_bytes:
            yield RowError(
                0, "", f"The Parquet file unpacks to {unpacked:,} bytes, more than allowed."
            )
            return
        row = 0
        try:
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                for record in batch.to_pylist():
                    row += 1
                    yield row, {k: v for k, v in record.items() if v is not None}
        except Exception as exc:  # a damaged page shows only when it is read
            yield RowError(row + 1, "", f"The Parquet data cannot be read: {exc}.")


# --- Label Studio ------------------------------------------------------------------------------


def read_label_studio(path: Path) -> Iterator[Record | RowError]:
    """Yield the ``data`` of each task of a Label Studio JSON export (a JSON array of tasks).

    The task's ``id`` becomes the external id; ``data.text`` is the prompt when no
    ``data.prompt`` is given. Annotations, predictions and the rest of the task are ignored.
    """
    with path.open("rb") as handle:
        first = _first_significant_byte(handle)
        if first != b"[":
            yield RowError(0, "", "A Label Studio export is a JSON array of tasks ([{...}, ...]).")
            return
        handle.seek(0)
        index = 0
        read_to = 0
        try:
            for task in ijson.items(handle, "item", use_float=True, buf_size=_LS_BUFFER):
                index += 1
                # The parser reads in buffers: a task that spans more than a line's cap of the
                # file (plus one buffer) is too big, as a JSONL line would be.
                grown, read_to = handle.tell() - read_to, handle.tell()
                fields = _task_fields(task)
                if grown > MAX_LINE_BYTES + _LS_BUFFER:
                    yield RowError(index, "", f"The task is larger than {MAX_LINE_BYTES:,} bytes.")
                elif isinstance(fields, str):
                    yield RowError(index, "", fields)
                else:
                    yield index, fields
        except ijson.JSONError as exc:
            yield RowError(index + 1, "", f"The export is not valid JSON here ({exc}).")
        except UnicodeDecodeError:
            yield RowError(index + 1, "", "The export is not valid UTF-8.")


def _first_significant_byte(handle: IO[bytes]) -> bytes:
    head = handle.read(4096).lstrip(codecs.BOM_UTF8).lstrip()
    return head[:1]


def _task_fields(task: Any) -> dict[str, Any] | str:
    if not isinstance(task, dict):
        return "Each task must be a JSON object."
    data = task.get("data")
    if not isinstance(data, dict):
        return "The task has no data object (export the project as JSON, not JSON_MIN or CSV)."
    fields = dict(data)
    if "prompt" not in fields and "text" in fields:
        fields["prompt"] = fields.pop("text")
    if "external_id" not in fields and "id" not in fields and task.get("id") is not None:
        fields["external_id"] = task["id"]
    return fields
