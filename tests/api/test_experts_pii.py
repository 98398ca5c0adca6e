"""PII: clients and other experts reach no contact data or résumé through any route or export.

An expert, Pia, has an account and a profile whose email, phone, résumé, links and the operator's
private note on her candidacy each carry a unique marker. She is staffed on A's project with a
draft and an accepted problem set (reviewed by A's reviewer), an approved week of time, and she
came in through expert A's referral link (who earned a referral bonus for her). Then every GET
route the app registers — the ones added later by other parts too, since the walk reads the
routers — is requested with its path filled with real ids (and each ``format`` an export knows),
as A's client, as expert A (her referrer, staffed beside her), as A's reviewer and as an expert
of another project; no answer may hold a marker, whatever its status. A dataset snapshot of the
project (every file and both archives) holds none either. The operator, who may see contact
data, is the control: the markers are found where they belong.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, User
from expertloop.datasets.formats import FORMATS
from expertloop.datasets.models import Seed, SeedImport, Snapshot
from expertloop.experts import search_index
from expertloop.experts.models import (
    AssessmentAnswer,
    AssessmentAttempt,
    AssessmentBank,
    AssessmentQuestion,
    AttemptStatus,
    Candidate,
    ExpertProfile,
    Interview,
    InterviewGuide,
    InterviewStatus,
    InterviewTurn,
    InvitationKind,
    QuestionKind,
    TurnRole,
    VettingState,
)
from expertloop.jobs.models import Job
from expertloop.llm.models import ModelEndpoint, ModelRun
from expertloop.payments import bonuses, rates, timesheets
from expertloop.payments.models import PayoutRun, Timesheet
from expertloop.settings import Settings
from expertloop.types import utcnow
from expertloop.web.api import PREFIX, RESOURCES
from expertloop.web.pages import PAGES
from expertloop.webhooks.models import WebhookSubscription
from expertloop.workbench.models import ProblemSet, Step, StepRevision, StepRun
from tests.conftest import make_settings
from tests.factories import World, make_problem_set, make_user, scripted_target, staff
from tests.snapshot_data import PROMPT, accepted_problem_set

# Unique, plain tokens: found whether a page escapes, a URL encodes or JSON quotes the text.
EMAIL = "piimailzq7@tests.expertloop.org"
MARKERS = {
    "email": "piimailzq7",
    "phone": "5550197331",
    "resume": "piiresumezq7",
    "link": "piilinkzq7",
    "note": "piinotezq7",
}
VIEWERS = ("client_a", "expert_a", "reviewer_a", "expert_b")
# The referrer reads back the address they typed for their referral (their own input), and only
# that: Pia's phone, résumé, links and the operator's note stay out of these too.
TYPED_BY_REFERRER = {"/api/v1/me/referrals", "/refer"}
MONDAY = timesheets.week_of(utcnow().date()) - dt.timedelta(weeks=2)


@pytest.fixture
def settings(db_root: Path, tmp_path: Path) -> Settings:
    """Test settings with a snapshots directory of this test's own."""
    from tests.conftest import database_url

    return make_settings(database_url(db_root), db_root, snapshots_dir=tmp_path / "snapshots")


