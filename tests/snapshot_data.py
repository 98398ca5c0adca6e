"""Accepted problem sets for snapshot tests, made through the workbench's own use cases."""

from __future__ import annotations

from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.llm.models import ModelEndpoint
from expertloop.projects.models import Project
from expertloop.workbench import access as wb_access
from expertloop.workbench import assess
from expertloop.workbench import status as wb_status
from expertloop.workbench.models import ProblemSet, StepRevision
from tests.factories import make_problem_set, make_step, make_step_run

CONTEXT = "Cash in bank: 700k. Monthly burn: 50k. مرحبا 👩🏽‍💻 e\u0301"
PROMPT = "What is our cash runway, in months?"
ANSWER = "The runway is 15 months at the current burn of 50k per month."
IDEAL = "The runway is 14 months: 700k cash divided by 50k monthly burn."
FAULT = "15 months"


def accepted_problem_set(
    db: Session,
    project: Project,
    author: User,
    reviewer: User,
    endpoint: ModelEndpoint,
    *,
    title: str = "Runway",
) -> ProblemSet:
    """Write, run, annotate, score, fix, submit and accept a one-step problem set."""
    ps = make_problem_set(db, project, author, title, statement="How long does the cash last?")
    ps.context = CONTEXT
    step = make_step(
        db, ps, author, prompt=PROMPT, rubric=["States the runway in months", "Shows the sum"]
    )
    run = make_step_run(db, step, author, endpoint, ANSWER)
    loaded = wb_access.problem_set(session=db, actor=author, problem_set_id=ps.id)
    revision = db.get(StepRevision, run.revision_id)
    assert revision is not None
    start = ANSWER.index(FAULT)
    assess.add(
        session=db,
        loaded=loaded,
        revision=revision,
        step_run=run,
        start=start,
        end=start + len(FAULT),
        quote=FAULT,
        category="calculation_error",
        severity="major",
        note="700 / 50 is 14.",
    )
    for criterion in (0, 1):
        assess.score(
            session=db,
            loaded=loaded,
            revision=revision,
            step_run=run,
            criterion=criterion,
            met=criterion == 0,
        )
    assess.save_ideal(
        session=db,
        loaded=loaded,
        step=step,
        text=IDEAL,
        version=None,
        based_on=run,
        revision=revision,
    )
    wb_status.transition(session=db, loaded=loaded, action=wb_status.Action.submit)
    review = wb_access.problem_set(session=db, actor=reviewer, problem_set_id=ps.id)
    wb_status.transition(
        session=db, loaded=review, action=wb_status.Action.accept, comment="Clear."
    )
    db.flush()
    return ps
