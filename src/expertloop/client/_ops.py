"""The API's methods, each written once as a generator of requests (see ``_protocol``).

The sync and async clients run these; what a method sends, how it pages, polls, downloads and
parses lives here only.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal, TypeVar

from pydantic import BaseModel

from expertloop.client import archive
from expertloop.client._protocol import (
    Call,
    Op,
    Params,
    file_path,
    path_segment,
    request,
    sleep,
)
from expertloop.client.errors import (
    ImportFailed,
    IntegrityError,
    JobFailed,
    SnapshotFailed,
    WaitTimeout,
)
from expertloop.client.models import (
    Import,
    Job,
    ProblemSet,
    Project,
    Seed,
    Snapshot,
    Token,
    User,
)

M = TypeVar("M", bound=BaseModel)
PAGE_SIZE = 200  # the most the server gives per page
Source = str | os.PathLike[str] | bytes | IO[bytes]
ArchiveFormat = Literal["zip", "tar"]
ProgressCallback = Callable[[Job], None]
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _one(model: type[M], call: Call) -> Op[M]:
    reply = yield from request(call)
    return model.model_validate(reply.json())


def _all(model: type[M], path: str, params: Params | None = None) -> Op[list[M]]:
    """Fetch every page of a paginated list (``{"items", "total", "limit", "offset"}``)."""
    items: list[M] = []
    while True:
        query = {**(params or {}), "limit": PAGE_SIZE, "offset": len(items)}
        reply = yield from request(Call("GET", path, params=query))
        page = reply.json()
        batch = page.get("items") or []
        items.extend(model.model_validate(item) for item in batch)
        if not batch or len(items) >= int(page.get("total", 0)):
            return items


# ---- Auth ------------------------------------------------------------------------------------


def login(email: str, password: str, *, token_name: str, expires_in_days: int | None) -> Op[Token]:
    """Log in with a password, create an API token with that session, then end the session."""
    reply = yield from request(
        Call("POST", "/auth/login", json={"email": email, "password": password})
    )
    csrf = {"X-CSRF-Token": str(reply.json()["csrf_token"])}
    body: dict[str, Any] = {"name": token_name}
    if expires_in_days is not None:
        body["expires_in_days"] = expires_in_days
    token = yield from _one(Token, Call("POST", "/tokens", json=body, headers=csrf))
    # The browser-style session was only the way to a token; it is not left open.
    yield from request(Call("POST", "/auth/logout", headers=csrf))
    return token


def me() -> Op[User]:
    return _one(User, Call("GET", "/auth/me"))


def logout() -> Op[None]:
    yield from request(Call("POST", "/auth/logout"))


# ---- Projects and problem sets ---------------------------------------------------------------


def list_projects() -> Op[list[Project]]:
    return _all(Project, "/projects")


def create_project(
    name: str, description: str, domain: str, guidelines: str, organisation_id: int | None
) -> Op[Project]:
    body: dict[str, Any] = {
        "name": name,
        "description": description,
        "domain": domain,
        "guidelines": guidelines,
    }
    if organisation_id is not None:
        body["organisation_id"] = organisation_id
    return _one(Project, Call("POST", "/projects", json=body))


def get_project(project_id: int) -> Op[Project]:
    return _one(Project, Call("GET", f"/projects/{path_segment(project_id)}"))


def list_problem_sets(project_id: int, status: str | None) -> Op[list[ProblemSet]]:
    path = f"/projects/{path_segment(project_id)}/problem-sets"
    return _all(ProblemSet, path, {"status": status})


# ---- Imports and seeds -----------------------------------------------------------------------


def import_seeds(
    project_id: int, source: Source, *, format: str | None, filename: str | None
) -> Op[Import]:
    """Upload a seed file as the raw body, streamed from disk when given a path or a file."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        with path.open("rb") as handle:
            return (yield from _upload(project_id, handle, format, filename or path.name))
    if isinstance(source, bytes | bytearray | memoryview):
        return (yield from _upload(project_id, bytes(source), format, filename or ""))
    name = getattr(source, "name", None)
    default = Path(name).name if isinstance(name, str) else ""
    return (yield from _upload(project_id, source, format, filename or default))