def _seed_pia(db: Session, app: Any, w: World) -> User:
    """Pia: account, profile and candidacy with markers; work, time and a referral on A's side."""
    pia = make_user(db, Role.expert, email=EMAIL, name="Pia Subject")
    db.add(
        ExpertProfile(
            user_id=pia.id,
            headline="Corporate finance analyst",
            years_experience=9,
            country="GB",
            time_zone="Europe/London",
            phone="+1 555 0197331",
            resume="PIIRESUMEZQ7: nine years of treasury work at a bank.",
            links=["https://piilinkzq7.example/me"],
            vetting_state=VettingState.approved,
        )
    )
    db.add(
        Candidate(
            email=EMAIL,
            name="Pia Subject",
            user_id=pia.id,
            state=VettingState.approved,
            domain="finance",
            source=InvitationKind.referral,
            referrer_user_id=w.expert_a.id,
            note="PIINOTEZQ7: met at a conference; call her mobile.",
        )
    )
    db.flush()
    candidate = db.scalar(select(Candidate).where(Candidate.user_id == pia.id))
    assert candidate is not None
    # Her vetting record (routes with their ids): an assessment waiting for grading, an interview.
    bank = AssessmentBank(domain="pii-probe", title="PII probe bank")
    guide = InterviewGuide(version=9001, system_prompt="Ask.", scoring_prompt="Score.")
    db.add_all([bank, guide])
    db.flush()
    now = utcnow()
    question = AssessmentQuestion(
        bank_id=bank.id, kind=QuestionKind.free_text, text="How would you price a loan?"
    )
    db.add(question)
    db.flush()
    attempt = AssessmentAttempt(
        candidate_id=candidate.id,
        bank_id=bank.id,
        question_ids=[question.id],
        status=AttemptStatus.submitted,  # waiting in the grading queue
        deadline_at=now,
        submitted_at=now,
        max_score=1,
    )
    db.add(attempt)
    db.flush()
    db.add(
        AssessmentAnswer(
            attempt_id=attempt.id, question_id=question.id, text="Spread over the base rate."
        )
    )
    interview = Interview(
        candidate_id=candidate.id,
        guide_id=guide.id,
        status=InterviewStatus.completed,
        finished_at=now,
        suggested_score=4.0,
    )
    db.add(interview)
    db.flush()
    db.add_all(
        [
            InterviewTurn(
                interview_id=interview.id,
                seq=i,
                role=role,
                text=f"Turn {i} about loan pricing.",
            )
            for i, role in enumerate([TurnRole.interviewer, TurnRole.candidate])
        ]
    )
    db.flush()
    search_index.reindex(db, pia.id)
    staff(db, w.project_a, pia)
    make_problem_set(db, w.project_a, pia, "Pia's draft", statement="How is the loan priced?")
    endpoint = scripted_target(db, app.state.hub, w.project_a, name="Scripted A")
    accepted_problem_set(db, w.project_a, pia, w.reviewer_a, endpoint, title="Pia's accepted")
    # An approved week and a referral rule: expert A earns "Referral bonus: Pia Subject".
    op = w.operator
    rates.set_rate(
        session=db,
        actor=op,
        currency="USD",
        hourly_minor=90_00,
        effective_from=MONDAY - dt.timedelta(weeks=4),
        user_id=pia.id,
    )
    bonuses.add_rule(
        session=db,
        actor=op,
        project=w.project_a,
        kind="referral",
        currency="USD",
        amount_minor=200_00,
        min_hours=1,
    )
    adj = timesheets.request_adjustment(
        session=db,
        actor=pia,
        project=w.project_a,
        work_date=MONDAY + dt.timedelta(days=1),
        minutes=120,
        reason="Drafted the pricing note",
    )
    timesheets.decide_adjustment(session=db, actor=op, adjustment_id=adj.id, approve=True)
    sheet = timesheets.submit(session=db, actor=pia, week_start=MONDAY)
    timesheets.approve(
        session=db,
        actor=op,
        sheet=sheet,
        idle_cutoff=dt.timedelta(minutes=5),
        default_margin_bp=2500,
    )
    [bonus] = bonuses.evaluate(session=db, actor=op, until=utcnow().date(), default_margin_bp=2500)
    assert bonus.user_id == w.expert_a.id
    db.commit()
    return pia


def _ids(db: Session, model: Any, *where: Any) -> list[Any]:
    return list(db.scalars(select(model.id).where(*where).order_by(model.id.desc()).limit(4)))


def _path_values(
    db: Session, w: World, pia: User, snapshot: dict[str, Any]
) -> dict[str, list[Any]]:
    """Real targets for each path parameter, Pia's where there is a choice."""
    sets = _ids(db, ProblemSet, ProblemSet.author_id == pia.id)
    steps = _ids(db, Step, Step.problem_set_id.in_(sets))
    revisions = _ids(db, StepRevision, StepRevision.step_id.in_(steps))
    candidate = db.scalar(select(Candidate.id).where(Candidate.user_id == pia.id))
    return {
        "project_id": [w.project_a.id],
        "organisation_id": [w.org_a.id],
        "user_id": [pia.id],
        "candidate_id": [candidate],
        "problem_set_id": sets,
        "step_id": steps,
        "revision_id": revisions,
        "step_run_id": _ids(db, StepRun, StepRun.revision_id.in_(revisions)),
        "run_id": _ids(db, ModelRun) + _ids(db, PayoutRun),
        "endpoint_id": _ids(db, ModelEndpoint),
        "timesheet_id": _ids(db, Timesheet, Timesheet.user_id == pia.id),
        "job_id": _ids(db, Job),
        "snapshot_id": _ids(db, Snapshot),
        "number": [snapshot["number"]],
        "path": ["manifest.json", "README.md", *(f["path"] for f in snapshot["files"])],
        "import_id": _ids(db, SeedImport),
        "seed_id": _ids(db, Seed),
        "webhook_id": _ids(db, WebhookSubscription),
        "guide_id": _ids(db, InterviewGuide),
        "interview_id": _ids(db, Interview),
        "attempt_id": _ids(db, AssessmentAttempt),
        "bank_id": _ids(db, AssessmentBank),
    }


def _get_routes() -> list[tuple[str, bool]]:
    """Every registered GET route: (path, whether it takes a ``format`` query parameter)."""
    routes = [(PREFIX + r.path, r) for m in RESOURCES for r in m.router.routes]
    routes += [(r.path, r) for m in PAGES for r in m.router.routes]
    out = []
    for path, route in routes:
        if "GET" not in (getattr(route, "methods", None) or set()) or path.startswith("/static"):
            continue
        dependant = getattr(route, "dependant", None)
        queries = [q.alias for q in dependant.query_params] if dependant is not None else []
        out.append((path, "format" in queries))
    return sorted(set(out))


