"""Stream a snapshot folder as a zip or a tar, or one file, chunk by chunk.

Nothing is built whole, in memory or on disk: the zip writer writes into a sink that the
generator drains after every chunk (``zipfile`` supports unseekable output: sizes and CRCs go
into data descriptors), and tar headers are made by ``tarfile.TarInfo`` with the contents
copied in between. Entries carry the snapshot's creation time, so the same snapshot always
streams the same archive.
"""

from __future__ import annotations

import datetime as dt
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from expertloop.datasets.snapshots import Download

CHUNK = 64 * 1024
ARCHIVE_FORMATS = ("zip", "tar")
MEDIA_TYPES = {"zip": "application/zip", "tar": "application/x-tar"}


class _Sink:
    """A write-only byte sink that hands over what was written so far."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def iter_file(path: Path, *, chunk: int = CHUNK) -> Iterator[bytes]:
    """Yield a file's bytes in chunks."""
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            yield block


def _zip_time(moment: dt.datetime) -> tuple[int, int, int, int, int, int]:
    moment = max(moment, dt.datetime(1980, 1, 1, tzinfo=dt.UTC)).astimezone(dt.UTC)
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


def iter_zip(download: Download, *, chunk: int = CHUNK) -> Iterator[bytes]:
    """Yield a zip of the snapshot's files (deflated), under ``<stem>/``."""
    sink = _Sink()
    when = _zip_time(download.created_at)
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in download.names:
            path = download.file(name)
            info = zipfile.ZipInfo(f"{download.filename_stem}/{name}", date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            info.file_size = path.stat().st_size  # lets zipfile pick zip64 up front when needed
            with archive.open(info, mode="w") as entry:
                for block in iter_file(path, chunk=chunk):
                    entry.write(block)
                    if data := sink.drain():
                        yield data
            if data := sink.drain():
                yield data
    if data := sink.drain():
        yield data


def iter_tar(download: Download, *, chunk: int = CHUNK) -> Iterator[bytes]:
    """Yield an uncompressed POSIX (pax) tar of the snapshot's files, under ``<stem>/``."""
    mtime = int(download.created_at.timestamp())
    written = 0
    for name in download.names:
        path = download.file(name)
        info = tarfile.TarInfo(f"{download.filename_stem}/{name}")
        info.size = path.stat().st_size
        info.mtime = mtime
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        header = info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="strict")
        yield header
        written += len(header)
        copied = 0
        for block in iter_file(path, chunk=chunk):
            copied += len(block)
            yield block
        if copied != info.size:
            # The header promised another size: a file that changed under us breaks the archive.
            raise OSError(f"{name} changed while it was being archived.")
        written += copied
        if pad := (-copied) % tarfile.BLOCKSIZE:
            yield b"\0" * pad
            written += pad
    end = 2 * tarfile.BLOCKSIZE
    end += (-(written + end)) % tarfile.RECORDSIZE
    yield b"\0" * end


def iter_archive(download: Download, archive_format: str) -> Iterator[bytes]:
    """Yield the snapshot as ``zip`` or ``tar``."""
    if archive_format == "tar":
        return iter_tar(download)
    return iter_zip(download)
