"""Create, list, read, edit and staff projects, always through the visibility policy."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, or_, select, update
from sqlalchemy.orm import Session

from expertloop.accounts.models import Organisation, OrganisationKind, Role, User
from expertloop.accounts.policies import is_operator
from expertloop.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from expertloop.events import emit
from expertloop.projects import events, policies
from expertloop.projects.models import NdaAcceptance, Project, ProjectNda, Staffing, StaffRole
from expertloop.types import utcnow

_EDITABLE = (
    "name",
    "description",
    "domain",
    "guidelines",
    "public_summary",
    "expected_hours_per_week",
    "hourly_rate_cents",
    "rate_currency",
)

# Which user roles may be staffed in which project role.
_STAFFABLE: dict[StaffRole, frozenset[Role]] = {
    StaffRole.expert: frozenset({Role.expert, Role.reviewer}),
    StaffRole.reviewer: frozenset({Role.reviewer}),
    StaffRole.lead: frozenset({Role.reviewer}),
}


def nda_cleared() -> ColumnElement[bool]:
    """SQL condition on ``Staffing`` rows: the staffing is in force (the NDA gate).

    A staffing counts only when its project has no NDA, or when the staffed user accepted the
    project's *current* (newest) NDA version; a new version asks again. Every query of who is
    staffed, in any domain, adds this condition (or goes through ``active_staffing``)."""
    current = (
        select(func.max(ProjectNda.version))
        .where(ProjectNda.project_id == Staffing.project_id)
        .correlate(Staffing)
        .scalar_subquery()
    )
    has_nda = exists().where(ProjectNda.project_id == Staffing.project_id).correlate(Staffing)
    accepted = (
        exists()
        .where(
            NdaAcceptance.project_id == Staffing.project_id,
            NdaAcceptance.user_id == Staffing.user_id,
            NdaAcceptance.version == current,
        )
        .correlate(Staffing)
    )
    return or_(~has_nda, accepted)


def active_staffing() -> Select[Staffing]:
    """Return a query of the staffings in force (NDA accepted or none); filter it further."""
    return select(Staffing).where(nda_cleared())


def has_staffing(session: Session, project_id: int, user_id: int) -> bool:
    """Tell whether a staffing row exists, in force or still pending the project's NDA.

    For staffing bookkeeping only (e.g. "already staffed or invited"); access is ``is_staffed``."""
    query = select(Staffing.id).where(
        Staffing.project_id == project_id, Staffing.user_id == user_id
    )
    return session.scalar(query) is not None


def is_staffed(session: Session, project_id: int, user_id: int) -> bool:
    """Tell whether the user is staffed on the project (and cleared its NDA, if it has one)."""
    query = select(Staffing.id).where(
        Staffing.project_id == project_id, Staffing.user_id == user_id, nda_cleared()
    )
    return session.scalar(query) is not None


def staff_role(session: Session, project_id: int, user_id: int) -> StaffRole | None:
    """Return the user's role on the project, or None when not staffed (or pending its NDA)."""
    query = select(Staffing.role).where(
        Staffing.project_id == project_id, Staffing.user_id == user_id, nda_cleared()
    )
    return session.scalar(query)


def visible_projects(actor: User) -> Select[Project]:
    """Return a query of the projects that exist for ``actor``."""
    query = select(Project)
    if is_operator(actor):
        return query
    staffed = exists().where(
        Staffing.project_id == Project.id, Staffing.user_id == actor.id, nda_cleared()
    )
    if actor.role == Role.client:
        return query.where(or_(Project.organisation_id == actor.organisation_id, staffed))
    return query.where(staffed)


def list_projects(
    *, session: Session, actor: User, limit: int = 50, offset: int = 0
) -> tuple[list[Project], int]:
    """Return a page of visible projects, newest first, and the total count."""
    query = visible_projects(actor)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Project.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def get_project(*, session: Session, project_id: int, actor: User) -> Project:
    """Return a project that exists for the actor, or raise ``NotFound``."""
    project = session.get(Project, project_id)
    if project is None or not policies.can_view(
        actor, project, staffed=is_staffed(session, project.id, actor.id)
    ):
        raise NotFound("Project not found.")
    return project


def create_project(
    *,
    session: Session,
    actor: User,
    name: str,
    organisation_id: int | None = None,
    description: str = "",
    domain: str = "",
    guidelines: str = "",
) -> Project:
    """Create a project for a client organisation (the caller's own by default)."""
    org_id = organisation_id if organisation_id is not None else actor.organisation_id
    org = session.get(Organisation, org_id)
    if org is None or not policies.can_create(actor, org_id):
        # An organisation the actor may not create in does not exist for them.
        raise NotFound("Organisation not found.")
    if org.kind != OrganisationKind.client:
        raise ValidationFailed("Projects belong to client organisations.")
    if not name.strip():
        raise ValidationFailed("Project name must not be empty.")
    project = Project(
        organisation_id=org.id,
        name=name.strip(),
        description=description,
        domain=domain.strip(),
        guidelines=guidelines,
        created_by_id=actor.id,
    )
    session.add(project)
    session.flush()
    emit(
        events.ProjectCreated(
            actor_user_id=actor.id,
            organisation_id=org.id,
            subject_type="project",
            subject_id=str(project.id),
            name=project.name,
        ),
        session=session,
    )
    return project


