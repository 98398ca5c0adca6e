"""The demo seed: a half-done problem set on the bundled local model, seeded once, right figures."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.cli import demo_data, demo_seed
from expertloop.cli.demo_seed import DEMO_LOGINS, seed_demo
from expertloop.events import AuditLog
from expertloop.llm.hub import ModelHub
from expertloop.llm.models import ModelEndpoint, ModelRun
from expertloop.projects import targets
from expertloop.projects.models import Project
from expertloop.settings import Settings
from expertloop.workbench import progress
from expertloop.workbench.models import (
    Annotation,
    Persona,
    ProblemSet,
    RubricResult,
    Severity,
    Status,
    Step,
    StepRevision,
    StepRun,
)


@pytest.fixture
def seeded(db: Session, settings: Settings) -> ProblemSet:
    assert seed_demo(session=db, hub=ModelHub.from_settings(settings))
    db.commit()
    return db.scalars(select(ProblemSet)).one()


def _steps(db: Session, ps: ProblemSet) -> list[tuple[str, Step]]:
    return progress.numbered(session=db, problem_set_id=ps.id)


def test_seeding_twice_keeps_one_problem_set(db: Session, settings: Settings) -> None:
    hub = ModelHub.from_settings(settings)
    assert seed_demo(session=db, hub=hub)
    counts = {
        model: db.scalar(select(func.count()).select_from(model))
        for model in (User, ProblemSet, StepRevision, StepRun, ModelRun, Annotation)
    }
    assert seed_demo(session=db, hub=hub) is False
    assert counts == {model: db.scalar(select(func.count()).select_from(model)) for model in counts}
    assert counts[ProblemSet] == 1 and counts[User] == len(DEMO_LOGINS)


def test_an_instance_seeded_before_problem_sets_gets_one_added(
    db: Session, settings: Settings
) -> None:
    hub = ModelHub.from_settings(settings)
    demo_seed._seed_accounts(session=db, hub=hub)  # what an older `expertloop demo` left
    assert db.scalar(select(func.count()).select_from(ProblemSet)) == 0
    assert seed_demo(session=db, hub=hub) is True
    assert db.scalar(select(func.count()).select_from(ProblemSet)) == 1


def test_problem_set_belongs_to_the_demo_expert_on_the_local_model(
    db: Session, seeded: ProblemSet
) -> None:
    author = db.get(User, seeded.author_id)
    assert author is not None and author.email == "amira@experts.expertloop.org"
    assert seeded.title.startswith("Track the Northwind retail unit's expenses")
    assert seeded.persona == Persona.business_owner
    assert seeded.status == Status.in_progress
    assert seeded.domain == "finance"
    assert "Cost of goods sold" in seeded.context and "Headcount: 14" in seeded.context
    assert "4,480,000" in seeded.context and seeded.statement.strip()
    endpoints = {run.endpoint_id for run in db.scalars(select(StepRun))}
    assert len(endpoints) == 1
    endpoint = db.get(ModelEndpoint, endpoints.pop())
    assert endpoint is not None
    assert (endpoint.provider, endpoint.model_id) == ("local", "SmolLM2-135M-Instruct")


def test_steps_are_half_done(db: Session, seeded: ProblemSet) -> None:
    numbered = _steps(db, seeded)
    assert [n for n, _s in numbered] == ["1", "2", "3", "4", "4.1"]
    by_number = dict(numbered)
    assert by_number["4.1"].parent_id == by_number["4"].id
    assert by_number["4"].chain and by_number["4.1"].chain and not by_number["1"].chain
    states = progress.step_states(session=db, steps=[s for _n, s in numbered])
    labels = {n: states[s.id].label for n, s in numbered}
    assert labels == {
        "1": "passing",
        "2": "not passing",
        "3": "not passing",
        "4": "not passing",
        "4.1": "not passing",
    }
    revisions = {
        n: [r.number for r in db.scalars(select(StepRevision).where(StepRevision.step_id == s.id))]
        for n, s in numbered
    }
    assert revisions == {"1": [1], "2": [1, 2], "3": [1], "4": [1], "4.1": [1]}
    for n, s in numbered:
        runs = list(
            db.scalars(select(StepRun).join(StepRevision).where(StepRevision.step_id == s.id))
        )
        assert len(runs) == (1 if n in ("1", "2") else 0), n
        for step_run in runs:
            model_run = db.get(ModelRun, step_run.model_run_id)
            assert model_run is not None and model_run.status == "ok" and model_run.answer
            assert model_run.user_id == seeded.author_id
            # The context goes before the first prompt, as a live run would send it.
            assert model_run.messages[0]["content"].startswith("Context:\n")
        rubric = list(db.scalars(select(StepRevision.rubric).where(StepRevision.step_id == s.id)))
        assert all(2 <= len(r) <= 4 for r in rubric), n


def test_step_1_meets_every_criterion_and_step_2_is_revised_from_its_fault(
    db: Session, seeded: ProblemSet
) -> None:
    by_number = dict(_steps(db, seeded))
    (rev1,) = db.scalars(
        select(StepRevision).where(StepRevision.step_id == by_number["1"].id)
    ).all()
    (run1,) = db.scalars(select(StepRun).where(StepRun.revision_id == rev1.id)).all()
    met = {
        r.criterion: r.met
        for r in db.scalars(select(RubricResult).where(RubricResult.step_run_id == run1.id))
    }
    assert met == dict.fromkeys(range(len(rev1.rubric)), True)

    first, second = db.scalars(
        select(StepRevision)
        .where(StepRevision.step_id == by_number["2"].id)
        .order_by(StepRevision.number)
    ).all()
    (run2,) = db.scalars(select(StepRun).where(StepRun.revision_id == first.id)).all()
    (fault,) = db.scalars(select(Annotation).where(Annotation.step_run_id == run2.id)).all()
    assert (fault.category, fault.severity) == ("calculation_error", Severity.major)
    assert fault.note and fault.revision_id == first.id
    assert second.motivated_by == [fault.id] and second.reason
    assert "previous month's total" in second.prompt and second.prompt != first.prompt
    assert not db.scalars(select(StepRun).where(StepRun.revision_id == second.id)).all()
    # The step's working draft is the newest revision: nothing unsaved is left behind.
    assert by_number["2"].draft_prompt == second.prompt


def test_annotation_quotes_match_the_stored_answers(db: Session, seeded: ProblemSet) -> None:
    notes = list(db.scalars(select(Annotation).order_by(Annotation.id)))
    assert {(a.category, a.severity) for a in notes} == {
        ("off_scope", Severity.minor),
        ("calculation_error", Severity.major),
    }
    for a in notes:
        step_run = db.get(StepRun, a.step_run_id)
        assert step_run is not None
        answer = db.get(ModelRun, step_run.model_run_id).answer  # type: ignore[union-attr]
        assert a.start is not None and a.end is not None
        assert a.quote == answer[a.start : a.end] and a.quote
    # Offsets are code points: the span sits after a real minus sign (U+2212) in the answer.
    calc = next(a for a in notes if a.category == "calculation_error")
    assert "\u2212" in calc.quote


def test_seeding_leaves_the_audit_trail_of_real_work(db: Session, seeded: ProblemSet) -> None:
    kinds = list(db.scalars(select(AuditLog.kind).where(AuditLog.kind.like("workbench.%"))))
    for kind in (
        "workbench.problem_set_created",
        "workbench.step_added",
        "workbench.step_revised",
        "workbench.step_run_started",
        "workbench.annotation_added",
        "workbench.rubric_scored",
    ):
        assert kind in kinds, (kind, sorted(set(kinds)))
    assert kinds.count("workbench.step_added") == 5
    assert kinds.count("workbench.step_revised") == 6


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d[\d,]*(?:\.\d+)?", text)


def test_reference_figures_are_arithmetically_right() -> None:
    rows = demo_data.EXPENSES_2024
    fig = demo_data.figures()
    assert fig.category_totals == {
        "Payroll": 647_300,
        "Rent": 225_300,
        "Cost of goods sold": 2_911_300,
        "Marketing": 154_500,
        "Utilities & IT": 72_100,
    }
    assert fig.total_2024 == sum(map(sum, rows)) == 4_010_500
    assert fig.monthly_totals[-2:] == (396_390, 454_440)
    # Growth on the previous month, to one decimal: December is 58,050 / 396,390.
    assert demo_data.pct(fig.growth[-1], sign=True) == "+14.6%"
    assert demo_data.pct(fig.growth[0]) == "\u22124.1%"
    assert fig.forecast_2025 == 4_871_456  # 4,480,000 * 4,480,000 / 4,120,000, rounded
    assert fig.budget == {
        "Payroll": 704_632,  # 647,300 * 1.035 + 647,300 / 12 / 14 * 9
        "Rent": 228_600,
        "Cost of goods sold": 3_165_685,  # 2,911,300 / 4,480,000 * 4,871,456
        "Marketing": 170_501,  # 3.5 % of 4,871,456
        "Utilities & IT": 74_984,
    }
    assert fig.budget_total == sum(fig.budget.values()) == 4_344_402
    assert fig.profit_2025 == 527_054
    assert round(fig.margin_2024, 2) == Decimal("10.48")
    assert round(fig.margin_2025, 2) == Decimal("10.82")

    problem = demo_data.demo_problem(fig)
    step1, step2, step3, step4, step4_1 = problem.steps
    assert "Total 4,010,500" in step1.reference and "Cost of goods sold 2,911,300 (72.6%)" in (
        step1.reference
    )
    assert sum(Decimal(demo_data.pct(s)[:-1]) for s in fig.shares.values()) == 100
    assert "Dec +14.6%" in step2.reference and "largest fall: Feb \u22124.1%" in step2.reference
    assert step3.reference.endswith("= 4,871,456.") and "8.74%" in step3.reference
    assert "Total: 4,344,402." in step4.reference
    assert "527,054" in step4_1.reference and "10.82%" in step4_1.reference
    # The stored wrong answer of step 2 really is the wrong-base arithmetic it is marked for.
    assert problem.answer2_error in problem.answer2
    assert _numbers(problem.answer2_error) == ["454,440", "396,390", "454,440", "12.8"]
    assert round((Decimal(454_440) - 396_390) / 454_440 * 100, 1) == Decimal("12.8")


def test_the_demo_expert_sees_the_problem_set_and_another_expert_does_not(
    app: FastAPI, db: Session, seeded: ProblemSet
) -> None:
    logins = {login.email: login.password for login in DEMO_LOGINS}

    def client_for(email: str) -> TestClient:
        c = TestClient(app, base_url="http://testserver", raise_server_exceptions=False)
        r = c.post("/api/v1/auth/login", json={"email": email, "password": logins[email]})
        assert r.status_code == 200, r.text
        return c

    with client_for("amira@experts.expertloop.org") as amira:
        body = amira.get(f"/api/v1/problem-sets/{seeded.id}").json()
        assert body["can_edit"] is True and body["status"] == "in_progress"
        assert [s["state"]["label"] for s in body["steps"]] == [
            "passing",
            "not passing",
            "not passing",
            "not passing",
            "not passing",
        ]
        step2 = body["steps"][1]["id"]
        page = amira.get(f"/steps/{step2}")
        assert page.status_code == 200
        assert "Save as revision 3" in page.text and "Calculation error" in page.text
        assert amira.get(f"/problem-sets/{seeded.id}").status_code == 200
    with client_for("kenji@experts.expertloop.org") as kenji:
        assert kenji.get(f"/api/v1/problem-sets/{seeded.id}").status_code == 404
    with client_for("rosa@experts.expertloop.org") as rosa:
        # Rosa leads the project: she reviews its problem sets and its experts' time.
        assert rosa.get(f"/api/v1/problem-sets/{seeded.id}").status_code == 200
        team = rosa.get("/team-time")
        assert team.status_code == 200 and "You lead Finance agent evaluation" in team.text


def test_no_problem_set_without_the_local_model_as_target(db: Session, settings: Settings) -> None:
    hub = ModelHub.from_settings(settings)
    demo_seed._seed_accounts(session=db, hub=hub)
    operator = db.scalars(select(User).where(User.email == DEMO_LOGINS[0].email)).one()
    project = db.scalars(select(Project).where(Project.name == demo_seed.PROJECT_NAME)).one()
    targets.set_targets(session=db, actor=operator, project=project, endpoint_ids=[])
    assert seed_demo(session=db, hub=hub) is False
    assert db.scalar(select(func.count()).select_from(ProblemSet)) == 0
