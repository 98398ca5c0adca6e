"""Pages: a project's NDA (read, accept, publish a new version) and the expert's invitations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from expertloop.errors import ExpertLoopError
from expertloop.projects import ndas
from expertloop.text import clean as clean_text
from expertloop.web.deps import DB, IP, CurrentUser
from expertloop.web.errors import status_for
from expertloop.web.templating import render

router = APIRouter()


@router.get("/invitations/projects")
def invitations_page(request: Request, user: CurrentUser, db: DB) -> Response:
    """List the projects you are staffed on that open once you accept their NDA."""
    invitations = ndas.pending_invitations(session=db, actor=user)
    return render(request, "projects/nda_invitations.html", {"invitations": invitations})


def _nda_page(
    request: Request,
    state: ndas.NdaState,
    *,
    error: str | None = None,
    draft: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "projects/nda.html",
        {
            "state": state,
            "project": state.project,
            "error": error,
            "draft": draft if draft is not None else (state.nda.text if state.nda else ""),
        },
        status_code,
    )


@router.get("/projects/{project_id}/nda")
def nda_page(request: Request, project_id: int, user: CurrentUser, db: DB) -> Response:
    """Show the NDA and the public summary (all a pending expert may see of the project)."""
    return _nda_page(request, ndas.nda_state(session=db, actor=user, project_id=project_id))


@router.post("/projects/{project_id}/nda")
def nda_publish(
    request: Request,
    project_id: int,
    user: CurrentUser,
    db: DB,
    text: Annotated[str, Form(max_length=ndas.MAX_NDA_CHARS + 1_000)] = "",
) -> Response:
    """Publish a new NDA version from the page's form; a refusal keeps what was typed."""
    state = ndas.nda_state(session=db, actor=user, project_id=project_id)
    try:
        body = clean_text(text, field="NDA", max_length=ndas.MAX_NDA_CHARS)
        with db.begin_nested():
            ndas.publish_nda(session=db, actor=user, project_id=project_id, text=body)
    except ExpertLoopError as exc:
        return _nda_page(request, state, error=exc.message, draft=text, status_code=status_for(exc))
    return RedirectResponse(f"/projects/{project_id}/nda?published=1", status_code=303)


@router.post("/projects/{project_id}/nda/accept")
def nda_accept(
    request: Request,
    project_id: int,
    user: CurrentUser,
    db: DB,
    ip: IP,
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Accept the NDA version shown; the project then opens."""
    try:
        with db.begin_nested():
            ndas.accept_nda(
                session=db,
                actor=user,
                project_id=project_id,
                version=int(version) if version.strip().isdigit() else -1,
                ip=ip,
                user_agent=request.headers.get("user-agent", ""),
            )
    except ExpertLoopError as exc:
        # Shown again (a newer version, say); a project that does not exist for them stays 404.
        state = ndas.nda_state(session=db, actor=user, project_id=project_id)
        return _nda_page(request, state, error=exc.message, status_code=status_for(exc))
    return RedirectResponse(f"/projects/{project_id}", status_code=303)
