"""Streamed JSONL and Parquet writers: rows in, files out, never a whole file in memory.

Both write the same bytes for the same rows: JSONL lines keep the rows' key order (the formats
build them in schema order), UTF-8 with no ASCII escaping and ``\\n`` endings; Parquet uses an
explicit schema, fixed row groups, zstd at a fixed level and no wall-clock metadata.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_ROWS = 10_000
# A row group is also cut at this much JSON text, so wide rows (whole lineages) stay bounded.
ROW_GROUP_BYTES = 8 * 1024 * 1024
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "store_schema": True,
}


@dataclass(frozen=True)
class FileStats:
    """What a manifest says of a written file."""

    path: Path
    bytes: int
    sha256: str
    rows: int


def json_bytes(row: dict[str, Any]) -> bytes:
    """Return a row as one JSON line in UTF-8 (with its ``\\n``).

    The bytes are those of ``json.dumps(row, ensure_ascii=False, separators=(",", ":"))``,
    written by orjson, several times faster.
    """
    return orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)


def json_line(row: dict[str, Any]) -> str:
    """Return a row as one JSON line (with its ``\\n``)."""
    return json_bytes(row).decode("utf-8")


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class JsonlWriter:
    """Append rows to a JSONL file, hashing as it goes (lines written and hashed in blocks)."""

    BLOCK = 1 << 16

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] = path.open("wb")
        self._digest = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self.rows = 0
        self.bytes = 0

    def write_line(self, data: bytes) -> None:
        """Append one already serialised line (UTF-8, ending in a newline)."""
        self._pending.append(data)
        self._pending_bytes += len(data)
        self.rows += 1
        if self._pending_bytes >= self.BLOCK:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            block = b"".join(self._pending)
            self._file.write(block)
            self._digest.update(block)
            self.bytes += len(block)
            self._pending = []
            self._pending_bytes = 0

    def write(self, row: dict[str, Any]) -> None:
        """Append one row."""
        self.write_line(json_bytes(row))

    def close(self) -> FileStats:
        """Write what is waiting, close the file and return its stats."""
        self._flush()
        self._file.close()
        return FileStats(self.path, self.bytes, self._digest.hexdigest(), self.rows)


class ParquetWriter:
    """Buffer rows into row groups of a Parquet file with an explicit schema.

    Rows wait as Python objects a thousand at a time, then as compact Arrow batches until a row
    group is full (``row_group_rows`` rows or ``row_group_bytes`` of JSON text).
    """

    BATCH = 1000

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        *,
        row_group_rows: int = ROW_GROUP_ROWS,
        row_group_bytes: int = ROW_GROUP_BYTES,
    ) -> None:
        self.path = path
        self.schema = schema
        self._names = tuple(schema.names)
        self._writer = pq.ParquetWriter(str(path), schema, **PARQUET_OPTIONS)
        self._rows: list[dict[str, Any]] = []
        self._batches: list[pa.RecordBatch] = []
        self._buffered_rows = 0
        self._buffered_bytes = 0
        self._row_group_rows = row_group_rows
        self._row_group_bytes = row_group_bytes
        self.rows = 0

    def write(self, row: dict[str, Any], size_hint: int = 0) -> None:
        """Add a row (``size_hint``: its approximate size, e.g. its JSON length)."""
        if tuple(row) != self._names:
            raise ValueError(f"Row keys {tuple(row)} do not match the schema {self._names}.")
        self._rows.append(row)
        self._buffered_rows += 1
        self._buffered_bytes += size_hint
        self.rows += 1
        if (
            self._buffered_rows >= self._row_group_rows
            or self._buffered_bytes >= self._row_group_bytes
        ):
            self._flush()
        elif len(self._rows) >= self.BATCH:
            self._to_batch()

    def _to_batch(self) -> None:
        if self._rows:
            self._batches.append(pa.RecordBatch.from_pylist(self._rows, schema=self.schema))
            self._rows = []

    def _flush(self) -> None:
        self._to_batch()
        if self._batches:
            table = pa.Table.from_batches(self._batches, schema=self.schema)
            self._writer.write_table(table, row_group_size=table.num_rows)
        self._batches = []
        self._buffered_rows = 0
        self._buffered_bytes = 0

    def close(self) -> FileStats:
        """Write what is buffered, close the file and return its stats."""
        self._flush()
        self._writer.close()
        return FileStats(self.path, self.path.stat().st_size, sha256_of(self.path), self.rows)


class PairWriter:
    """Write each row to a JSONL file and a Parquet file side by side (serialised once)."""

    def __init__(self, stem: Path, schema: pa.Schema) -> None:
        self.jsonl = JsonlWriter(stem.with_suffix(".jsonl"))
        self.parquet = ParquetWriter(stem.with_suffix(".parquet"), schema)

    def write(self, row: dict[str, Any]) -> None:
        """Add a row to both files."""
        line = json_bytes(row)
        self.parquet.write(row, len(line))
        self.jsonl.write_line(line)

    def close(self) -> tuple[FileStats, FileStats]:
        """Close both files and return their stats (JSONL, Parquet)."""
        return self.jsonl.close(), self.parquet.close()

    def __enter__(self) -> PairWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> FileStats:
    """Stream rows into a JSONL file."""
    writer = JsonlWriter(path)
    try:
        for row in rows:
            writer.write(row)
    finally:
        stats = writer.close()
    return stats


def write_parquet(path: Path, schema: pa.Schema, rows: Iterable[dict[str, Any]]) -> FileStats:
    """Stream rows into a Parquet file with ``schema``."""
    writer = ParquetWriter(path, schema)
    try:
        for row in rows:
            writer.write(row, len(json_bytes(row)))
    finally:
        stats = writer.close()
    return stats
