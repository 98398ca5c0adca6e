"""The demo seed: a half-done and an accepted problem set on the bundled local model, seeded once,
right figures."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.cli import demo_accepted, demo_cash, demo_data, demo_seed
from expertloop.cli.demo_seed import DEMO_LOGINS, seed_demo
from expertloop.events import AuditLog
from expertloop.llm.hub import ModelHub
from expertloop.llm.models import ModelEndpoint, ModelRun
from expertloop.projects import targets
from expertloop.projects.models import Project
from expertloop.settings import Settings
from expertloop.workbench import diffs, progress
from expertloop.workbench.models import (
    Annotation,
    IdealAnswer,
    Persona,
    ProblemSet,
    RubricResult,
    Severity,
    Side,
    Status,
    Step,
    StepRevision,
    StepRun,
)


@pytest.fixture
def seeded(db: Session, settings: Settings) -> ProblemSet:
    assert seed_demo(session=db, hub=ModelHub.from_settings(settings))
    db.commit()
    return db.scalars(
        select(ProblemSet)
        .join(User, User.id == ProblemSet.author_id)
        .where(User.email == demo_seed.DEMO_EXPERT)
    ).one()


def _annotations_of(db: Session, ps: ProblemSet) -> list[Annotation]:
    return list(
        db.scalars(
            select(Annotation)
            .join(StepRevision, StepRevision.id == Annotation.revision_id)
            .join(Step, Step.id == StepRevision.step_id)
            .where(Step.problem_set_id == ps.id)
            .order_by(Annotation.id)
        )
    )


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
    # Amira's half-done problem set and Kenji's accepted one.
    assert counts[ProblemSet] == 2 and counts[User] == len(DEMO_LOGINS)


def test_an_instance_seeded_before_problem_sets_gets_one_added(
    db: Session, settings: Settings
) -> None:
    hub = ModelHub.from_settings(settings)
    demo_seed._seed_accounts(session=db, hub=hub)  # what an older `expertloop demo` left
    assert db.scalar(select(func.count()).select_from(ProblemSet)) == 0
    assert seed_demo(session=db, hub=hub) is True
    assert db.scalar(select(func.count()).select_from(ProblemSet)) == 2


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
    notes = _annotations_of(db, seeded)
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
    # Amira's 5 steps (6 revisions) and Kenji's 3 steps (4 revisions).
    assert kinds.count("workbench.step_added") == 5 + 3
    assert kinds.count("workbench.step_revised") == 6 + 4
    assert "workbench.ideal_answer_started" in kinds
    assert kinds.count("workbench.problem_set_transitioned") >= 4  # start, submit, review, accept


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


# ---- Kenji's accepted problem set ------------------------------------------------------------


@pytest.fixture
def accepted(db: Session, seeded: ProblemSet) -> ProblemSet:
    return db.scalars(
        select(ProblemSet)
        .join(User, User.id == ProblemSet.author_id)
        .where(User.email == demo_accepted.AUTHOR)
    ).one()


def _revisions(db: Session, step: Step) -> list[StepRevision]:
    return list(
        db.scalars(
            select(StepRevision)
            .where(StepRevision.step_id == step.id)
            .order_by(StepRevision.number)
        )
    )


def _answer(db: Session, step_run_id: int) -> str:
    step_run = db.get(StepRun, step_run_id)
    assert step_run is not None
    run = db.get(ModelRun, step_run.model_run_id)
    assert run is not None and run.status == "ok"
    return run.answer


def test_the_accepted_problem_set_was_reviewed_by_rosa_and_every_step_is_done(
    db: Session, accepted: ProblemSet
) -> None:
    assert accepted.status == Status.accepted
    assert accepted.title == demo_cash.TITLE and accepted.domain == "finance"
    reviewer = db.get(User, accepted.reviewed_by_id)
    assert reviewer is not None and reviewer.email == demo_accepted.REVIEWER
    assert accepted.submitted_at is not None and accepted.accepted_at is not None
    assert accepted.review_comment.startswith("Accepted")
    numbered = _steps(db, accepted)
    assert [n for n, _s in numbered] == ["1", "2", "3"]
    states = progress.step_states(session=db, steps=[s for _n, s in numbered])
    assert {n: states[s.id].label for n, s in numbered} == {
        "1": "passing",
        "2": "passing",
        "3": "ideal answer",
    }
    assert progress.unfinished_steps(session=db, problem_set=accepted) == []
    by_number = dict(numbered)
    assert by_number["3"].chain and not by_number["1"].chain
    revisions = {n: [r.number for r in _revisions(db, s)] for n, s in numbered}
    assert revisions == {"1": [1, 2], "2": [1], "3": [1]}
    statuses = [
        (e.data["action"], e.data["to_status"])
        for e in db.scalars(
            select(AuditLog)
            .where(
                AuditLog.kind == "workbench.problem_set_transitioned",
                AuditLog.subject_id == str(accepted.id),
            )
            .order_by(AuditLog.id)
        )
    ]
    assert statuses[-3:] == [
        ("submit", "submitted"),
        ("start_review", "in_review"),
        ("accept", "accepted"),
    ]


def test_step_1_was_revised_from_a_prompt_side_ambiguity(db: Session, accepted: ProblemSet) -> None:
    step1 = dict(_steps(db, accepted))["1"]
    first, second = _revisions(db, step1)
    notes = {
        a.id: a for a in db.scalars(select(Annotation).where(Annotation.revision_id == first.id))
    }
    prompt_side = [a for a in notes.values() if a.side == Side.prompt]
    (ambiguity,) = prompt_side
    assert (ambiguity.category, ambiguity.severity, ambiguity.step_run_id) == (
        "ambiguity",
        Severity.major,
        None,
    )
    assert ambiguity.quote == first.prompt[ambiguity.start : ambiguity.end] == "cash in from sales"
    assert ambiguity.id in second.motivated_by and set(second.motivated_by) <= set(notes)
    assert "ambiguous" in second.reason and "cash in from sales" in second.reason
    assert "cash in from sales" not in second.prompt and "30%" in second.prompt
    assert len(second.rubric) == 4 and second.rubric != first.rubric
    # The first revision's run read the prompt the wrong way; the second's meets every criterion.
    (run1,) = db.scalars(select(StepRun).where(StepRun.revision_id == first.id))
    (run2,) = db.scalars(select(StepRun).where(StepRun.revision_id == second.id))
    assert "128,800" not in _answer(db, run1.id) and "128,800" in _answer(db, run2.id)
    states = progress.step_states(session=db, steps=[step1])
    assert states[step1.id].passing_step_run_id == run2.id


def test_every_run_has_rubric_results_and_every_annotation_quotes_its_offsets(
    db: Session, accepted: ProblemSet
) -> None:
    runs = 0
    for _n, step in _steps(db, accepted):
        for revision in _revisions(db, step):
            for step_run in db.scalars(select(StepRun).where(StepRun.revision_id == revision.id)):
                runs += 1
                scored = {
                    r.criterion
                    for r in db.scalars(
                        select(RubricResult).where(RubricResult.step_run_id == step_run.id)
                    )
                }
                assert scored == set(range(len(revision.rubric)))
    assert runs == 4
    notes = _annotations_of(db, accepted)
    assert {(a.side, a.category, a.severity) for a in notes} == {
        (Side.prompt, "ambiguity", Severity.major),
        (Side.response, "faulty_reasoning", Severity.major),
        (Side.response, "off_scope", Severity.minor),
        (Side.response, "calculation_error", Severity.major),
    }
    for a in notes:
        assert a.note and a.quote and a.start is not None and a.end is not None
        if a.step_run_id is None:
            revision = db.get(StepRevision, a.revision_id)
            assert revision is not None
            text = revision.prompt
        else:
            text = _answer(db, a.step_run_id)
        assert text[a.start : a.end] == a.quote


def test_step_3_runs_in_chain_mode_and_its_ideal_answer_corrects_the_model(
    db: Session, accepted: ProblemSet
) -> None:
    by_number = dict(_steps(db, accepted))
    (rev3,) = _revisions(db, by_number["3"])
    (run3,) = db.scalars(select(StepRun).where(StepRun.revision_id == rev3.id))
    assert run3.chained
    model_run = db.get(ModelRun, run3.model_run_id)
    assert model_run is not None
    # Steps 1 (its newest, passing revision) and 2 come first, with their passing answers.
    roles = [m["role"] for m in model_run.messages]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    (_first, rev1_2) = _revisions(db, by_number["1"])
    assert rev1_2.prompt in model_run.messages[0]["content"]
    assert "128,800" in model_run.messages[1]["content"]
    ideal = db.scalars(select(IdealAnswer).where(IdealAnswer.step_id == by_number["3"].id)).one()
    assert ideal.based_on_step_run_id == run3.id and ideal.revision_id == rev3.id
    assert diffs.apply(model_run.answer, [tuple(op) for op in ideal.diff]) == ideal.text
    removed = "".join(t for op, t in ideal.diff if op == "-")
    added = "".join(t for op, t in ideal.diff if op == "+")
    # Word-level: "32,050" becomes "33,050" (one token changes); the advice is new text.
    assert ["-", "32"] in ideal.diff and ["+", "33"] in ideal.diff
    assert "7" in removed and "To hold the minimum" in added
    fault = db.scalars(select(Annotation).where(Annotation.step_run_id == run3.id)).one()
    assert fault.quote == "20,950 + 12,100 = 32,050"


def test_cash_figures_are_arithmetically_right() -> None:
    fig = demo_cash.cash_figures()
    # Harbour Street in January: 70 % of 112,000 + 30 % of December's 168,000.
    assert fig.receipts["Harbour Street"][0] == 78_400 + 50_400 == 128_800
    assert fig.receipts_total == (307_100, 256_400, 280_400)
    assert fig.goods == (257_400, 174_850, 163_150)  # 65 % of Dec, Jan, Feb sales
    assert fig.payments == (368_150, 244_300, 232_600)
    assert fig.closing == (20_950, 33_050, 80_850)
    assert 82_000 + sum(fig.net) == fig.closing[-1]
    text = demo_cash.cash_problem(fig)
    assert "Jan 307,100" in text.step1_reference and "February by 6,950" in text.step3_reference
    assert text.answer3_error in text.answer3 and "33,050" in text.ideal3


def test_the_client_sees_the_accepted_problem_set(
    app: FastAPI, db: Session, accepted: ProblemSet
) -> None:
    client_login = next(x for x in DEMO_LOGINS if x.role.value == "client")
    with TestClient(app, base_url="http://testserver") as c:
        r = c.post(
            "/api/v1/auth/login",
            json={"email": client_login.email, "password": client_login.password},
        )
        assert r.status_code == 200, r.text
        listed = c.get(
            f"/api/v1/projects/{accepted.project_id}/problem-sets", params={"status": "accepted"}
        ).json()
        assert [p["id"] for p in listed["items"]] == [accepted.id]
