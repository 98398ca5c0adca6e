"""Seed imports through the API: every format, all-or-nothing on a bad line deep in a big file,
duplicates, the size limit (413 before the body is read), refused content, and picking seeds up."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from expertloop.accounts import tokens as tokens_uc
from expertloop.datasets import import_tasks
from expertloop.datasets.models import ImportStatus, Seed, SeedImport
from expertloop.errors import ValidationFailed
from expertloop.jobs.models import Job
from expertloop.jobs.runner import JobContext
from expertloop.web.app import create_app
from expertloop.workbench.models import ProblemSet, Step
from tests.conftest import ApiClient, database_url, make_settings
from tests.factories import World, make_user, staff

API = "/api/v1"


def upload(  # type: ignore[no-untyped-def]
    api, project_id: int, body: bytes, filename: str, fmt: str | None = None
):
    params: dict[str, str] = {"filename": filename}
    if fmt:
        params["format"] = fmt
    return api.post(
        f"{API}/projects/{project_id}/imports",
        params=params,
        content=body,
        headers={"Content-Type": "application/octet-stream"},
    )


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def seed_count(db: Session, project_id: int) -> int:
    db.expire_all()
    return db.scalar(select(func.count(Seed.id)).where(Seed.project_id == project_id)) or 0


def job_count(db: Session) -> int:
    return db.scalar(select(func.count(Job.id)).where(Job.kind == "datasets.import_seeds")) or 0


def imported(api, response) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The import as it stands after its job ran (jobs run at once in tests)."""
    assert response.status_code == 202, response.text
    after = api.get(f"{API}/imports/{response.json()['id']}")
    assert after.status_code == 200, after.text
    return after.json()  # type: ignore[no-any-return]


def problems(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"ext-{i}",
            "title": f"Budget problem {i}",
            "statement": "Forecast next year's budget.",
            "domain": "finance",
            "prompts": ["List the cost lines.", "Forecast each line."],
            "difficulty": "hard",
        }
        for i in range(1, n + 1)
    ]