def _urls(path: str, has_format: bool, values: dict[str, list[Any]]) -> list[str]:
    names = re.findall(r"\{(\w+)(?::\w+)?\}", path)
    choices = [values.get(n) or [1] for n in names]
    urls = []
    for combo in itertools.islice(itertools.product(*choices), 12):
        url = path
        for name, value in zip(names, combo, strict=True):
            url = re.sub(r"\{" + name + r"(?::\w+)?\}", str(value), url, count=1)
        urls.append(url)
    if not has_format:
        return urls
    formats = ["csv", "json", "html", "zip", "tar", *FORMATS]
    return urls + [f"{u}?format={f}&domain=finance" for u in urls for f in formats]


def _texts(content: bytes) -> list[str]:
    """What a body holds as text: archives opened, Parquet tables read, anything else decoded."""
    if content[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return [t for name in archive.namelist() for t in _texts(archive.read(name))]
    if content[:4] == b"PAR1":
        import pyarrow.parquet as pq

        return [str(pq.read_table(io.BytesIO(content)).to_pylist())]
    if len(content) >= 512 and content[257:262] == b"ustar":
        with tarfile.open(fileobj=io.BytesIO(content), mode="r:") as archive:
            out = []
            for member in archive.getmembers():
                extracted = archive.extractfile(member)
                if extracted is not None:
                    out += _texts(extracted.read())
            return out
    return [content.decode("utf-8", errors="replace")]


def _found(content: bytes, headers: Any = None) -> set[str]:
    text = " ".join(_texts(content)).lower()
    if headers is not None:
        text += " " + " ".join(f"{k}: {v}" for k, v in headers.items()).lower()
    found = {name for name, marker in MARKERS.items() if marker in text}
    if MARKERS["phone"] in re.sub(r"[\s().+-]", "", text):  # "+1 555 0197331", however spaced
        found.add("phone")
    return found


def _snapshot(api: Any, project_id: int) -> dict[str, Any]:
    r = api.post(f"/api/v1/projects/{project_id}/snapshots", json={"filters": {}})
    assert r.status_code == 202, r.text
    got = api.get(f"/api/v1/snapshots/{r.json()['id']}")
    assert got.status_code == 200 and got.json()["status"] == "ready", got.text
    return got.json()  # type: ignore[no-any-return]


def test_no_route_or_export_shows_contact_data_or_resume_to_clients_or_other_experts(
    login_as, world: World, db: Session, app
) -> None:  # type: ignore[no-untyped-def]
    pia = _seed_pia(db, app, world)
    client = login_as(world.client_a)
    snap = _snapshot(client, world.project_a.id)
    values = _path_values(db, world, pia, snap)
    routes = _get_routes()
    assert len(routes) > 100  # the whole app, not a few routers

    # The control: the operator reads Pia's contact data where it belongs.
    operator = login_as(world.operator)
    candidate = values["candidate_id"][0]
    detail = operator.get(f"/api/v1/candidates/{candidate}")
    assert detail.status_code == 200, detail.text
    assert "email" in _found(detail.content)
    seen_by_operator: set[str] = set()
    for path, has_format in routes:
        for url in _urls(path, has_format, values):
            seen_by_operator |= _found(operator.get(url).content)
    assert {"email", "phone", "resume", "note"} <= seen_by_operator

    leaks: list[str] = []
    for who in VIEWERS:
        api = login_as(getattr(world, who))
        ok, her_work = 0, False
        for path, has_format in routes:
            for url in _urls(path, has_format, values):
                response = api.get(url, follow_redirects=False)
                ok += response.status_code == 200
                her_work |= response.status_code == 200 and any(
                    title in response.text for title in ("Pia's accepted", "Pia&#39;s accepted")
                )
                found = _found(response.content, response.headers)
                if who == "expert_a" and path in TYPED_BY_REFERRER:
                    found.discard("email")
                if found:
                    leaks.append(f"{who}: GET {url} -> {response.status_code}: {sorted(found)}")
        assert ok >= 10, (who, ok)  # real pages answered, not only 404s
        # Her client and her reviewer do read her work (so the walk reached her pages).
        assert her_work == (who in ("client_a", "reviewer_a")), who
    assert leaks == []

    # The snapshot the client built: every file, the zip and the tar.
    files = [*(f["path"] for f in snap["files"]), "manifest.json", "README.md"]
    assert any(p.endswith(".parquet") for p in files) and any(p.endswith(".jsonl") for p in files)
    for path in files:
        got = client.get(f"/api/v1/snapshots/{snap['id']}/files/{path}")
        assert got.status_code == 200, (path, got.text)
        assert _found(got.content) == set(), path
    exported = " ".join(
        t
        for p in files
        for t in _texts(client.get(f"/api/v1/snapshots/{snap['id']}/files/{p}").content)
    )
    assert PROMPT in exported  # Pia's accepted work is in it: the check read real rows
    for fmt in ("zip", "tar"):
        archive = client.get(f"/api/v1/snapshots/{snap['id']}/archive?format={fmt}")
        assert archive.status_code == 200
        assert len(_texts(archive.content)) == len(files)
        assert _found(archive.content) == set(), fmt
