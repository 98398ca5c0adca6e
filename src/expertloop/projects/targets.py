"""A project's target models (its allow-list of endpoints) and who may run them."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, User
from expertloop.accounts.policies import is_operator
from expertloop.errors import NotFound, PermissionDenied, ValidationFailed
from expertloop.events import emit
from expertloop.llm.endpoints import available_to
from expertloop.llm.models import ModelEndpoint, ModelRun
from expertloop.projects import events, policies
from expertloop.projects.models import Project, TargetModel
from expertloop.projects.projects import get_project, is_staffed


def list_targets(*, session: Session, actor: User, project: Project) -> list[ModelEndpoint]:
    """Return the project's active target models (the project must be visible)."""
    get_project(session=session, project_id=project.id, actor=actor)
    query = (
        select(ModelEndpoint)
        .join(TargetModel, TargetModel.endpoint_id == ModelEndpoint.id)
        .where(TargetModel.project_id == project.id, ModelEndpoint.is_active.is_(True))
        .order_by(ModelEndpoint.name)
    )
    return list(session.scalars(query))


def set_targets(
    *, session: Session, actor: User, project: Project, endpoint_ids: list[int]
) -> list[ModelEndpoint]:
    """Replace the allow-list (the project's client organisation or an operator)."""
    if not policies.can_edit(actor, project):
        raise PermissionDenied("Only the client organisation and operators choose target models.")
    ids = list(dict.fromkeys(endpoint_ids))
    if len(ids) > 50:
        raise ValidationFailed("A project can have at most 50 target models.")
    found = set(
        session.scalars(
            select(ModelEndpoint.id).where(
                ModelEndpoint.id.in_(ids),
                ModelEndpoint.is_active.is_(True),
                # Another client's own models do not exist for this project.
                available_to(project.organisation_id),
            )
        )
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed(f"Unknown model endpoints: {missing}.")
    session.execute(delete(TargetModel).where(TargetModel.project_id == project.id))
    session.add_all(TargetModel(project_id=project.id, endpoint_id=i) for i in ids)
    session.flush()
    emit(
        events.TargetModelsChanged(
            actor_user_id=actor.id,
            organisation_id=project.organisation_id,
            subject_type="project",
            subject_id=str(project.id),
            endpoint_ids=tuple(ids),
        ),
        session=session,
    )
    return list_targets(session=session, actor=actor, project=project)


def can_run(session: Session, actor: User, project: Project) -> bool:
    """Operators and the users staffed on the project run its models."""
    return is_operator(actor) or is_staffed(session, project.id, actor.id)


def authorize_run(
    *, session: Session, actor: User, project_id: int, endpoint_id: int
) -> tuple[Project, ModelEndpoint]:
    """Return the project and endpoint if the actor may run this model on this project."""
    project = get_project(session=session, project_id=project_id, actor=actor)
    if not can_run(session, actor, project):
        raise PermissionDenied("Only operators and staffed experts run models on a project.")
    allowed = session.scalar(
        select(ModelEndpoint)
        .join(TargetModel, TargetModel.endpoint_id == ModelEndpoint.id)
        .where(
            TargetModel.project_id == project.id,
            ModelEndpoint.id == endpoint_id,
            ModelEndpoint.is_active.is_(True),
            available_to(project.organisation_id),
        )
    )
    if allowed is None:
        raise ValidationFailed("This model is not one of the project's target models.")
    return project, allowed


def get_run(*, session: Session, actor: User, run_id: int) -> ModelRun:
    """Return a run of a project the actor may see, or raise ``NotFound``."""
    run = session.get(ModelRun, run_id)
    if run is None or run.project_id is None:
        raise NotFound("Run not found.")
    project = get_project(session=session, project_id=run.project_id, actor=actor)
    if not can_see_all_runs(actor, project) and run.user_id != actor.id:
        raise NotFound("Run not found.")
    return run


def can_see_all_runs(actor: User, project: Project) -> bool:
    """Operators and the owning client see every run; experts and reviewers see their own."""
    return is_operator(actor) or (
        actor.role == Role.client and actor.organisation_id == project.organisation_id
    )
