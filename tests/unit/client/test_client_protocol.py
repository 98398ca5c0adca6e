"""The client without a server (httpx.MockTransport): retries, error parsing, uploads, archives."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import httpx
import pytest

from expertloop.client import (
    AsyncExpertLoop,
    Conflict,
    ExpertLoop,
    IntegrityError,
    JobFailed,
    NotFound,
    RateLimited,
    RetryPolicy,
    ServerError,
    SnapshotFile,
    UnsafeArchive,
    WaitTimeout,
    archive,
)
from expertloop.client.aio import AsyncExpertLoop as AioClass
from expertloop.client.sync import ExpertLoop as SyncClass

FAST = RetryPolicy(attempts=4, backoff=0.001, max_backoff=0.002)
PROJECT = {"id": 7, "organisation_id": 2, "name": "P", "version": 1}


def _error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    body = {"error": {"code": code, "message": message, "details": {"current_version": 3}}}
    return httpx.Response(status, json=body, headers=headers)


def _client(handler, **kwargs) -> ExpertLoop:  # type: ignore[no-untyped-def]
    return ExpertLoop(
        "http://el.test", "elk_t", transport=httpx.MockTransport(handler), retry=FAST, **kwargs
    )


def test_an_idempotent_call_is_retried_after_503_and_429_honouring_retry_after() -> None:
    seen: list[httpx.Request] = []
    answers = [
        _error(503, "schema_out_of_date", "later"),
        _error(429, "rate_limited", "slow down", **{"Retry-After": "0"}),
        httpx.Response(200, json=PROJECT),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[len(seen) - 1]

    with _client(handler) as el:
        assert el.get_project(7).name == "P"
    assert len(seen) == 3
    assert seen[0].url == "http://el.test/api/v1/projects/7"
    assert seen[0].headers["authorization"] == "Bearer elk_t"


def test_a_non_idempotent_call_is_not_retried_and_a_long_retry_after_is_not_waited() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if request.method == "POST":
            return _error(503, "error", "busy")
        return _error(429, "rate_limited", "wait", **{"Retry-After": "3600"})

    with _client(handler) as el:
        with pytest.raises(ServerError) as busy:
            el.create_project("P")
        assert calls == 1 and busy.value.status == 503
        with pytest.raises(RateLimited) as limited:
            el.me()
        assert calls == 2 and limited.value.retry_after == 3600


def test_retries_stop_after_the_policy_s_attempts() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(502, text="<html>Bad gateway</html>")

    with _client(handler) as el, pytest.raises(ServerError) as failed:
        el.get_job(1)
    assert calls == FAST.attempts
    assert failed.value.code == "http_502" and "Bad gateway" in failed.value.message


def test_the_error_body_becomes_the_exception() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/404"):
            return _error(404, "not_found", "Project not found.")
        return _error(409, "conflict", "Changed elsewhere.")

    with _client(handler) as el:
        with pytest.raises(NotFound) as missing:
            el.get_project(404)
        with pytest.raises(Conflict) as stale:
            el.get_project(409)
    assert (missing.value.status, missing.value.code, missing.value.message) == (
        404,
        "not_found",
        "Project not found.",
    )
    assert stale.value.details == {"current_version": 3}
    assert str(stale.value) == "409 conflict: Changed elsewhere."


def test_an_upload_is_sent_again_from_its_start_with_its_length(tmp_path: Path) -> None:
    bodies: list[bytes] = []
    source = tmp_path / "seeds.jsonl"
    source.write_bytes(b'{"title": "a"}\n' * 1000)

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.read())
        assert request.headers["content-length"] == str(source.stat().st_size)
        assert request.url.params["filename"] == "seeds.jsonl"
        if len(bodies) == 1:
            return _error(503, "error", "busy")
        return httpx.Response(202, json={"id": 1, "project_id": 7, "status": "queued"})

    with _client(handler) as el:
        queued = el.import_seeds(7, source)
    assert queued.status == "queued" and queued.errors == ()
    assert bodies == [source.read_bytes()] * 2


def test_the_async_client_streams_a_file_body(tmp_path: Path) -> None:
    source = tmp_path / "seeds.csv"
    source.write_bytes(b"title\nA\n")

    async def handler(request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        assert body == b"title\nA\n" and request.headers["content-length"] == "8"
        return httpx.Response(202, json={"id": 2, "project_id": 7, "status": "queued"})

    async def main() -> int:
        async with AsyncExpertLoop(
            "http://el.test/api/v1", transport=httpx.MockTransport(handler)
        ) as el:
            with source.open("rb") as handle:
                return (await el.import_seeds(7, handle, format="csv")).id

    assert asyncio.run(main()) == 2


def test_both_clients_offer_the_same_methods() -> None:
    def public(cls: type) -> set[str]:
        return {n for n in vars(cls) if not n.startswith("_")}

    assert public(SyncClass) == public(AioClass)


def test_waiting_for_a_job_reports_progress_and_raises_on_failure() -> None:
    states = iter(
        [
            {"id": 5, "kind": "k", "status": "queued"},
            {"id": 5, "kind": "k", "status": "running", "progress_done": 1, "progress_total": 2},
            {"id": 5, "kind": "k", "status": "running", "progress_done": 1, "progress_total": 2},
            {"id": 5, "kind": "k", "status": "failed", "error": "disk full"},
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(states))

    seen: list[str] = []
    with _client(handler) as el, pytest.raises(JobFailed) as failed:
        el.wait_for_job(5, poll=0.001, on_progress=lambda j: seen.append(j.status))
    assert seen == ["queued", "running", "failed"]  # unchanged progress is not reported twice
    assert failed.value.job.error == "disk full" and "disk full" in failed.value.message


def test_waiting_gives_up_at_the_timeout() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": 5, "kind": "k", "status": "running"})

    with _client(handler) as el, pytest.raises(WaitTimeout) as late:
        el.wait_for_job(5, timeout=0.05, poll=0.01)
    assert isinstance(late.value, TimeoutError)


# ---- Archives --------------------------------------------------------------------------------


def _listed(path: str, data: bytes) -> SnapshotFile:
    return SnapshotFile(path=path, bytes=len(data), sha256=hashlib.sha256(data).hexdigest())


def _zip(tmp_path: Path, entries: dict[str, bytes]) -> Path:
    out = tmp_path / "s.zip"
    with zipfile.ZipFile(out, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out


def test_a_snapshot_zip_unpacks_and_its_files_are_checked(tmp_path: Path) -> None:
    data = '{"text": "مرحبا 👋"}\n'.encode()
    files = [_listed("data/errors/train.jsonl", data)]
    manifest = json.dumps({"files": [f.model_dump() for f in files]}).encode()
    zipped = _zip(
        tmp_path,
        {
            "s1/manifest.json": manifest,
            "s1/README.md": b"# card",
            "s1/data/errors/train.jsonl": data,
        },
    )
    folder = archive.unpack_and_verify(zipped, tmp_path / "out", files)
    assert folder == tmp_path / "out" / "s1"
    assert (folder / "data/errors/train.jsonl").read_bytes() == data


def test_the_dataset_card_is_checked_against_the_manifest_too(tmp_path: Path) -> None:
    card = _listed("README.md", b"# the card")
    manifest = json.dumps({"files": [], "card": card.model_dump()}).encode()
    zipped = _zip(tmp_path, {"s1/manifest.json": manifest, "s1/README.md": b"# a forged card"})
    with pytest.raises(IntegrityError, match=r"README\.md"):
        archive.unpack_and_verify(zipped, tmp_path / "out", [])


def test_a_file_that_differs_from_the_manifest_is_refused_and_removed(tmp_path: Path) -> None:
    listed = [_listed("data/a.jsonl", b"right\n")]
    manifest = json.dumps({"files": [f.model_dump() for f in listed]}).encode()
    zipped = _zip(tmp_path, {"s1/manifest.json": manifest, "s1/data/a.jsonl": b"wrong\n"})
    with pytest.raises(IntegrityError, match="sha256"):
        archive.unpack_and_verify(zipped, tmp_path / "out", listed)
    assert not (tmp_path / "out" / "s1").exists()


@pytest.mark.parametrize(
    "name", ["../evil.txt", "/etc/evil", "s1/../../evil", "C:/evil", "a\\..\\b"]
)
def test_entries_outside_the_folder_are_refused_in_a_zip(tmp_path: Path, name: str) -> None:
    zipped = _zip(tmp_path, {name: b"x"})
    with pytest.raises(UnsafeArchive):
        archive.extract(zipped, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "evil").exists()


def test_links_are_refused_in_a_tar(tmp_path: Path) -> None:
    out = tmp_path / "s.tar"
    with tarfile.open(out, "w") as t:
        link = tarfile.TarInfo("s1/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        t.addfile(link)
        plain = tarfile.TarInfo("s1/ok.txt")
        plain.size = 2
        t.addfile(plain, io.BytesIO(b"ok"))
    with pytest.raises(UnsafeArchive, match="not a regular file"):
        archive.extract(out, tmp_path / "out")
