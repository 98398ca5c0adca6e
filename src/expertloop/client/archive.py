"""Unpack a downloaded snapshot archive safely and check every file against its manifest.

Entries are written one by one by this code (never ``extractall``): an absolute name, a ``..``
component, a link, a device or an entry larger than it declares is refused before anything of
it is written, so an archive cannot place a file outside the destination folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from expertloop.client.errors import IntegrityError, UnsafeArchive
from expertloop.client.models import SnapshotFile

CHUNK = 64 * 1024


def safe_name(name: str) -> PurePosixPath:
    """Return an archive entry's relative path, or raise ``UnsafeArchive``."""
    if "\\" in name or "\x00" in name:
        raise UnsafeArchive(f"Archive entry {name!r} has a backslash or NUL in its name.")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise UnsafeArchive(f"Archive entry {name!r} is an absolute path.")
    if any(part == ".." for part in path.parts):
        raise UnsafeArchive(f"Archive entry {name!r} climbs out of the folder ('..').")
    if not path.parts:
        raise UnsafeArchive("An archive entry has an empty name.")
    return path


def _copy(source: IO[bytes], target: Path, declared: int | None, name: str) -> None:
    written = 0
    with target.open("wb") as out:
        while block := source.read(CHUNK):
            written += len(block)
            if declared is not None and written > declared:
                raise UnsafeArchive(f"Archive entry {name!r} is larger than it declares.")
            out.write(block)


def _zip_entries(path: Path, dest: Path) -> Iterator[PurePosixPath]:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            rel = safe_name(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeArchive(f"Archive entry {info.filename!r} is a symbolic link.")
            target = dest.joinpath(*rel.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source:
                _copy(source, target, info.file_size, info.filename)
            yield rel


def _tar_entries(path: Path, dest: Path) -> Iterator[PurePosixPath]:
    with tarfile.open(path, mode="r:*") as archive:
        for member in archive:
            rel = safe_name(member.name)
            target = dest.joinpath(*rel.parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if not member.isfile():
                raise UnsafeArchive(f"Archive entry {member.name!r} is not a regular file.")
            target.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None
            with source:
                _copy(source, target, member.size, member.name)
            yield rel


def extract(archive: Path, dest: Path) -> Path:
    """Unpack ``archive`` (zip or tar) into ``dest``; return the snapshot folder it held.

    A snapshot archive holds one top folder; its path is returned (``dest`` when there is none).
    """
    dest.mkdir(parents=True, exist_ok=True)
    entries = _zip_entries if zipfile.is_zipfile(archive) else _tar_entries
    tops = {rel.parts[0] for rel in entries(archive, dest) if len(rel.parts) > 1}
    return dest / tops.pop() if len(tops) == 1 else dest


def sha256_of(path: Path) -> str:
    """Return a file's hex sha256, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def manifest_files(folder: Path) -> list[SnapshotFile]:
    """Return the files ``manifest.json`` in ``folder`` lists with their hashes (and its card)."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise IntegrityError(f"{folder} has no manifest.json.")
    data = json.loads(manifest.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        return []
    listed = data.get("files")
    if isinstance(listed, dict):  # {path: {sha256, bytes, ...}}
        listed = [{"path": p, **v} for p, v in listed.items() if isinstance(v, dict)]
    if not isinstance(listed, list):
        listed = []
    if isinstance(data.get("card"), dict):  # the dataset card (README.md) is hashed too
        listed = [*listed, data["card"]]
    return [
        SnapshotFile.model_validate(item)
        for item in listed
        if isinstance(item, dict) and {"path", "bytes", "sha256"} <= item.keys()
    ]


def verify(folder: Path, files: Iterable[SnapshotFile]) -> list[Path]:
    """Check each listed file's size and sha256 in ``folder``; return their paths.

    Raise ``IntegrityError`` naming the first file that is missing or differs.
    """
    checked: list[Path] = []
    for item in files:
        path = folder.joinpath(*safe_name(item.path).parts)
        check_file(path, item)
        checked.append(path)
    return checked


def check_file(path: Path, item: SnapshotFile) -> None:
    """Raise ``IntegrityError`` unless ``path`` has the size and sha256 ``item`` lists."""
    if not path.is_file():
        raise IntegrityError(f"{item.path} is missing.", {"path": item.path})
    size = path.stat().st_size
    if size != item.bytes:
        raise IntegrityError(
            f"{item.path} has {size} bytes; the manifest says {item.bytes}.", {"path": item.path}
        )
    digest = sha256_of(path)
    if digest != item.sha256:
        raise IntegrityError(
            f"{item.path} has sha256 {digest}; the manifest says {item.sha256}.",
            {"path": item.path},
        )


def unpack_and_verify(archive: Path, dest: Path, listed: Iterable[SnapshotFile]) -> Path:
    """Extract, then check the files the API listed and those manifest.json lists.

    On any failure the partly written folder is removed, so no unchecked snapshot is left.
    """
    before = set(dest.iterdir()) if dest.is_dir() else set()
    try:
        folder = extract(archive, dest)
        verify(folder, listed)
        verify(folder, manifest_files(folder))
    except BaseException:
        if dest.is_dir():
            for created in set(dest.iterdir()) - before - {archive}:
                if created.is_dir():
                    shutil.rmtree(created, ignore_errors=True)
                else:
                    created.unlink(missing_ok=True)
        raise
    return folder
