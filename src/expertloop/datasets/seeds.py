"""Imported seeds: list a project's seeds, and let a staffed expert pick one up as a problem set.

A seed is seen by everyone who sees its project (the client's organisation, the operators and the
users staffed on it). Picking one up creates a draft problem set authored by the expert through
the workbench's own use cases (its statement, context and domain, and one step per prompt) and
marks the seed picked; the row is locked, so a second pick-up gets 409.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.datasets import events, policies
from expertloop.datasets.models import Seed
from expertloop.errors import Conflict, NotFound, PermissionDenied
from expertloop.events import emit
from expertloop.projects import projects as projects_uc
from expertloop.projects.models import Project
from expertloop.types import utcnow
from expertloop.workbench import access as wb_access
from expertloop.workbench import problem_sets, steps
from expertloop.workbench.access import Loaded


@dataclass(frozen=True)
class PickedUp:
    """What a pick-up made: the problem set, its steps, and the seed now marked picked."""

    seed: Seed
    problem_set_id: int
    step_ids: list[int]


def visible_project(*, session: Session, actor: User, project_id: int) -> Project:
    """Return the project whose seeds the actor may list (404 otherwise)."""
    return projects_uc.get_project(session=session, project_id=project_id, actor=actor)


def list_seeds(
    *,
    session: Session,
    project: Project,
    available: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Seed], int]:
    """Return a page of a project's seeds in import order and how many there are.

    ``available=True`` keeps the seeds nobody picked up yet; ``False`` the picked ones.
    """
    query = select(Seed).where(Seed.project_id == project.id)
    if available is True:
        query = query.where(Seed.picked_at.is_(None))
    elif available is False:
        query = query.where(Seed.picked_at.is_not(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Seed.id).limit(limit).offset(offset))
    return list(rows), int(total)


def may_pick_up(*, session: Session, actor: User, project: Project) -> bool:
    """Tell whether the actor may pick up the project's seeds (staffed experts and reviewers)."""
    staffed = projects_uc.is_staffed(session, project.id, actor.id)
    return policies.can_pick_up_seed(actor, staffed=staffed)


def to_pick_up(
    *, session: Session, actor: User, project: Project, limit: int = 10
) -> tuple[list[Seed], int]:
    """Return the first seeds still available to a staffed expert (none for anyone else)."""
    if not may_pick_up(session=session, actor=actor, project=project):
        return [], 0
    return list_seeds(session=session, project=project, available=True, limit=limit)


def get_seed(*, session: Session, actor: User, seed_id: int, lock: bool = False) -> Seed:
    """Return a seed the actor may see (404 otherwise); ``lock`` takes its row lock."""
    query = select(Seed).where(Seed.id == seed_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    seed = session.scalar(query)
    if seed is None:
        raise NotFound("Seed not found.")
    try:
        visible_project(session=session, actor=actor, project_id=seed.project_id)
    except NotFound:
        raise NotFound("Seed not found.") from None
    return seed


def pick_up(*, session: Session, actor: User, seed_id: int) -> PickedUp:
    """Turn a seed into a draft problem set authored by the actor; 409 if already picked."""
    seed = get_seed(session=session, actor=actor, seed_id=seed_id, lock=True)
    access = wb_access.project_access(session=session, actor=actor, project_id=seed.project_id)
    if not policies.can_pick_up_seed(actor, staffed=access.staff_role is not None):
        raise PermissionDenied("Only the experts staffed on the project pick up its seeds.")
    if seed.picked_at is not None:
        mine = seed.picked_by_id == actor.id
        raise Conflict(
            "You already picked up this seed." if mine else "Someone already picked up this seed.",
            details={"problem_set_id": seed.problem_set_id} if mine else {},
        )
    fields = {"title": seed.title, "statement": seed.statement, "context": seed.context}
    if seed.domain:
        fields["domain"] = seed.domain
    ps = problem_sets.create(session=session, access=access, **fields)
    loaded = Loaded(access, ps)
    step_ids = [
        steps.add(session=session, loaded=loaded, prompt=prompt).id for prompt in seed.prompts
    ]
    seed.picked_by_id = actor.id
    seed.problem_set_id = ps.id
    seed.picked_at = utcnow()
    session.flush()
    emit(
        events.SeedPickedUp(
            actor_user_id=actor.id,
            organisation_id=access.project.organisation_id,
            subject_type="seed",
            subject_id=str(seed.id),
            project_id=seed.project_id,
            seed_id=seed.id,
            problem_set_id=ps.id,
        ),
        session=session,
    )
    return PickedUp(seed=seed, problem_set_id=ps.id, step_ids=step_ids)
