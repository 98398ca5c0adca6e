"""The Python client against a real server: uvicorn on a free port in a thread, jobs through the
Huey SQLite queue and the server's in-process worker (``jobs_immediate=False``).

The worked example of docs/client.md, as a client of Northwind would run it: log in (a token),
create a project, import seeds and follow the import's job, list the seeds, create a snapshot of
the accepted problem sets (one is written through the workbench's use cases, since doing the
work is not the client's job), wait for its job, download and unpack it with every file's sha256
checked, and load a format with ``datasets``. The server has its own SQLite file (committed
data, never the rolled-back test transaction), like the browser tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from expertloop.accounts.models import Role, User
from expertloop.cli.demo_accepted import write_accepted
from expertloop.client import (
    AsyncExpertLoop,
    AuthenticationError,
    ExpertLoop,
    ExpertLoopError,
    Job,
    NotFound,
    PayloadTooLarge,
    ValidationError,
)
from expertloop.db import make_engine, make_session_factory, transaction, upgrade
from expertloop.llm.hub import ModelHub
from expertloop.projects import projects as projects_uc
from expertloop.projects.models import StaffRole
from expertloop.settings import Settings
from expertloop.web.app import create_app
from tests.conftest import make_settings
from tests.factories import PASSWORD, make_org, make_user, scripted_target

START_TIMEOUT = 20.0
UPLOAD_LIMIT = 256 * 1024  # small, so that the 413 test needs no big file

SEEDS = [
    {
        "id": "nw-001",
        "title": "Quarter-end accruals for the Harbour Street store",
        "statement": "List the accruals the store must book at quarter end and why.",
        "domain": "finance",
        "prompts": ["Which invoices received after 31 March belong to Q1?"],
    },
    {
        "id": "nw-002",
        "title": "Stock write-down after the February flood",
        "statement": "Value the damaged stock and draft the journal entry.",
        "domain": "finance",
        "prompt": "Damaged stock cost 12,400; salvage value is 1,900. What is the write-down?",
    },
    {
        "id": "nw-003",
        "title": "Café budget in dirhams (درهم) ☕",
        "statement": "Budget the Mill Lane café's first quarter.",
        "domain": "finance",
        "prompt": "Rent is 7,400 a month; staff 9,800. What is the quarter's fixed cost?",
    },
]


@dataclass(frozen=True)
class Live:
    base_url: str
    tmp: Path
    factory: sessionmaker[Session]  # the server's database, for the work "the experts" do
    settings: Settings
    client_email: str
    operator_id: int
    expert_id: int
    reviewer_id: int


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Serve a freshly migrated app with its worker; yield where it is and who is in it."""
    tmp = tmp_path_factory.mktemp("client")
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = make_settings(
        f"sqlite:///{tmp / 'client.sqlite3'}",
        tmp,
        base_url=base_url,
        jobs_immediate=False,
        import_max_bytes=UPLOAD_LIMIT,
    )
    engine = make_engine(settings)
    upgrade(engine)
    factory = make_session_factory(engine)
    with transaction(factory) as db:
        make_org(db, name="Northwind Analytics")
        operator = make_user(db, Role.operator)
        client = make_user(db, Role.client, make_org(db, name="Northwind Retail"))
        expert = make_user(db, Role.expert, name="Kenji Watanabe")
        reviewer = make_user(db, Role.reviewer, name="Rosa Reviewer")
        ids = (operator.id, expert.id, reviewer.id)
        client_email = client.email
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, with_worker=True),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, name="client-uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive():
                pytest.fail("The server thread died during start-up (see the log above).")
            if time.monotonic() > deadline:
                pytest.fail(f"The server did not start within {START_TIMEOUT}s.")
            time.sleep(0.05)
        yield Live(base_url, tmp, factory, settings, client_email, *ids)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        engine.dispose()


def _accept_a_problem_set(live: Live, project_id: int) -> int:
    """Staff an expert and a reviewer, add a model, and have them do and accept the work."""
    with transaction(live.factory) as db:
        operator, expert, reviewer = (
            db.get(User, i) for i in (live.operator_id, live.expert_id, live.reviewer_id)
        )
        assert operator and expert and reviewer
        project = projects_uc.get_project(session=db, project_id=project_id, actor=operator)
        for user, role in ((expert, StaffRole.expert), (reviewer, StaffRole.lead)):
            projects_uc.staff_user(
                session=db, actor=operator, project=project, user_id=user.id, role=role
            )
        endpoint = scripted_target(db, ModelHub.from_settings(live.settings), project)
        ps = write_accepted(
            session=db,
            author=expert,
            reviewer=reviewer,
            project_id=project.id,
            endpoint=endpoint,
        )
        return ps.id