def test_jsonl_imports_every_seed(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    api = login_as(world.client_a)
    result = imported(api, upload(api, world.project_a.id, jsonl(problems(3)), "seeds.jsonl"))
    assert result["status"] == "imported"
    assert result["rows_total"] == result["rows_imported"] == 3
    assert result["format"] == "jsonl" and result["error_count"] == 0
    assert result["finished_at"] is not None and result["duplicate"] is False
    page = api.get(f"{API}/projects/{world.project_a.id}/seeds").json()
    assert page["total"] == 3
    first = page["items"][0]
    assert first["external_id"] == "ext-1" and first["line"] == 1
    assert first["prompts"] == ["List the cost lines.", "Forecast each line."]
    assert first["extra"] == {"difficulty": "hard"}
    listed = api.get(f"{API}/projects/{world.project_a.id}/imports").json()
    assert [i["id"] for i in listed["items"]] == [result["id"]]
    assert api.get(f"/jobs/{result['job_id']}").status_code == 200


def test_bad_line_deep_in_jsonl_commits_nothing(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    rows = problems(5_000)
    rows[3_999]["prompts"] = ["fine", 42]  # line 4,000
    api = login_as(world.client_a)
    result = imported(api, upload(api, world.project_a.id, jsonl(rows), "big.jsonl"))
    assert result["status"] == "failed"
    assert result["rows_total"] == 5_000 and result["rows_imported"] == 0
    assert result["error_count"] == 1
    assert result["errors"] == [{"line": 4000, "field": "prompts[2]", "message": "Must be text."}]
    assert seed_count(db, world.project_a.id) == 0
    job = api.get(f"{API}/jobs/{result['job_id']}").json()
    assert job["status"] == "failed" and "line 4000, field prompts[2]" in job["error"]
    # The same file again: the same import, nothing new (no seeds, no job).
    jobs_before = job_count(db)
    again = upload(api, world.project_a.id, jsonl(rows), "big-again.jsonl")
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True and again.json()["id"] == result["id"]
    assert job_count(db) == jobs_before
    assert seed_count(db, world.project_a.id) == 0


def test_bad_csv_record_reports_its_physical_line(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["external_id", "title", "statement", "prompts"])
    for i in range(1, 3_001):
        statement = "Line one\r\nline two" if i == 10 else "One line."  # a record over 2 lines
        prompts = json.dumps(["Do it."]) if i != 2_500 else "not a list"
        writer.writerow([f"c{i}", f"CSV problem {i}", statement, prompts])
    api = login_as(world.client_a)
    result = imported(api, upload(api, world.project_a.id, out.getvalue().encode(), "s.csv"))
    assert result["status"] == "failed"
    # Header is line 1, record i starts on line i + 1, plus one for record 10's second line.
    assert [(e["line"], e["field"]) for e in result["errors"]] == [(2_502, "prompts")]
    assert seed_count(db, world.project_a.id) == 0


def test_csv_imports_and_normalises_newlines(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    body = (
        b"title,statement,prompt,region\r\n"
        b'Quarterly plan,"First line\r\nsecond line",Draft the plan.,EMEA\r\n'
        b",,Only a prompt with no title at all but long enough to be cut somewhere "
        b"after eighty characters for its title,APAC\r\n"
    )
    api = login_as(world.client_a)
    result = imported(api, upload(api, world.project_a.id, body, "plan.csv"))
    assert result["status"] == "imported", result
    items = api.get(f"{API}/projects/{world.project_a.id}/seeds").json()["items"]
    assert items[0]["statement"] == "First line\nsecond line"
    assert items[0]["prompts"] == ["Draft the plan."] and items[0]["extra"] == {"region": "EMEA"}
    assert items[1]["title"] == items[1]["prompts"][0][:80] and len(items[1]["title"]) == 80
    assert [i["line"] for i in items] == [2, 4]


def test_crlf_in_jsonl_is_normalised(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    body = b'{"title": "T", "context": "a\\r\\nb\\rc", "prompt": "p"}\r\n{"title": "U"}\r\n'
    api = login_as(world.client_a)
    assert imported(api, upload(api, world.project_a.id, body, "s.jsonl"))["status"] == "imported"
    items = api.get(f"{API}/projects/{world.project_a.id}/seeds").json()["items"]
    assert items[0]["context"] == "a\nb\nc"
    assert items[1]["prompts"] == []


def test_nul_is_refused_with_its_line(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    rows = problems(3)
    rows[1]["statement"] = "before\u0000after"
    api = login_as(world.client_a)
    result = imported(api, upload(api, world.project_a.id, jsonl(rows), "s.jsonl"))
    assert result["status"] == "failed"
    (error,) = result["errors"]
    assert (error["line"], error["field"]) == (2, "statement")
    assert "U+0000" in error["message"]
    assert seed_count(db, world.project_a.id) == 0


def test_every_error_is_counted_and_the_first_hundred_kept(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    body = b"".join(b'{"statement": "no title"}\n' for _ in range(150)) + b"not json\n"
    api = login_as(world.client_a)
    result = imported(api, upload(api, world.project_a.id, body, "s.jsonl"))
    assert result["error_count"] == 151 and len(result["errors"]) == 100
    assert result["errors"][0] == {
        "line": 1,
        "field": "title",
        "message": "A seed needs a title, or a prompt to take one from.",
    }


def test_label_studio_export_imports(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    # The shape Label Studio 1.x exports as JSON: tasks with data, annotations and more.
    export = [
        {
            "id": 101,
            "data": {"text": "Summarise the contract's termination clauses.", "lang": "en"},
            "annotations": [
                {
                    "id": 7,
                    "completed_by": 1,
                    "result": [
                        {
                            "value": {"choices": ["Positive"]},
                            "id": "a1",
                            "from_name": "sentiment",
                            "to_name": "text",
                            "type": "choices",
                        }
                    ],
                    "was_cancelled": False,
                    "ground_truth": False,
                    "created_at": "2024-05-01T10:00:00.000000Z",
                    "lead_time": 3.2,
                }
            ],
            "predictions": [],
            "meta": {},
            "created_at": "2024-05-01T09:00:00.000000Z",
            "updated_at": "2024-05-01T10:00:00.000000Z",
            "inner_id": 1,
            "total_annotations": 1,
            "project": 3,
        },
        {
            "id": 102,
            "data": {"title": "Lease review", "prompts": ["Find the rent.", "Find the term."]},
            "annotations": [],
        },
    ]
    api = login_as(world.client_a)
    body = json.dumps(export, indent=2).encode()
    result = imported(api, upload(api, world.project_a.id, body, "project-3-at-2024.json"))
    assert result["status"] == "imported" and result["format"] == "label_studio", result
    items = api.get(f"{API}/projects/{world.project_a.id}/seeds").json()["items"]
    assert [i["external_id"] for i in items] == ["101", "102"]
    assert items[0]["prompts"] == ["Summarise the contract's termination clauses."]
    assert items[0]["extra"] == {"lang": "en"}  # the annotations are not imported
    assert items[1]["title"] == "Lease review" and len(items[1]["prompts"]) == 2
    assert [i["line"] for i in items] == [1, 2]


def test_label_studio_task_errors_name_the_task(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    export = [{"id": 1, "data": {"text": "ok"}}, {"id": 2}, {"id": 3, "data": {"text": 5}}]
    api = login_as(world.client_a)
    body = json.dumps(export).encode()
    result = imported(api, upload(api, world.project_a.id, body, "x", fmt="label_studio"))
    assert [(e["line"], e["field"]) for e in result["errors"]] == [(2, ""), (3, "prompt")]


def test_parquet_imports(login_as, world: World, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    table = pa.table(
        {
            "external_id": ["p1", "p2"],
            "title": ["Parquet one", None],
            "prompts": [["a", "b"], ["Only prompt"]],
            "score": [1.5, 2.0],
        }
    )
    path = tmp_path / "s.parquet"
    pq.write_table(table, path)
    api = login_as(world.client_a)
    result = imported(api, upload(api, world.project_a.id, path.read_bytes(), "s.parquet"))
    assert result["status"] == "imported", result
    items = api.get(f"{API}/projects/{world.project_a.id}/seeds").json()["items"]
    assert [(i["external_id"], i["title"], i["line"]) for i in items] == [
        ("p1", "Parquet one", 1),
        ("p2", "Only prompt", 2),
    ]
    assert items[0]["extra"] == {"score": 1.5}


def test_parquet_errors_name_the_row(login_as, world: World, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"title": ["ok", "x" * 301, "fine"]}), path)
    api = login_as(world.client_a)
    result = imported(api, upload(api, world.project_a.id, path.read_bytes(), "bad.parquet"))
    assert [(e["line"], e["field"]) for e in result["errors"]] == [(2, "title")]


@pytest.mark.parametrize(
    ("magic", "name"), [(b"\x1f\x8b\x08\x00\x00\x00", "gzip"), (b"PK\x03\x04\x14\x00", "zip")]
)
def test_compressed_upload_is_refused(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, settings, magic: bytes, name: str
) -> None:
    api = login_as(world.client_a)
    before = set((settings.data_dir / "uploads").glob("*"))
    r = upload(api, world.project_a.id, magic + b"\x00" * 100, "seeds.jsonl")
    assert r.status_code == 422, r.text
    assert f"{name}-compressed" in r.json()["error"]["message"]
    assert db.scalar(select(func.count(SeedImport.id))) == 0
    assert set((settings.data_dir / "uploads").glob("*")) == before


def test_unknown_format_names_the_accepted_ones(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    api = login_as(world.client_a)
    r = upload(api, world.project_a.id, b"a,b\n", "seeds.xlsx")
    assert r.status_code == 422
    assert "jsonl, csv, parquet, label_studio" in r.json()["error"]["message"]
    r = upload(api, world.project_a.id, b"a,b\n", "seeds.csv", fmt="excel")
    assert r.status_code == 422 and "label_studio" in r.json()["error"]["message"]


def test_filename_is_never_a_path(login_as, world: World, settings) -> None:  # type: ignore[no-untyped-def]
    api = login_as(world.client_a)
    r = upload(api, world.project_a.id, jsonl(problems(1)), "../../etc/passwd.jsonl")
    result = imported(api, r)
    assert result["filename"] == "passwd.jsonl" and result["status"] == "imported"
    assert not (settings.data_dir.parent / "etc").exists()


@pytest.fixture
def small_limit_client(  # type: ignore[no-untyped-def]
    db_root: Path, tmp_path: Path, session_factory: sessionmaker[Session]
):
    """The app with a 2 KiB import limit."""
    cfg = make_settings(database_url(db_root), tmp_path, import_max_bytes=2048)
    app = create_app(cfg, session_factory=session_factory)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as c:
        yield app, c, cfg


def test_oversized_upload_gets_413(small_limit_client, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    _app, client, cfg = small_limit_client
    api = ApiClient(client, world.client_a)
    r = upload(api, world.project_a.id, jsonl(problems(40)), "big.jsonl")
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "payload_too_large"
    assert db.scalar(select(func.count(SeedImport.id))) == 0
    assert list((cfg.data_dir / "uploads").glob("*")) == []
    # Within the limit, the same app imports.
    assert (
        imported(api, upload(api, world.project_a.id, jsonl(problems(2)), "s.jsonl"))[
            "rows_imported"
        ]
        == 2
    )


def test_streamed_upload_without_length_stops_at_the_limit(
    small_limit_client, world: World
) -> None:  # type: ignore[no-untyped-def]
    _app, client, cfg = small_limit_client
    api = ApiClient(client, world.client_a)

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b'{"title": "x"}\n' * 20

    r = api.post(
        f"{API}/projects/{world.project_a.id}/imports",
        params={"filename": "s.jsonl"},
        content=chunks(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 413, r.text
    assert list((cfg.data_dir / "uploads").glob("*")) == []


def test_huge_content_length_is_refused_before_the_body_is_read(  # type: ignore[no-untyped-def]
    small_limit_client, world: World, db: Session
) -> None:
    app, _client, _cfg = small_limit_client
    secret, _token = tokens_uc.create_token(session=db, user=world.client_a, name="upload")
    db.commit()
    reads: list[dict[str, Any]] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        reads.append({})
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
        "root_path": "",
        "path": f"{API}/projects/{world.project_a.id}/imports",
        "raw_path": f"{API}/projects/{world.project_a.id}/imports".encode(),
        "query_string": b"filename=s.jsonl",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {secret}".encode()),
            (b"content-type", b"application/octet-stream"),
            (b"content-length", str(10 * 1024**3).encode()),
        ],
        "state": {},
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 413
    assert reads == []  # not one byte of the body was read
    assert db.scalar(select(func.count(SeedImport.id))) == 0


def test_imports_belong_to_the_client(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    client = login_as(world.client_a)
    result = imported(client, upload(client, world.project_a.id, jsonl(problems(1)), "s.jsonl"))
    expert = login_as(world.expert_a)
    assert upload(expert, world.project_a.id, jsonl(problems(2)), "s.jsonl").status_code == 404
    assert expert.get(f"{API}/imports/{result['id']}").status_code == 404
    assert expert.get(f"{API}/projects/{world.project_a.id}/imports").status_code == 404
    # ... but a staffed expert sees the seeds.
    assert expert.get(f"{API}/projects/{world.project_a.id}/seeds").json()["total"] == 1
    operator = login_as(world.operator)
    assert operator.get(f"{API}/imports/{result['id']}").status_code == 200
    r = upload(operator, world.project_a.id, jsonl(problems(2)), "s.jsonl")
    assert imported(operator, r)["rows_imported"] == 2


def test_pick_up_creates_a_problem_set_with_steps(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {
            "title": "Budget 2027",
            "statement": "Draw up next year's budget.",
            "context": "Revenue 1.2M",
            "domain": "corporate finance",
            "prompts": ["List the cost lines.", "Forecast each line."],
        },
        {"prompt": "A single prompt"},
    ]
    client = login_as(world.client_a)
    imported(client, upload(client, world.project_a.id, jsonl(rows), "s.jsonl"))
    expert = login_as(world.expert_a)
    available = expert.get(f"{API}/projects/{world.project_a.id}/seeds?available=true").json()
    assert available["total"] == 2
    seed_id = available["items"][0]["id"]
    r = expert.post(f"{API}/seeds/{seed_id}/pick-up")
    assert r.status_code == 201, r.text
    picked = r.json()
    ps = db.get(ProblemSet, picked["problem_set_id"])
    assert ps is not None and ps.author_id == world.expert_a.id
    assert (ps.title, ps.statement, ps.context, ps.domain) == (
        "Budget 2027",
        "Draw up next year's budget.",
        "Revenue 1.2M",
        "corporate finance",
    )
    steps = list(
        db.scalars(select(Step).where(Step.problem_set_id == ps.id).order_by(Step.position))
    )
    assert [s.draft_prompt for s in steps] == ["List the cost lines.", "Forecast each line."]
    assert picked["step_ids"] == [s.id for s in steps]
    assert picked["seed"]["picked_by_id"] == world.expert_a.id
    assert picked["seed"]["problem_set_id"] == ps.id and picked["seed"]["picked_at"]
    assert expert.get(f"/problem-sets/{ps.id}").status_code == 200
    # Picked once only: the expert again, or another staffed expert, gets 409.
    again = expert.post(f"{API}/seeds/{seed_id}/pick-up")
    assert again.status_code == 409
    assert again.json()["error"]["details"]["problem_set_id"] == ps.id
    other = make_user(db, world.expert_a.role)
    staff(db, world.project_a, other)
    db.commit()
    assert login_as(other).post(f"{API}/seeds/{seed_id}/pick-up").status_code == 409
    left = expert.get(f"{API}/projects/{world.project_a.id}/seeds?available=true").json()
    assert [s["id"] for s in left["items"]] == [available["items"][1]["id"]]
    picked_list = expert.get(f"{API}/projects/{world.project_a.id}/seeds?available=false").json()
    assert [s["id"] for s in picked_list["items"]] == [seed_id]


def test_pick_up_is_for_staffed_experts(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as(world.client_a)
    imported(client, upload(client, world.project_a.id, jsonl(problems(1)), "s.jsonl"))
    seed_id = client.get(f"{API}/projects/{world.project_a.id}/seeds").json()["items"][0]["id"]
    # expert_b is staffed on B's project only: A's seed does not exist for them.
    outsider = login_as(world.expert_b)
    assert outsider.post(f"{API}/seeds/{seed_id}/pick-up").status_code == 404
    assert outsider.get(f"{API}/seeds/{seed_id}").status_code == 404
    unstaffed = make_user(db, world.expert_a.role)
    db.commit()
    assert login_as(unstaffed).post(f"{API}/seeds/{seed_id}/pick-up").status_code == 404
    # The client sees the seed but does not write problem sets.
    assert client.post(f"{API}/seeds/{seed_id}/pick-up").status_code == 403
    db.expire_all()
    seed = db.get(Seed, seed_id)
    assert seed is not None and seed.picked_at is None


def test_import_is_idempotent_when_its_job_is_delivered_again(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app
) -> None:
    api = login_as(world.client_a)
    result = imported(api, upload(api, world.project_a.id, jsonl(problems(3)), "s.jsonl"))
    job = db.get(Job, result["job_id"])
    assert job is not None
    # A second delivery of the same job (at least once): the handler finds it imported.
    ctx = JobContext(
        job_id=job.id,
        kind=job.kind,
        payload=dict(job.payload),
        attempt=job.attempts,
        created_by_id=job.created_by_id,
        organisation_id=job.organisation_id,
        project_id=job.project_id,
        session_factory=app.state.session_factory,
        services=app.state.jobs.services,
    )
    outcome = app.state.jobs.handlers["datasets.import_seeds"](ctx)
    assert outcome["status"] == "imported" and outcome["rows_imported"] == 3
    assert seed_count(db, world.project_a.id) == 3
    db.expire_all()
    row = db.get(SeedImport, result["id"])
    assert row is not None and row.status == ImportStatus.imported


# --- Pages ---------------------------------------------------------------------------------------


def page_upload(api, project_id: int, body: bytes, filename: str, **form: str):  # type: ignore[no-untyped-def]
    """Post the page's multipart form (CSRF token in the form, as a browser sends it)."""
    return api.client.post(
        f"/projects/{project_id}/imports",
        data={"csrf_token": api.csrf, **form},
        files={"file": (filename, body, "application/octet-stream")},
        follow_redirects=False,
    )


def test_import_page_uploads_and_shows_line_numbered_errors(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    api = login_as(world.client_a)
    page = api.get(f"/projects/{world.project_a.id}/imports")
    assert page.status_code == 200 and "No imports yet" in page.text
    bad = b'title,prompts\nGood,"[""a""]"\nBad,not-json\n'
    r = page_upload(api, world.project_a.id, bad, "seeds.csv")
    assert (
        r.status_code == 303 and r.headers["location"] == f"/projects/{world.project_a.id}/imports"
    )
    page = api.get(f"/projects/{world.project_a.id}/imports").text
    assert 'data-status="failed"' in page and "<td>3</td><td><code>prompts</code></td>" in page
    good = b'title,prompts\nGood,"[""a""]"\n'
    assert page_upload(api, world.project_a.id, good, "seeds.csv").status_code == 303
    listed = api.get(f"{API}/projects/{world.project_a.id}/imports").json()["items"]
    assert [i["status"] for i in listed] == ["imported", "failed"]
    card = api.get(f"/imports/{listed[0]['id']}/card")
    assert card.status_code == 200 and "1 seed imported" in card.text and "hx-get" not in card.text
    assert (
        f'href="/projects/{world.project_a.id}/imports"'
        in api.get(f"/projects/{world.project_a.id}").text
    )


def test_import_page_explains_a_refusal(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    api = login_as(world.client_a)
    r = page_upload(api, world.project_a.id, b"\x1f\x8b\x08\x00\x00\x00\x00", "seeds.jsonl")
    assert r.status_code == 422 and "gzip-compressed" in r.text
    r = page_upload(api, world.project_a.id, b"x", "seeds.xlsx")
    assert r.status_code == 422 and "label_studio" in r.text


def test_import_page_post_needs_the_csrf_token(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    api = login_as(world.client_a)
    r = api.client.post(
        f"/projects/{world.project_a.id}/imports",
        data={"csrf_token": "forged"},
        files={"file": ("s.jsonl", jsonl(problems(1)), "application/octet-stream")},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert db.scalar(select(func.count(SeedImport.id))) == 0


def test_import_page_refuses_an_oversized_form_before_parsing(
    small_limit_client, world: World
) -> None:  # type: ignore[no-untyped-def]
    _app, client, cfg = small_limit_client
    api = ApiClient(client, world.client_a)
    r = page_upload(api, world.project_a.id, b'{"title": "x"}\n' * 10_000, "s.jsonl")
    assert r.status_code == 413
    assert list((cfg.data_dir / "uploads").glob("*")) == []


def test_import_page_is_not_for_experts(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    expert = login_as(world.expert_a)
    assert expert.get(f"/projects/{world.project_a.id}/imports").status_code == 404
    r = page_upload(expert, world.project_a.id, jsonl(problems(1)), "s.jsonl")
    assert r.status_code == 404
    assert 'data-testid="imports-link"' not in expert.get(f"/projects/{world.project_a.id}").text


def test_experts_pick_up_seeds_from_the_problem_sets_page(
    login_as, world: World, db: Session
) -> None:  # type: ignore[no-untyped-def]
    client = login_as(world.client_a)
    imported(client, upload(client, world.project_a.id, jsonl(problems(2)), "s.jsonl"))
    assert "Seeds to pick up" not in client.get(f"/projects/{world.project_a.id}/problem-sets").text
    expert = login_as(world.expert_a)
    page = expert.get(f"/projects/{world.project_a.id}/problem-sets").text
    assert "Seeds to pick up" in page and "Budget problem 1" in page
    seed_id = expert.get(f"{API}/projects/{world.project_a.id}/seeds").json()["items"][0]["id"]
    r = expert.client.post(
        f"/seeds/{seed_id}/pick-up", data={"csrf_token": expert.csrf}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/problem-sets/")
    assert "Budget problem 1" in expert.get(r.headers["location"]).text
    page = expert.get(f"/projects/{world.project_a.id}/problem-sets").text
    assert "Budget problem 2" in page and "(1)" in page
    again = expert.client.post(f"/seeds/{seed_id}/pick-up", data={"csrf_token": expert.csrf})
    assert again.status_code == 409


def test_a_crash_mid_insert_leaves_nothing_and_the_retry_starts_over(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = import_tasks._insert_spooled
    calls: list[int] = []

    def crash_after_first_chunk(session, spool):  # type: ignore[no-untyped-def]
        calls.append(1)
        count = real(session, spool)
        if len(calls) == 1:  # every row is in, the commit not yet made: the worker dies
            assert count == 12_000
            raise RuntimeError("the worker died mid-insert")
        return count

    monkeypatch.setattr(import_tasks, "_insert_spooled", crash_after_first_chunk)
    api = login_as(world.client_a)
    result = imported(api, upload(api, world.project_a.id, jsonl(problems(12_000)), "s.jsonl"))
    assert len(calls) == 2
    assert result["status"] == "imported" and result["rows_imported"] == 12_000
    assert seed_count(db, world.project_a.id) == 12_000  # the first attempt left none
    job = db.get(Job, result["job_id"])
    assert job is not None and job.attempts == 2


def test_an_import_stopped_without_a_verdict_runs_again_on_reupload(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise ValidationFailed("The disk went away.")

    body = jsonl(problems(2))
    api = login_as(world.client_a)
    with monkeypatch.context() as patch:
        patch.setattr(import_tasks, "_check", refuse)
        first = imported(api, upload(api, world.project_a.id, body, "s.jsonl"))
    assert first["status"] == "failed" and first["error_count"] == 0
    assert first["errors"] == [{"line": 0, "field": "", "message": "The disk went away."}]
    again = upload(api, world.project_a.id, body, "s.jsonl")
    assert again.status_code == 202 and again.json()["duplicate"] is False
    assert again.json()["id"] == first["id"] and again.json()["job_id"] != first["job_id"]
    done = api.get(f"{API}/imports/{first['id']}").json()
    assert done["status"] == "imported" and done["rows_imported"] == 2
