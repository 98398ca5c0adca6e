"""Fixtures for the workbench domain tests: a problem set with one step, and stored model runs.

Rows go through the workbench's own use cases (problem_sets, steps, assess); model runs are
written straight to ``model_runs`` (what a finished run leaves there), so no model is called.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from expertloop.llm.models import ModelEndpoint, ModelRun
from expertloop.workbench import problem_sets, steps
from expertloop.workbench.access import Loaded, project_access
from expertloop.workbench.models import Step, StepRevision, StepRun
from tests.factories import World

_names = itertools.count(1)


@dataclass
class Bench:
    """The expert's problem set on project A, one step with a two-criterion rubric."""

    db: Session
    world: World
    loaded: Loaded
    step: Step
    revision: StepRevision
    endpoint: ModelEndpoint

    def run(
        self, answer: str, *, status: str = "ok", revision: StepRevision | None = None
    ) -> StepRun:
        """Store a finished model run of ``revision`` (default: the step's first) that answered."""
        revision = revision or self.revision
        model_run = ModelRun(
            endpoint_id=self.endpoint.id,
            project_id=self.world.project_a.id,
            user_id=self.world.expert_a.id,
            provider=self.endpoint.provider,
            model_id=self.endpoint.model_id,
            messages=[{"role": "user", "content": revision.prompt}],
            answer=answer,
            status=status,
        )
        self.db.add(model_run)
        self.db.flush()
        step_run = StepRun(
            revision_id=revision.id, model_run_id=model_run.id, endpoint_id=self.endpoint.id
        )
        self.db.add(step_run)
        self.db.flush()
        return step_run

    def add_step(self, **kw: object) -> Step:
        return steps.add(session=self.db, loaded=self.loaded, **kw)  # type: ignore[arg-type]


@pytest.fixture
def endpoint(db: Session) -> ModelEndpoint:
    row = ModelEndpoint(
        name=f"Workbench unit model {next(_names)}", provider="scripted", model_id="unit-model"
    )
    db.add(row)
    db.flush()
    return row


@pytest.fixture
def bench(db: Session, world: World, endpoint: ModelEndpoint) -> Bench:
    access = project_access(session=db, actor=world.expert_a, project_id=world.project_a.id)
    ps = problem_sets.create(session=db, access=access, title="Quarterly cash flow")
    loaded = Loaded(access, ps)
    step = steps.add(
        session=db,
        loaded=loaded,
        title="Opening balance",
        prompt="What is the opening balance?",
        rubric=["States the balance", "Cites the ledger"],
    )
    revision = steps.revisions_of(session=db, step_id=step.id)[-1]
    return Bench(db, world, loaded, step, revision, endpoint)