def _upload(
    project_id: int, content: bytes | IO[bytes], fmt: str | None, filename: str
) -> Op[Import]:
    call = Call(
        "POST",
        f"/projects/{path_segment(project_id)}/imports",
        params={"filename": filename or None, "format": fmt},
        content=content,
        headers={"Content-Type": "application/octet-stream"},
        # The server recognises the same content (its hash): sending it again creates nothing.
        idempotent=True,
    )
    return (yield from _one(Import, call))


def get_import(import_id: int) -> Op[Import]:
    return _one(Import, Call("GET", f"/imports/{path_segment(import_id)}"))


def list_imports(project_id: int) -> Op[list[Import]]:
    return _all(Import, f"/projects/{path_segment(project_id)}/imports")


def wait_for_import(import_id: int, *, timeout: float, poll: float) -> Op[Import]:
    """Poll an import until it is imported (returned) or failed (``ImportFailed``)."""
    deadline = time.monotonic() + timeout
    while True:
        seed_import = yield from get_import(import_id)
        if seed_import.status == "failed":
            raise ImportFailed(seed_import)
        if seed_import.finished:
            return seed_import
        yield from _pause(deadline, poll, f"Import {import_id} is still {seed_import.status}.")


def list_seeds(project_id: int, available: bool | None) -> Op[list[Seed]]:
    path = f"/projects/{path_segment(project_id)}/seeds"
    return _all(Seed, path, {"available": available})


# ---- Jobs ------------------------------------------------------------------------------------


def get_job(job_id: int) -> Op[Job]:
    return _one(Job, Call("GET", f"/jobs/{path_segment(job_id)}"))


def cancel_job(job_id: int) -> Op[Job]:
    return _one(Job, Call("POST", f"/jobs/{path_segment(job_id)}/cancel", idempotent=True))


def _pause(deadline: float, poll: float, message: str) -> Op[None]:
    left = deadline - time.monotonic()
    if left <= 0:
        raise WaitTimeout(message)
    yield from sleep(min(poll, left))


def wait_for_job(
    job_id: int, *, timeout: float, poll: float, on_progress: ProgressCallback | None
) -> Op[Job]:
    """Poll a job until it ends: done (returned), failed or cancelled (``JobFailed``).

    ``on_progress`` is called with the job whenever its status or progress changed.
    """
    deadline = time.monotonic() + timeout
    seen: tuple[object, ...] | None = None
    while True:
        job = yield from get_job(job_id)
        state = (job.status, job.progress_done, job.progress_total, job.progress_note)
        if on_progress is not None and state != seen:
            on_progress(job)
        seen = state
        if job.finished:
            if job.status != "done":
                raise JobFailed(job)
            return job
        yield from _pause(deadline, poll, f"Job {job_id} is still {job.status} after {timeout}s.")


# ---- Snapshots -------------------------------------------------------------------------------


def _day(value: dt.date | str | None) -> str | None:
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat() if isinstance(value, dt.date) else value


def create_snapshot(
    project_id: int,
    *,
    domain: str | None,
    accepted_from: dt.date | str | None,
    accepted_to: dt.date | str | None,
    endpoint_ids: Iterable[int] | None,
    test_fraction: float,
    idempotency_key: str | None,
) -> Op[Snapshot]:
    filters = {
        "domain": domain,
        "accepted_from": _day(accepted_from),
        "accepted_to": _day(accepted_to),
        "endpoint_ids": list(endpoint_ids) if endpoint_ids is not None else None,
    }
    body = {
        "filters": {k: v for k, v in filters.items() if v is not None},
        "test_fraction": test_fraction,
        # With a key, sending the request again returns the snapshot the first one made.
        "idempotency_key": idempotency_key or f"client-{uuid.uuid4().hex}",
    }
    path = f"/projects/{path_segment(project_id)}/snapshots"
    return _one(Snapshot, Call("POST", path, json=body, idempotent=True))


def get_snapshot(snapshot_id: int) -> Op[Snapshot]:
    return _one(Snapshot, Call("GET", f"/snapshots/{path_segment(snapshot_id)}"))


def list_snapshots(project_id: int) -> Op[list[Snapshot]]:
    return _all(Snapshot, f"/projects/{path_segment(project_id)}/snapshots")


