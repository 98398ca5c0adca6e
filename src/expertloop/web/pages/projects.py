"""Project pages: list, create, read."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import OrganisationKind, Role
from expertloop.accounts.policies import is_operator
from expertloop.datasets import policies as dataset_policies
from expertloop.errors import PermissionDenied, ValidationFailed
from expertloop.llm import endpoints as endpoints_uc
from expertloop.llm import runs as runs_uc
from expertloop.projects import policies, targets
from expertloop.projects import projects as projects_uc
from expertloop.text import clean as clean_text
from expertloop.web.deps import DB, CurrentUser
from expertloop.web.templating import render

router = APIRouter(prefix="/projects")
PAGE_SIZE = 20


@router.get("")
def project_list(
    request: Request, user: CurrentUser, db: DB, page: Annotated[int, Query(ge=1)] = 1
) -> Response:
    """List the projects the caller may see."""
    rows, total = projects_uc.list_projects(
        session=db, actor=user, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    pages = max(1, -(-total // PAGE_SIZE))
    can_create = user.role in (Role.client, Role.operator)
    return render(
        request,
        "projects/list.html",
        {"projects": rows, "total": total, "page": page, "pages": pages, "can_create": can_create},
    )


def _client_orgs(db: DB, user: CurrentUser) -> list[object]:
    orgs = users_uc.list_organisations(session=db, actor=user)
    return [o for o in orgs if o.kind == OrganisationKind.client]


@router.get("/new")
def project_new(request: Request, user: CurrentUser, db: DB) -> Response:
    """Show the new-project form (clients and operators)."""
    if user.role not in (Role.client, Role.operator):
        raise PermissionDenied("Only clients and operators create projects.")
    return render(
        request, "projects/new.html", {"orgs": _client_orgs(db, user), "form": {}, "error": ""}
    )


@router.post("/new")
def project_create(
    request: Request,
    user: CurrentUser,
    db: DB,
    name: Annotated[str, Form(max_length=200)] = "",
    domain: Annotated[str, Form(max_length=100)] = "",
    description: Annotated[str, Form()] = "",
    guidelines: Annotated[str, Form()] = "",
    organisation_id: Annotated[int | None, Form()] = None,
) -> Response:
    """Create the project, or show the form again with the error and the typed text kept."""
    try:
        name = clean_text(name, field="Name", max_length=200, one_line=True)
        domain = clean_text(domain, field="Domain", max_length=100, one_line=True)
        description = clean_text(description, field="Description", max_length=20_000)
        guidelines = clean_text(guidelines, field="Guidelines", max_length=200_000)
        project = projects_uc.create_project(
            session=db,
            actor=user,
            name=name,
            domain=domain,
            description=description,
            guidelines=guidelines,
            organisation_id=organisation_id,
        )
    except ValidationFailed as exc:
        form = {
            "name": name,
            "domain": domain,
            "description": description,
            "guidelines": guidelines,
            "organisation_id": organisation_id,
        }
        return render(
            request,
            "projects/new.html",
            {"orgs": _client_orgs(db, user), "form": form, "error": exc.message},
            422,
        )
    return RedirectResponse(f"/projects/{project.id}", status_code=303)


@router.get("/{project_id}")
def project_detail(request: Request, project_id: int, user: CurrentUser, db: DB) -> Response:
    """Show a project with its rendered guidelines and staff."""
    project = projects_uc.get_project(session=db, project_id=project_id, actor=user)
    staff = projects_uc.list_staff(session=db, actor=user, project=project)
    people = (
        projects_uc.staff_people(session=db, actor=user, project=project)
        if is_operator(user)
        else []
    )
    counts = Counter(s.role.value for s in staff)
    can_choose = policies.can_edit(user, project)
    context = {
        "project": project,
        "staff_counts": counts,
        "people": people,
        "targets": targets.list_targets(session=db, actor=user, project=project),
        "can_choose": can_choose,
        "all_endpoints": (
            endpoints_uc.list_available(session=db, organisation_id=project.organisation_id)
            if can_choose
            else []
        ),
        "can_run": targets.can_run(db, user, project),
        "can_datasets": dataset_policies.can_use_snapshots(user, project),
        "runs": runs_uc.list_runs(
            session=db,
            project_id=project.id,
            user_id=None if targets.can_see_all_runs(user, project) else user.id,
            limit=10,
        ),
    }
    return render(request, "projects/detail.html", context)


@router.post("/{project_id}/models")
def project_set_models(
    project_id: int,
    user: CurrentUser,
    db: DB,
    endpoint_id: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """Replace the project's target models from the checkbox form."""
    project = projects_uc.get_project(session=db, project_id=project_id, actor=user)
    targets.set_targets(session=db, actor=user, project=project, endpoint_ids=endpoint_id or [])
    return RedirectResponse(f"/projects/{project_id}#models", status_code=303)
