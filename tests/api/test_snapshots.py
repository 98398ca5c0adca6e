"""Dataset snapshots through the API: numbered, built by a job, immutable, downloaded streamed
(single files, zip, tar) with hashes that match the manifest; rebuilt byte for byte; seen only
by operators and the project's clients."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from huey import MemoryHuey
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.datasets import snapshots, tasks
from expertloop.datasets.models import Snapshot
from expertloop.errors import ValidationFailed
from expertloop.events import AuditLog
from expertloop.jobs.models import Job, JobStatus
from expertloop.jobs.queue import JobQueue
from expertloop.jobs.runner import run_job
from expertloop.settings import Settings
from expertloop.web.wiring import job_handlers
from tests.conftest import make_settings
from tests.factories import World, scripted_target
from tests.snapshot_data import accepted_problem_set

API = "/api/v1"
STEM = "a-s-confidential-project-snapshot"  # the slug of "A's confidential project"


@pytest.fixture
def settings(db_root: Path, tmp_path: Path) -> Settings:
    """Test settings with a snapshots directory of this test's own."""
    from tests.conftest import database_url

    return make_settings(database_url(db_root), db_root, snapshots_dir=tmp_path / "snapshots")


@pytest.fixture
def accepted(db: Session, app, world: World) -> list[int]:  # type: ignore[no-untyped-def]
    """Two accepted problem sets on A's project (and one still in progress, never exported)."""
    endpoint = scripted_target(db, app.state.hub, world.project_a, name="Scripted A")
    ids = [
        accepted_problem_set(
            db, world.project_a, world.expert_a, world.reviewer_a, endpoint, title=f"Runway {n}"
        ).id
        for n in (1, 2)
    ]
    db.commit()
    return ids


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def create(api, project_id: int, **body: Any):  # type: ignore[no-untyped-def]
    return api.post(f"{API}/projects/{project_id}/snapshots", json={"filters": {}, **body})


