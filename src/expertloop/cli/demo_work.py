"""What both demo problem sets share: the demo project's name and stored sample runs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.cli.demo_data import SEEDED_NOTE
from expertloop.llm import runs as llm_runs
from expertloop.llm.interface import Completion, RunStatus
from expertloop.llm.models import ModelEndpoint
from expertloop.projects.models import Project
from expertloop.workbench import runs as step_runs
from expertloop.workbench.access import Loaded
from expertloop.workbench.models import Step, StepRevision, StepRun

PROJECT_NAME = "Finance agent evaluation"


def demo_project(*, session: Session) -> Project | None:
    """Return the demo project (the oldest of that name), if it exists."""
    return session.scalar(
        select(Project).where(Project.name == PROJECT_NAME).order_by(Project.id).limit(1)
    )


def stored_run(
    *,
    session: Session,
    loaded: Loaded,
    step: Step,
    revision: StepRevision,
    endpoint: ModelEndpoint,
    answer: str,
) -> StepRun:
    """Record a run of the revision whose answer is stored sample text (the model is not called)."""
    step_run, run, _endpoint = step_runs.start(
        session=session, loaded=loaded, step=step, revision=revision, endpoint_id=endpoint.id
    )
    llm_runs.finish_run(
        session=session,
        run_id=run.id,
        completion=Completion(
            text=answer,
            status=RunStatus.ok,
            finish_reason="stop",
            raw_response={"seeded": SEEDED_NOTE},
        ),
    )
    return step_run


def span(text: str, part: str) -> tuple[int, int]:
    """Return the code-point offsets of ``part`` in ``text`` (it must be there)."""
    start = text.find(part)
    if start < 0:
        raise AssertionError(f"{part!r} is not in the text")
    return start, start + len(part)