def wait_for_snapshot(
    snapshot_id: int, *, timeout: float, poll: float, on_progress: ProgressCallback | None
) -> Op[Snapshot]:
    """Wait until the snapshot is ready (returned) or failed (``SnapshotFailed``)."""
    deadline = time.monotonic() + timeout
    snapshot = yield from get_snapshot(snapshot_id)
    if snapshot.status == "building" and snapshot.job_id is not None:
        try:
            yield from wait_for_job(
                snapshot.job_id,
                timeout=max(0.0, deadline - time.monotonic()),
                poll=poll,
                on_progress=on_progress,
            )
        except JobFailed as exc:
            snapshot = yield from get_snapshot(snapshot_id)
            if snapshot.status == "failed":
                raise SnapshotFailed(snapshot) from exc
            raise
        snapshot = yield from get_snapshot(snapshot_id)
    while True:
        if snapshot.status == "ready":
            return snapshot
        if snapshot.status == "failed":
            raise SnapshotFailed(snapshot)
        yield from _pause(deadline, poll, f"Snapshot {snapshot_id} is still {snapshot.status}.")
        snapshot = yield from get_snapshot(snapshot_id)


def _attachment_name(headers: dict[str, str] | Any) -> str | None:
    value = str(headers.get("content-disposition", ""))
    found = re.search(r'filename="?([^";]+)"?', value)
    if not found:
        return None
    name = _SAFE_NAME.sub("-", PurePosixPath(found.group(1)).name).strip(".-")
    return name or None


def _stream(call_path: str, params: Params | None, target: Path) -> Op[dict[str, str]]:
    """Stream a GET's body into ``target`` through a ``.part`` file; return the headers."""
    part = target.with_name(f".{target.name}.part")
    try:
        with part.open("wb") as out:
            reply = yield from request(Call("GET", call_path, params=params, stream_to=out))
        part.replace(target)
    finally:
        part.unlink(missing_ok=True)
    return dict(reply.headers)


def download_snapshot(
    snapshot_id: int,
    dest: str | os.PathLike[str],
    *,
    format: ArchiveFormat,
    extract: bool,
    verify: bool,
    keep_archive: bool,
) -> Op[Path]:
    """Download the snapshot's archive; with ``extract``, unpack it safely and check its files.

    Returns the archive's path, or with ``extract`` the unpacked snapshot folder.
    """
    if format not in ("zip", "tar"):
        raise ValueError("format is 'zip' or 'tar'")
    snapshot = yield from get_snapshot(snapshot_id)
    dest_path = Path(dest)
    into_folder = extract or dest_path.is_dir() or str(dest).endswith(("/", os.sep))
    folder = dest_path if into_folder else dest_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    fallback = f"snapshot-{snapshot.project_id}-{snapshot.number}.{format}"
    target = folder / fallback if into_folder else dest_path
    headers = yield from _stream(
        f"/snapshots/{path_segment(snapshot_id)}/archive", {"format": format}, target
    )
    named = _attachment_name(headers)
    if into_folder and named and named != target.name:
        target = target.replace(folder / named)
    if not extract:
        return target
    if verify:
        unpacked = archive.unpack_and_verify(target, folder, snapshot.files)
    else:
        unpacked = archive.extract(target, folder)
    if not keep_archive:
        target.unlink(missing_ok=True)
    return unpacked


def download_file(
    snapshot_id: int, path: str, dest: str | os.PathLike[str], *, verify: bool
) -> Op[Path]:
    """Download one file of a snapshot; check it against the manifest when it is listed there."""
    quoted = file_path(path)
    listed = None
    if verify:
        snapshot = yield from get_snapshot(snapshot_id)
        listed = next((f for f in snapshot.files if f.path == path), None)
    dest_path = Path(dest)
    target = dest_path / PurePosixPath(path).name if dest_path.is_dir() else dest_path
    target.parent.mkdir(parents=True, exist_ok=True)
    yield from _stream(f"/snapshots/{path_segment(snapshot_id)}/files/{quoted}", None, target)
    if listed is not None:
        try:
            archive.check_file(target, listed)
        except IntegrityError:
            target.unlink(missing_ok=True)
            raise
    return target
