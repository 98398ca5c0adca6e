"""Isolation cases for batch model runs: outsiders cannot run all steps of B's problem set."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.jobs.models import Job
from expertloop.workbench.batch_runs import KIND
from tests.factories import World
from tests.isolation import Probe, b_state, isolation_case


@b_state("run_all_jobs")
def _run_all_jobs(db: Session, world: World) -> Any:
    """No job of B's project is started by an outsider's request."""
    return sorted(
        (j.id, j.status.value)
        for j in db.scalars(
            select(Job).where(Job.kind == KIND, Job.project_id == world.project_b.id)
        )
    )


@isolation_case("run_all")
def _run_all_probes(w: World) -> list[Probe]:
    return [
        Probe("POST", "/api/v1/problem-sets/{b_problem_set_id}/run-all"),
        Probe("POST", "/api/v1/problem-sets/{b_problem_set_id}/run-all", {"endpoint_ids": None}),
        Probe("POST", "/problem-sets/{b_problem_set_id}/run-all"),
    ]