def ready_snapshot(api, project_id: int, **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = create(api, project_id, **body)
    assert r.status_code == 202, r.text
    # Jobs run right after the request's commit here: by now the snapshot is built.
    got = api.get(f"{API}/snapshots/{r.json()['id']}")
    assert got.status_code == 200
    assert got.json()["status"] == "ready", got.json()
    return got.json()  # type: ignore[no-any-return]


def manifest_hashes(manifest: Any) -> dict[str, str]:
    """Every {path, sha256} pair anywhere in the manifest."""
    found: dict[str, str] = {}
    if isinstance(manifest, dict):
        if isinstance(manifest.get("path"), str) and isinstance(manifest.get("sha256"), str):
            found[manifest["path"]] = manifest["sha256"]
        for value in manifest.values():
            found.update(manifest_hashes(value))
    elif isinstance(manifest, list):
        for value in manifest:
            found.update(manifest_hashes(value))
    return found


def test_client_creates_numbered_snapshots_that_download_with_matching_hashes(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, accepted: list[int]
) -> None:
    client = login_as(world.client_a)
    r = create(client, world.project_a.id, test_fraction=0.5)
    assert r.status_code == 202, r.text
    first = r.json()
    # The answer is written before the build: a number, a job to follow, nothing to download.
    assert (first["number"], first["status"], first["manifest"], first["files"]) == (
        1,
        "building",
        None,
        [],
    )
    assert first["job_id"] and first["test_fraction"] == 0.5
    snap = client.get(f"{API}/snapshots/{first['id']}").json()
    assert snap["status"] == "ready" and snap["ready_at"] and snap["error"] == ""
    assert snap["archive_url"] == f"/api/v1/snapshots/{snap['id']}/archive"
    assert snap["counts"], snap
    job = client.get(f"{API}/jobs/{snap['job_id']}").json()
    assert job["status"] == "done" and job["kind"] == "datasets.build_snapshot"
    assert job["title"] == "Snapshot 1 of A's confidential project"
    assert job["result"]["snapshot_id"] == snap["id"]

    second = ready_snapshot(client, world.project_a.id)
    assert second["number"] == 2 and second["test_fraction"] == 0.1
    listed = client.get(f"{API}/projects/{world.project_a.id}/snapshots").json()
    assert [s["number"] for s in listed["items"]] == [2, 1] and listed["total"] == 2

    # Every file the snapshot lists is served, whole, with its manifest hash.
    files = {f["path"]: f for f in snap["files"]}
    assert files and all(f["format"] and f["split"] for f in files.values())
    assert {f["path"].rsplit(".", 1)[1] for f in files.values()} == {"jsonl", "parquet"}
    served: dict[str, bytes] = {}
    for path, meta in files.items():
        got = client.get(f"{API}/snapshots/{snap['id']}/files/{path}")
        assert got.status_code == 200, (path, got.text)
        assert got.headers["content-disposition"].startswith('attachment; filename="')
        assert sha(got.content) == meta["sha256"] and len(got.content) == meta["bytes"]
        served[path] = got.content
    assert sum(f["bytes"] for f in files.values()) <= snap["total_bytes"]
    manifest_file = client.get(f"{API}/snapshots/{snap['id']}/files/manifest.json")
    assert manifest_file.status_code == 200
    manifest = json.loads(manifest_file.content)
    assert manifest == snap["manifest"]
    hashes = manifest_hashes(manifest)
    assert {p: hashes.get(p) for p in files} == {p: f["sha256"] for p, f in files.items()}
    card = client.get(f"{API}/snapshots/{snap['id']}/files/README.md")
    assert card.status_code == 200 and card.text.startswith("---")
    served["manifest.json"], served["README.md"] = manifest_file.content, card.content

    # The zip and the tar hold exactly those files, byte for byte, under one folder.
    z = client.get(f"{API}/snapshots/{snap['id']}/archive")
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    assert z.headers["content-disposition"] == f'attachment; filename="{STEM}-1.zip"'
    with zipfile.ZipFile(io.BytesIO(z.content)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert sorted(names) == sorted(f"{STEM}-1/{p}" for p in served)
        for path, content in served.items():
            assert sha(archive.read(f"{STEM}-1/{path}")) == sha(content)
    t = client.get(f"{API}/snapshots/{snap['id']}/archive?format=tar")
    assert t.status_code == 200 and t.headers["content-type"] == "application/x-tar"
    assert t.headers["content-disposition"] == f'attachment; filename="{STEM}-1.tar"'
    assert len(t.content) % tarfile.RECORDSIZE == 0
    with tarfile.open(fileobj=io.BytesIO(t.content), mode="r:") as archive:
        members = archive.getmembers()
        assert sorted(m.name for m in members) == sorted(f"{STEM}-1/{p}" for p in served)
        for member in members:
            extracted = archive.extractfile(member)
            assert extracted is not None
            assert sha(extracted.read()) == sha(served[member.name.split("/", 1)[1]])
    # The same snapshot streams the same archive every time.
    assert client.get(f"{API}/snapshots/{snap['id']}/archive").content == z.content

    # One audit event per snapshot built, which webhooks listen for.
    db.expire_all()
    ready = db.scalars(
        select(AuditLog).where(AuditLog.kind == "datasets.snapshot_ready").order_by(AuditLog.id)
    ).all()
    assert [(e.subject_type, e.subject_id, e.organisation_id, e.data) for e in ready] == [
        (
            "snapshot",
            str(snap["id"]),
            world.org_a.id,
            {"project_id": world.project_a.id, "number": 1},
        ),
        (
            "snapshot",
            str(second["id"]),
            world.org_a.id,
            {"project_id": world.project_a.id, "number": 2},
        ),
    ]


def test_the_same_snapshot_rebuilt_gives_the_same_bytes(  # type: ignore[no-untyped-def]
    login_as,
    world: World,
    db: Session,
    accepted: list[int],
    settings: Settings,
    tmp_path: Path,
    app,
) -> None:
    snap = ready_snapshot(login_as(world.operator), world.project_a.id)
    folder = settings.resolved_snapshots_dir() / f"p{world.project_a.id}" / "s1"
    original = {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
    assert "manifest.json" in original and "README.md" in original

    row = db.get(Snapshot, snap["id"])
    assert row is not None
    again = tmp_path / "again"
    result = tasks.write_snapshot(session=db, snapshot=row, settings=settings, out_dir=again)
    rebuilt = {
        p.relative_to(again).as_posix(): p.read_bytes() for p in again.rglob("*") if p.is_file()
    }
    assert sorted(rebuilt) == sorted(original)
    for path, content in original.items():
        assert rebuilt[path] == content, path
    assert result.manifest == snap["manifest"]

    # Running the job again (a redelivered message) leaves the ready snapshot as it was.
    stamp = {p: (folder / p).stat().st_mtime_ns for p in original}
    job = db.get(Job, snap["job_id"])
    assert job is not None
    job.status = JobStatus.queued
    db.commit()
    outcome = run_job(
        job_id=job.id,
        session_factory=app.state.jobs.session_factory,
        handlers=job_handlers(),
        services=app.state.jobs.services,
        heartbeat=False,
    )
    assert outcome.status == "done"
    db.expire_all()
    assert {p: (folder / p).stat().st_mtime_ns for p in original} == stamp
    assert db.get(Snapshot, snap["id"]).manifest == snap["manifest"]  # type: ignore[union-attr]
    assert (
        len(db.scalars(select(AuditLog).where(AuditLog.kind == "datasets.snapshot_ready")).all())
        == 1
    )


def test_only_operators_and_the_projects_clients_see_snapshots(  # type: ignore[no-untyped-def]
    login_as, world: World, accepted: list[int]
) -> None:
    snap = ready_snapshot(login_as(world.client_a), world.project_a.id)
    operator = login_as(world.operator)
    assert create(operator, world.project_a.id).status_code == 202
    assert operator.get(f"{API}/snapshots/{snap['id']}/archive").status_code == 200
    sid, p = snap["id"], world.project_a.id
    urls = [
        ("POST", f"{API}/projects/{p}/snapshots"),
        ("GET", f"{API}/projects/{p}/snapshots"),
        ("GET", f"{API}/snapshots/{sid}"),
        ("GET", f"{API}/snapshots/{sid}/archive"),
        ("GET", f"{API}/snapshots/{sid}/archive?format=tar"),
        ("GET", f"{API}/snapshots/{sid}/files/manifest.json"),
        ("GET", f"{API}/snapshots/{sid}/files/{snap['files'][0]['path']}"),
        ("GET", f"/projects/{p}/datasets"),
        ("POST", f"/projects/{p}/datasets"),
        ("GET", f"/projects/{p}/datasets/1"),
        ("GET", f"/projects/{p}/datasets/1/row"),
        ("GET", f"/projects/{p}/datasets/1/status"),
    ]
    # Experts and reviewers staffed on the project see it, but none of its datasets.
    for outsider in (world.expert_a, world.reviewer_a, world.client_b, world.expert_b):
        api = login_as(outsider)
        for method, url in urls:
            body = {"filters": {}} if method == "POST" and url.startswith(API) else None
            r = api.request(method, url, json=body)
            assert r.status_code == 404, (outsider.email, method, url, r.status_code)
    assert len(operator.get(f"{API}/projects/{p}/snapshots").json()["items"]) == 2


def test_files_outside_the_manifest_are_never_served(  # type: ignore[no-untyped-def]
    login_as, world: World, accepted: list[int], settings: Settings, tmp_path: Path
) -> None:
    client = login_as(world.client_a)
    snap = ready_snapshot(client, world.project_a.id)
    folder = settings.resolved_snapshots_dir() / f"p{world.project_a.id}" / "s1"
    (folder / "extra.txt").write_text("not in the manifest")
    outside = tmp_path / "outside.txt"
    outside.write_text("secret outside the folder")
    base = f"{API}/snapshots/{snap['id']}/files"
    for path in (
        "extra.txt",
        "%2e%2e/s1/manifest.json",
        "%2e%2e/%2e%2e/outside.txt",
        "data/%2e%2e/manifest.json",
        "..%2F..%2F..%2Foutside.txt",
        "%2Fetc%2Fpasswd",
        "/etc/passwd",
        "data",
        "",
    ):
        r = client.get(f"{base}/{path}")
        assert r.status_code == 404, (path, r.status_code)
        assert "secret" not in r.text
    # A listed file swapped for a link out of the folder is refused, not followed.
    listed = snap["files"][0]["path"]
    target = folder / listed
    target.unlink()
    target.symlink_to(outside)
    r = client.get(f"{base}/{listed}")
    assert r.status_code == 404 and "secret" not in r.text
    assert client.get(f"{API}/snapshots/{snap['id']}/archive").status_code == 200
    archive = client.get(f"{API}/snapshots/{snap['id']}/archive")
    assert b"secret outside" not in archive.content


def _quiet_queue(app) -> JobQueue:  # type: ignore[no-untyped-def]
    """A queue that records jobs but runs none (as if no worker were running)."""
    real: JobQueue = app.state.jobs
    return JobQueue(
        real.settings,
        real.session_factory,
        real.handlers,
        services=real.services,
        huey=MemoryHuey("quiet", immediate=False),
    )


def test_a_snapshot_not_ready_is_not_downloaded(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, accepted: list[int], app, settings: Settings
) -> None:
    from expertloop.datasets.folder import SnapshotFilters

    queue = _quiet_queue(app)
    row = snapshots.create_snapshot(
        session=db,
        queue=queue,
        actor=world.client_a,
        project_id=world.project_a.id,
        filters=SnapshotFilters(),
    )
    db.commit()
    client = login_as(world.client_a)
    got = client.get(f"{API}/snapshots/{row.id}").json()
    assert (got["status"], got["archive_url"], got["files"]) == ("building", None, [])
    for url in ("archive", "archive?format=tar", "files/manifest.json"):
        r = client.get(f"{API}/snapshots/{row.id}/{url}")
        assert r.status_code == 409, r.text
        assert r.json()["error"]["message"] == (
            "Snapshot 1 is building; it can be downloaded once ready."
        )
    page = client.get(f"/projects/{world.project_a.id}/datasets")
    assert f'hx-get="/projects/{world.project_a.id}/datasets/1/row"' in page.text
    assert f'href="/jobs/{row.job_id}"' in page.text

    # A worker killed mid-build left a temporary folder; the redo removes it and builds.
    root = settings.resolved_snapshots_dir()
    leftover = root / f"{tasks.TEMP_PREFIX}{row.id}-1-deadbeef"
    (leftover / "data").mkdir(parents=True)
    (leftover / "data" / "half.jsonl").write_text("{}\n")
    assert row.job_id is not None
    outcome = run_job(
        job_id=row.job_id,
        session_factory=queue.session_factory,
        handlers=queue.handlers,
        services=queue.services,
        heartbeat=False,
    )
    assert outcome.status == "done"
    assert not leftover.exists() and not list(root.glob(f"{tasks.TEMP_PREFIX}*"))
    assert client.get(f"{API}/snapshots/{row.id}").json()["status"] == "ready"
    row_html = client.get(f"/projects/{world.project_a.id}/datasets/1/row").text
    assert "hx-get" not in row_html and "ready" in row_html


def test_a_refused_build_fails_the_snapshot_and_a_crash_is_retried_cleanly(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, accepted: list[int], settings: Settings, monkeypatch
) -> None:
    real = tasks.build_snapshot_folder
    calls: list[str] = []

    def refuse(**kwargs: Any) -> Any:
        calls.append("refuse")
        kwargs["out_dir"].mkdir(parents=True, exist_ok=True)
        raise ValidationFailed("Nothing to export under these filters.")

    monkeypatch.setattr(tasks, "build_snapshot_folder", refuse)
    client = login_as(world.client_a)
    sid = create(client, world.project_a.id).json()["id"]
    got = client.get(f"{API}/snapshots/{sid}").json()
    assert (got["status"], got["error"]) == ("failed", "Nothing to export under these filters.")
    assert client.get(f"{API}/jobs/{got['job_id']}").json()["status"] == "failed"
    assert client.get(f"{API}/snapshots/{sid}/archive").status_code == 409
    assert calls == ["refuse"]

    def crash_once(**kwargs: Any) -> Any:
        calls.append("crash")
        if calls.count("crash") == 1:
            (kwargs["out_dir"] / "data").mkdir(parents=True)
            raise OSError("disk hiccup")
        return real(**kwargs)

    monkeypatch.setattr(tasks, "build_snapshot_folder", crash_once)
    second = create(client, world.project_a.id).json()
    got = client.get(f"{API}/snapshots/{second['id']}").json()
    assert got["status"] == "ready" and got["number"] == 2
    assert client.get(f"{API}/jobs/{got['job_id']}").json()["attempts"] == 2
    root = settings.resolved_snapshots_dir()
    assert not list(root.glob(f"{tasks.TEMP_PREFIX}*"))
    assert not (root / f"p{world.project_a.id}" / "s1").exists()


def test_idempotency_key_and_validation(login_as, world: World, accepted: list[int]) -> None:  # type: ignore[no-untyped-def]
    client = login_as(world.client_a)
    a = create(client, world.project_a.id, idempotency_key="nightly-2026-12-03")
    b = create(client, world.project_a.id, idempotency_key="nightly-2026-12-03")
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] == b.json()["id"] and b.json()["number"] == 1
    bad = [
        {"test_fraction": 1.5},
        {"test_fraction": -0.1},
        {"filters": {"accepted_from": "2026-02-01", "accepted_to": "2026-01-01"}},
        {"filters": {"accepted_from": "yesterday"}},
        {"filters": {"endpoint_ids": ["x"]}},
    ]
    for body in bad:
        r = client.post(f"{API}/projects/{world.project_a.id}/snapshots", json=body)
        assert r.status_code == 422, (body, r.text)
    assert client.get(f"{API}/projects/{world.project_a.id}/snapshots").json()["total"] == 1


def test_filters_are_kept_and_applied(login_as, world: World, accepted: list[int]) -> None:  # type: ignore[no-untyped-def]
    client = login_as(world.client_a)
    none = ready_snapshot(
        client, world.project_a.id, filters={"domain": "medicine", "accepted_to": "2020-01-01"}
    )
    assert none["filters"]["domain"] == "medicine"
    assert str(none["filters"]["accepted_to"]).startswith("2020-01-01")
    every = ready_snapshot(client, world.project_a.id, filters={"domain": "finance"})
    rows = lambda s: sum(f["rows"] or 0 for f in s["files"])  # noqa: E731
    assert rows(none) == 0 < rows(every)


def test_pages_datasets_tab_snapshot_page_and_the_projects_link(  # type: ignore[no-untyped-def]
    login_as, world: World, accepted: list[int]
) -> None:
    client = login_as(world.client_a)
    p = world.project_a.id
    tab = client.get(f"/projects/{p}/datasets")
    assert tab.status_code == 200 and 'data-testid="snapshots-empty"' in tab.text
    assert f'href="/projects/{p}/datasets"' in client.get(f"/projects/{p}").text
    for who in (world.expert_a, world.reviewer_a):
        assert f'href="/projects/{p}/datasets"' not in login_as(who).get(f"/projects/{p}").text
    assert f'href="/projects/{p}/datasets"' in login_as(world.operator).get(f"/projects/{p}").text

    made = client.post(
        f"/projects/{p}/datasets",
        data={"csrf_token": client.csrf, "test_percent": "20", "domain": "", "accepted_from": ""},
        follow_redirects=False,
    )
    assert (
        made.status_code == 303 and made.headers["location"] == f"/projects/{p}/datasets#snapshot-1"
    )
    bad = client.post(
        f"/projects/{p}/datasets",
        data={
            "csrf_token": client.csrf,
            "accepted_from": "2026-05-01",
            "accepted_to": "2026-01-01",
        },
    )
    assert bad.status_code == 422 and "after" in bad.text
    tab = client.get(f"/projects/{p}/datasets").text
    assert 'data-testid="snapshot-row"' in tab and 'data-status="ready"' in tab
    snap = client.get(f"{API}/projects/{p}/snapshots").json()["items"][0]
    assert snap["test_fraction"] == 0.2
    assert f'href="/api/v1/snapshots/{snap["id"]}/archive"' in tab

    page = client.get(f"/projects/{p}/datasets/1")
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="dataset-card"' in html
    card = html.split('data-testid="dataset-card">', 1)[1]
    assert not card.lstrip().startswith("---") and "configs:" not in card
    assert 'data-testid="snapshot-files"' in html
    for f in snap["files"]:
        assert f"/api/v1/snapshots/{snap['id']}/files/{f['path']}" in html
    assert '<script type="application/json" id="chart-errors-data">' in html
    spec = json.loads(html.split('id="chart-errors-data">', 1)[1].split("</script>", 1)[0])
    assert spec["labels"] == ["calculation error"] and spec["unit"] == "count"
    assert [d["data"] for d in spec["datasets"]] == [[2]]
    assert "onclick" not in html and "<script>" not in html
    assert client.get(f"/projects/{p}/datasets/9").status_code == 404
    status = client.get(f"/projects/{p}/datasets/1/status")
    assert status.status_code == 200 and status.headers.get("hx-refresh") == "true"


def test_a_snapshot_whose_job_ended_without_it_is_failed_by_the_chore(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, accepted: list[int], app
) -> None:
    from expertloop.datasets.folder import SnapshotFilters

    queue = _quiet_queue(app)
    row = snapshots.create_snapshot(
        session=db,
        queue=queue,
        actor=world.client_a,
        project_id=world.project_a.id,
        filters=SnapshotFilters(),
    )
    db.commit()
    assert tasks.settle_orphans(queue) == []
    # The reaper failed the job: its last worker died.
    job = db.get(Job, row.job_id)
    assert job is not None
    job.status, job.error = JobStatus.failed, "The worker stopped during the last attempt."
    db.commit()
    assert tasks.settle_orphans(queue) == [row.id]
    got = login_as(world.client_a).get(f"{API}/snapshots/{row.id}").json()
    assert (got["status"], got["error"]) == (
        "failed",
        "The worker stopped during the last attempt.",
    )
    assert tasks.settle_orphans(queue) == []