def update_project(
    *, session: Session, actor: User, project: Project, version: int, changes: dict[str, Any]
) -> Project:
    """Apply edits when ``version`` is current; a stale version raises ``Conflict`` (409)."""
    if not policies.can_edit(actor, project):
        raise PermissionDenied("Only the client organisation and operators edit a project.")
    if version != project.version:
        raise Conflict(
            "The project was changed by someone else; reload and reapply your edit.",
            details={"current_version": project.version},
        )
    values: dict[str, Any] = {}
    for key in _EDITABLE:
        value = changes.get(key)
        if value is None:
            continue
        if key in ("name", "domain"):
            value = str(value).strip()
        if key == "name" and not value:
            raise ValidationFailed("Project name must not be empty.")
        if key in ("expected_hours_per_week", "hourly_rate_cents", "rate_currency"):
            value = _summary_value(key, value)
        values[key] = value
    if not values:
        return project
    # Compare-and-set in the database, so that two concurrent requests cannot both win.
    result = session.execute(
        update(Project)
        .where(Project.id == project.id, Project.version == version)
        .values(version=version + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session="fetch")
    )
    if getattr(result, "rowcount", 1) != 1:
        session.refresh(project)
        raise Conflict(
            "The project was changed by someone else; reload and reapply your edit.",
            details={"current_version": project.version},
        )
    session.refresh(project)
    emit(
        events.ProjectUpdated(
            actor_user_id=actor.id,
            organisation_id=project.organisation_id,
            subject_type="project",
            subject_id=str(project.id),
            fields=tuple(values),
            version=version + 1,
        ),
        session=session,
    )
    return project


def _summary_value(key: str, value: Any) -> Any:
    """Check one field of the public summary (expected hours, advertised rate and currency)."""
    if key == "rate_currency":
        text = str(value).strip().upper()
        if text and (len(text) != 3 or not text.isalpha()):
            raise ValidationFailed("The currency is a three-letter code such as USD.")
        return text
    number = int(value)
    if key == "expected_hours_per_week" and not 0 <= number <= 80:
        raise ValidationFailed("Expected hours per week are between 0 and 80.")
    if key == "hourly_rate_cents" and not 0 <= number <= 10_000_000:
        raise ValidationFailed("The advertised hourly rate must be between 0 and 100,000.")
    return number


def list_staff(*, session: Session, actor: User, project: Project) -> list[Staffing]:
    """Return who is staffed on a project (the project must be visible to the actor)."""
    get_project(session=session, project_id=project.id, actor=actor)
    query = select(Staffing).where(Staffing.project_id == project.id).order_by(Staffing.id)
    return list(session.scalars(query))


def staff_people(*, session: Session, actor: User, project: Project) -> list[tuple[Staffing, User]]:
    """Return staffings with their users' accounts (operators only: expert data is private)."""
    if not is_operator(actor):
        raise PermissionDenied("Only operators see who is staffed by name.")
    query = (
        select(Staffing, User)
        .join(User, User.id == Staffing.user_id)
        .where(Staffing.project_id == project.id)
        .order_by(Staffing.role, User.name)
    )
    return [(staffing, user) for staffing, user in session.execute(query)]


def staff_user(
    *, session: Session, actor: User, project: Project, user_id: int, role: StaffRole
) -> Staffing:
    """Staff a user on a project (operators only)."""
    if not policies.can_staff(actor):
        raise PermissionDenied("Only operators staff projects.")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    if not user.is_active:
        raise ValidationFailed("This account is deactivated; reactivate it first.")
    if user.role not in _STAFFABLE[role]:
        raise ValidationFailed(f"A {user.role.value} cannot be staffed as {role.value}.")
    if has_staffing(session, project.id, user.id):
        raise Conflict("This user is already staffed on the project.")
    staffing = Staffing(project_id=project.id, user_id=user.id, role=role, created_by_id=actor.id)
    session.add(staffing)
    session.flush()
    emit(
        events.UserStaffed(
            actor_user_id=actor.id,
            organisation_id=project.organisation_id,
            subject_type="project",
            subject_id=str(project.id),
            user_id=user.id,
            role=role.value,
        ),
        session=session,
    )
    return staffing


def change_staff_role(
    *, session: Session, actor: User, project: Project, user_id: int, role: StaffRole
) -> Staffing:
    """Change a staffed user's role on the project, e.g. make a reviewer its lead (operators)."""
    if not policies.can_staff(actor):
        raise PermissionDenied("Only operators staff projects.")
    staffing = session.scalar(
        select(Staffing)
        .where(Staffing.project_id == project.id, Staffing.user_id == user_id)
        .with_for_update()
    )
    if staffing is None:
        raise NotFound("Staffing not found.")
    if staffing.role == role:
        return staffing  # already so: a retry changes nothing
    user = session.get(User, user_id)
    assert user is not None
    if not user.is_active:
        raise ValidationFailed("This account is deactivated; reactivate it first.")
    if user.role not in _STAFFABLE[role]:
        raise ValidationFailed(f"A {user.role.value} cannot be staffed as {role.value}.")
    before = staffing.role
    staffing.role = role
    session.flush()
    emit(
        events.StaffRoleChanged(
            actor_user_id=actor.id,
            organisation_id=project.organisation_id,
            subject_type="project",
            subject_id=str(project.id),
            user_id=user_id,
            from_role=before.value,
            to_role=role.value,
        ),
        session=session,
    )
    return staffing


def unstaff_user(*, session: Session, actor: User, project: Project, user_id: int) -> None:
    """Remove a user from a project (operators only)."""
    if not policies.can_staff(actor):
        raise PermissionDenied("Only operators staff projects.")
    staffing = session.scalar(
        select(Staffing).where(Staffing.project_id == project.id, Staffing.user_id == user_id)
    )
    if staffing is None:
        raise NotFound("Staffing not found.")
    session.delete(staffing)
    session.flush()
    emit(
        events.UserUnstaffed(
            actor_user_id=actor.id,
            organisation_id=project.organisation_id,
            subject_type="project",
            subject_id=str(project.id),
            user_id=user_id,
        ),
        session=session,
    )