def test_the_worked_example(live: Live) -> None:
    # 1. Log in: the password makes an API token; the client uses only that token from here.
    el = ExpertLoop.login(live.base_url, live.client_email, PASSWORD, token_name="worked example")
    with el:
        assert el.token is not None and el.token.startswith("elk_")
        me = el.me()
        assert (me.email, me.role) == (live.client_email, "client")

        # 2. A project.
        project = el.create_project(
            "Finance agent evaluation",
            description="Probe our finance assistant on budgeting and forecasting.",
            domain="finance",
            guidelines="# Guidelines\n\nReal figures, one decision per problem.",
        )
        assert project.organisation_id == me.organisation_id and project.version == 1
        assert el.get_project(project.id) == project
        assert project.id in [p.id for p in el.list_projects()]

        # 3. Seeds from a JSONL file, streamed from disk; the import is a job on the queue.
        seeds_file = live.tmp / "seeds.jsonl"
        seeds_file.write_text(
            "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in SEEDS), encoding="utf-8"
        )
        queued = el.import_seeds(project.id, seeds_file)
        assert queued.filename == "seeds.jsonl" and queued.format == "jsonl"
        assert queued.status in ("queued", "validating", "imported") and not queued.duplicate
        assert queued.job_id is not None
        seen: list[Job] = []
        job = el.wait_for_job(queued.job_id, timeout=60, poll=0.1, on_progress=seen.append)
        assert job.status == "done" and seen and seen[-1].status == "done"
        imported = el.wait_for_import(queued.id, timeout=30, poll=0.1)
        assert (imported.status, imported.rows_imported, imported.error_count) == ("imported", 3, 0)
        assert el.get_import(queued.id).rows_total == 3
        # The same content again creates nothing new.
        again = el.import_seeds(project.id, seeds_file.read_bytes(), filename="seeds-again.jsonl")
        assert again.duplicate and again.id == queued.id

        seeds = el.list_seeds(project.id)
        assert [s.external_id for s in seeds] == ["nw-001", "nw-002", "nw-003"]
        assert seeds[2].title == SEEDS[2]["title"]  # Arabic and emoji round-trip
        assert seeds[0].prompts == tuple(SEEDS[0]["prompts"])  # type: ignore[arg-type]

        # 4. The experts do the work (not the client's job): one accepted problem set.
        accepted_id = _accept_a_problem_set(live, project.id)
        accepted = el.list_problem_sets(project.id, status="accepted")
        assert [p.id for p in accepted] == [accepted_id]

        # 5. A snapshot, built by a job; wait for it.
        snapshot = el.create_snapshot(project.id, domain="finance", test_fraction=0.0)
        assert snapshot.status in ("building", "ready") and snapshot.number == 1
        progress: list[Job] = []
        snapshot = el.wait_for_snapshot(
            snapshot.id, timeout=240, poll=0.2, on_progress=progress.append
        )
        assert snapshot.ready and snapshot.files and snapshot.manifest is not None
        assert progress and progress[-1].status == "done"
        assert [s.id for s in el.list_snapshots(project.id)] == [snapshot.id]

        # 6. Download and unpack it: the client checks every file against the manifest.
        folder = el.download_snapshot(snapshot.id, live.tmp / "download", extract=True)
        assert (folder / "manifest.json").is_file() and (folder / "README.md").is_file()
        for listed in snapshot.files:
            data = (folder / listed.path).read_bytes()
            assert hashlib.sha256(data).hexdigest() == listed.sha256
            assert len(data) == listed.bytes
        assert not list((live.tmp / "download").glob("*.zip"))  # the archive is not kept

        # 7. One format loads with Hugging Face datasets, as the file says.
        import datasets

        jsonl = next(
            f for f in snapshot.files if f.path.endswith(".jsonl") and "openai-sft" in f.path
        )
        loaded = datasets.load_dataset(
            "json", data_files=str(folder / jsonl.path), split="train", cache_dir=str(live.tmp)
        )
        assert loaded.num_rows == jsonl.rows and loaded.num_rows > 0
        assert "messages" in loaded.column_names

        # 8. One file alone, and the archive as a tar (not unpacked).
        one = el.download_file(snapshot.id, jsonl.path, live.tmp / "one.jsonl")
        assert one.read_bytes() == (folder / jsonl.path).read_bytes()
        tar = el.download_snapshot(snapshot.id, live.tmp / "snapshot.tar", format="tar")
        with tarfile.open(tar) as archive:
            names = archive.getnames()
        assert any(n.endswith("/manifest.json") for n in names)


def test_errors_map_to_their_exception_classes(live: Live) -> None:
    with ExpertLoop.login(live.base_url, live.client_email, PASSWORD) as el:
        with pytest.raises(NotFound) as missing:
            el.get_project(987_654)
        assert (missing.value.status, missing.value.code) == (404, "not_found")
        assert missing.value.message
        with pytest.raises(ValidationError) as invalid:
            el.create_project("")
        assert invalid.value.status == 422 and invalid.value.details.get("problems")
        project = el.create_project("Uploads", domain="finance")
        with pytest.raises(PayloadTooLarge) as too_large:
            el.import_seeds(project.id, b"{}\n" * (UPLOAD_LIMIT // 3 + 10), filename="big.jsonl")
        assert too_large.value.status == 413
        assert not el.list_imports(project.id)
        el.logout()  # revokes the token
        with pytest.raises(AuthenticationError) as revoked:
            el.me()
        assert revoked.value.status == 401
    with pytest.raises(AuthenticationError):
        ExpertLoop.login(live.base_url, live.client_email, "not-the-password")
    with ExpertLoop(live.base_url, "elk_not-a-token") as anonymous:
        with pytest.raises(ExpertLoopError) as bad:
            anonymous.list_projects()
        assert isinstance(bad.value, AuthenticationError)


def test_the_async_client_makes_the_same_calls(live: Live) -> None:
    async def main() -> tuple[str, list[int], str]:
        el = await AsyncExpertLoop.login(live.base_url, live.client_email, PASSWORD)
        async with el:
            me = await el.me()
            project = await el.create_project("Async project", domain="finance")
            projects = await el.list_projects()
            try:
                await el.get_project(987_654)
            except NotFound as exc:
                code = exc.code
            return me.email, [p.id for p in projects if p.id == project.id], code

    email, found, code = asyncio.run(main())
    assert email == live.client_email and len(found) == 1 and code == "not_found"
