"""Projects and their staffing."""

from __future__ import annotations

from fastapi import APIRouter

from expertloop.experts.pipeline import check_staffable
from expertloop.projects import projects as projects_uc
from expertloop.projects.policies import can_staff
from expertloop.projects.schemas import (
    ProjectIn,
    ProjectOut,
    ProjectPatch,
    StaffingIn,
    StaffingOut,
    StaffRoleIn,
)
from expertloop.web.api.common import ERRORS, ErrorOut, PageOut
from expertloop.web.deps import DB, CurrentUser, Paging

router = APIRouter(prefix="/projects", tags=["projects"], responses=ERRORS)


@router.get("", response_model=PageOut[ProjectOut])
def list_projects(user: CurrentUser, db: DB, page: Paging) -> PageOut[ProjectOut]:
    """List the projects you may see, newest first."""
    rows, total = projects_uc.list_projects(
        session=db, actor=user, limit=page.limit, offset=page.offset
    )
    return PageOut[ProjectOut](
        items=[ProjectOut.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("", response_model=ProjectOut, status_code=201)
def create_project(body: ProjectIn, user: CurrentUser, db: DB) -> ProjectOut:
    """Create a project (clients for their organisation, operators for any client)."""
    project = projects_uc.create_project(session=db, actor=user, **body.model_dump())
    return ProjectOut.model_validate(project)


@router.get("/{project_id}", response_model=ProjectOut)
def get_project(project_id: int, user: CurrentUser, db: DB) -> ProjectOut:
    """Return a project you may see."""
    return ProjectOut.model_validate(
        projects_uc.get_project(session=db, project_id=project_id, actor=user)
    )


@router.patch(
    "/{project_id}",
    response_model=ProjectOut,
    responses={409: {"model": ErrorOut, "description": "Stale version"}},
)
def update_project(project_id: int, body: ProjectPatch, user: CurrentUser, db: DB) -> ProjectOut:
    """Edit a project; send the version you edited (a stale one gets 409)."""
    project = projects_uc.get_project(session=db, project_id=project_id, actor=user)
    updated = projects_uc.update_project(
        session=db,
        actor=user,
        project=project,
        version=body.version,
        changes=body.model_dump(exclude={"version"}, exclude_unset=True),
    )
    return ProjectOut.model_validate(updated)


@router.get("/{project_id}/staff", response_model=list[StaffingOut])
def list_staff(project_id: int, user: CurrentUser, db: DB) -> list[StaffingOut]:
    """List who is staffed on a project."""
    project = projects_uc.get_project(session=db, project_id=project_id, actor=user)
    return [
        StaffingOut.model_validate(s)
        for s in projects_uc.list_staff(session=db, actor=user, project=project)
    ]


@router.post("/{project_id}/staff", response_model=StaffingOut, status_code=201)
def staff_user(project_id: int, body: StaffingIn, user: CurrentUser, db: DB) -> StaffingOut:
    """Staff a user on a project (operators; a candidate once vetted, or for their work sample)."""
    project = projects_uc.get_project(session=db, project_id=project_id, actor=user)
    if can_staff(user):  # the vetting state is the operators' to know
        check_staffable(db, body.user_id, project.id)
    staffing = projects_uc.staff_user(
        session=db, actor=user, project=project, user_id=body.user_id, role=body.role
    )
    return StaffingOut.model_validate(staffing)


@router.patch("/{project_id}/staff/{user_id}", response_model=StaffingOut)
def change_staff_role(
    project_id: int, user_id: int, body: StaffRoleIn, user: CurrentUser, db: DB
) -> StaffingOut:
    """Change a staffed user's role, e.g. make a reviewer the project's lead (operators only)."""
    project = projects_uc.get_project(session=db, project_id=project_id, actor=user)
    staffing = projects_uc.change_staff_role(
        session=db, actor=user, project=project, user_id=user_id, role=body.role
    )
    return StaffingOut.model_validate(staffing)


@router.delete("/{project_id}/staff/{user_id}", status_code=204)
def unstaff_user(project_id: int, user_id: int, user: CurrentUser, db: DB) -> None:
    """Remove a user from a project (operators only)."""
    project = projects_uc.get_project(session=db, project_id=project_id, actor=user)
    projects_uc.unstaff_user(session=db, actor=user, project=project, user_id=user_id)
