"""JSON API: project NDAs, their acceptance, and the expert's pending project invitations."""

from __future__ import annotations

from fastapi import APIRouter, Request

from expertloop.projects import ndas
from expertloop.projects.schemas import (
    NdaAcceptanceOut,
    NdaAcceptIn,
    NdaIn,
    NdaOut,
    NdaStateOut,
    ProjectInvitationOut,
    PublicSummaryOut,
)
from expertloop.web.api.common import ERRORS, ErrorOut, PageOut
from expertloop.web.deps import DB, IP, CurrentUser, Paging

router = APIRouter(tags=["projects"], responses=ERRORS)


def state_out(state: ndas.NdaState) -> NdaStateOut:
    """Shape a project's NDA as its caller sees it (shared with the page's read model)."""
    return NdaStateOut(
        project=PublicSummaryOut.model_validate(state.project),
        nda=NdaOut.model_validate(state.nda) if state.nda is not None else None,
        accepted=state.accepted,
        accepted_at=state.acceptance.accepted_at if state.acceptance is not None else None,
        pending=state.pending,
        acceptances=state.acceptances,
    )


@router.get("/me/project-invitations", response_model=list[ProjectInvitationOut])
def my_project_invitations(user: CurrentUser, db: DB) -> list[ProjectInvitationOut]:
    """List the projects you are staffed on that open once you accept their NDA (public
    summary only)."""
    return [
        ProjectInvitationOut(
            project=PublicSummaryOut.model_validate(i.project),
            role=i.role,
            nda_version=i.nda.version,
            staffed_at=i.staffed_at,
        )
        for i in ndas.pending_invitations(session=db, actor=user)
    ]


@router.get("/projects/{project_id}/nda", response_model=NdaStateOut)
def get_nda(project_id: int, user: CurrentUser, db: DB) -> NdaStateOut:
    """Return the project's current NDA and whether you accepted it (also to a pending expert)."""
    return state_out(ndas.nda_state(session=db, actor=user, project_id=project_id))


@router.put("/projects/{project_id}/nda", response_model=NdaOut)
def put_nda(project_id: int, body: NdaIn, user: CurrentUser, db: DB) -> NdaOut:
    """Publish a new NDA version (clients of the project and operators); everybody staffed must
    accept it again. Sending the current text again changes nothing."""
    nda = ndas.publish_nda(session=db, actor=user, project_id=project_id, text=body.text)
    return NdaOut.model_validate(nda)


@router.post(
    "/projects/{project_id}/nda/accept",
    response_model=NdaAcceptanceOut,
    responses={409: {"model": ErrorOut, "description": "A newer NDA version was published"}},
)
def accept_nda(
    project_id: int, body: NdaAcceptIn, request: Request, user: CurrentUser, db: DB, ip: IP
) -> NdaAcceptanceOut:
    """Accept the NDA version you read; the project then opens to you."""
    acceptance = ndas.accept_nda(
        session=db,
        actor=user,
        project_id=project_id,
        version=body.version,
        ip=ip,
        user_agent=request.headers.get("user-agent", ""),
    )
    return NdaAcceptanceOut.model_validate(acceptance)


@router.get("/projects/{project_id}/nda/acceptances", response_model=PageOut[NdaAcceptanceOut])
def list_acceptances(
    project_id: int, user: CurrentUser, db: DB, page: Paging
) -> PageOut[NdaAcceptanceOut]:
    """List who accepted which version, when and from where (operators only), newest first."""
    rows, total = ndas.acceptances(
        session=db, actor=user, project_id=project_id, limit=page.limit, offset=page.offset
    )
    return PageOut[NdaAcceptanceOut](
        items=[NdaAcceptanceOut.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )
