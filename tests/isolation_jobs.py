"""Isolation cases for background jobs: B's client started a job; outsiders get 404."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.jobs.models import Job
from tests.factories import World
from tests.isolation import Probe, b_side, b_state, isolation_case


@b_side
def _b_job(db: Session, app: Any, world: World, ids: dict[str, Any]) -> dict[str, Any]:
    """A queued job of B's (never run: no handler is asked for it)."""
    job = Job(
        kind="test.b_secret",
        title="B's confidential project export",
        payload={},
        created_by_id=world.client_b.id,
        organisation_id=world.org_b.id,
        project_id=world.project_b.id,
    )
    db.add(job)
    db.commit()
    return {"b_job_id": job.id}


@b_state("jobs")
def _jobs(db: Session, world: World) -> Any:
    return sorted(
        (j.id, j.status.value, j.cancel_requested)
        for j in db.scalars(select(Job).where(Job.organisation_id == world.org_b.id))
    )


@isolation_case("jobs")
def _jobs_probes(w: World) -> list[Probe]:
    return [
        Probe("GET", "/api/v1/jobs/{b_job_id}"),
        Probe("POST", "/api/v1/jobs/{b_job_id}/cancel"),
        Probe("GET", "/jobs/{b_job_id}"),
        Probe("GET", "/jobs/{b_job_id}/progress"),
        Probe("POST", "/jobs/{b_job_id}/cancel"),
    ]
