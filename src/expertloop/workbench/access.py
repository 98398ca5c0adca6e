"""Load workbench objects through the access policy: what the actor may not see is a 404."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.errors import NotFound, PermissionDenied
from expertloop.projects import projects as projects_uc
from expertloop.workbench import policies
from expertloop.workbench.models import (
    Annotation,
    IdealAnswer,
    ProblemSet,
    Step,
    StepRevision,
    StepRun,
)
from expertloop.workbench.policies import Access


def project_access(*, session: Session, actor: User, project_id: int) -> Access:
    """Return the actor's access to a project they may see, or raise ``NotFound``."""
    project = projects_uc.get_project(session=session, project_id=project_id, actor=actor)
    return Access(actor, project, projects_uc.staff_role(session, project.id, actor.id))


@dataclass(frozen=True)
class Loaded:
    """A problem set the actor may see, with the access that allowed it."""

    access: Access
    problem_set: ProblemSet

    @property
    def can_edit(self) -> bool:
        return policies.can_edit(self.access, self.problem_set)

    def require_edit(self) -> None:
        """Raise unless the actor may change the problem set now."""
        ps = self.problem_set
        if ps.author_id != self.access.actor.id:
            raise PermissionDenied("Only the author changes a problem set.")
        if not self.can_edit:
            raise PermissionDenied(
                f"The problem set is {ps.status.value.replace('_', ' ')}; "
                "its author cannot change it now."
            )


def problem_set(*, session: Session, actor: User, problem_set_id: int) -> Loaded:
    """Return a problem set the actor may see, or raise ``NotFound``."""
    ps = session.get(ProblemSet, problem_set_id)
    if ps is None:
        raise NotFound("Problem set not found.")
    try:
        access = project_access(session=session, actor=actor, project_id=ps.project_id)
    except NotFound:
        raise NotFound("Problem set not found.") from None
    if not policies.can_view(access, ps):
        raise NotFound("Problem set not found.")
    return Loaded(access, ps)


def step(*, session: Session, actor: User, step_id: int) -> tuple[Loaded, Step]:
    """Return a step (with its problem set) the actor may see, or raise ``NotFound``."""
    row = session.get(Step, step_id)
    if row is None:
        raise NotFound("Step not found.")
    try:
        loaded = problem_set(session=session, actor=actor, problem_set_id=row.problem_set_id)
    except NotFound:
        raise NotFound("Step not found.") from None
    return loaded, row


def revision(
    *, session: Session, actor: User, revision_id: int
) -> tuple[Loaded, Step, StepRevision]:
    """Return a revision the actor may see, or raise ``NotFound``."""
    row = session.get(StepRevision, revision_id)
    if row is None:
        raise NotFound("Revision not found.")
    try:
        loaded, parent = step(session=session, actor=actor, step_id=row.step_id)
    except NotFound:
        raise NotFound("Revision not found.") from None
    return loaded, parent, row


def step_run(
    *, session: Session, actor: User, step_run_id: int
) -> tuple[Loaded, Step, StepRevision, StepRun]:
    """Return a step run the actor may see, or raise ``NotFound``."""
    row = session.get(StepRun, step_run_id)
    if row is None:
        raise NotFound("Run not found.")
    try:
        loaded, parent, rev = revision(session=session, actor=actor, revision_id=row.revision_id)
    except NotFound:
        raise NotFound("Run not found.") from None
    return loaded, parent, rev, row


def annotation(*, session: Session, actor: User, annotation_id: int) -> tuple[Loaded, Annotation]:
    """Return an annotation the actor may see, or raise ``NotFound``."""
    row = session.get(Annotation, annotation_id)
    if row is None:
        raise NotFound("Annotation not found.")
    try:
        loaded, _step, _rev = revision(session=session, actor=actor, revision_id=row.revision_id)
    except NotFound:
        raise NotFound("Annotation not found.") from None
    return loaded, row


def ideal_answer(*, session: Session, step_id: int) -> IdealAnswer | None:
    """Return the step's ideal answer, if one was written (access checked by the caller)."""
    return session.scalar(select(IdealAnswer).where(IdealAnswer.step_id == step_id))
