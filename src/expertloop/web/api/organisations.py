"""Organisations: the operator's and the clients'."""

from __future__ import annotations

from fastapi import APIRouter

from expertloop.accounts import users as users_uc
from expertloop.accounts.policies import can_manage_users
from expertloop.accounts.schemas import OrganisationIn, OrganisationOut
from expertloop.errors import PermissionDenied
from expertloop.web.api.common import ERRORS
from expertloop.web.deps import DB, CurrentUser

router = APIRouter(prefix="/organisations", tags=["organisations"], responses=ERRORS)


@router.get("", response_model=list[OrganisationOut])
def list_organisations(user: CurrentUser, db: DB) -> list[OrganisationOut]:
    """List the organisations you may see."""
    return [
        OrganisationOut.model_validate(o)
        for o in users_uc.list_organisations(session=db, actor=user)
    ]


@router.post("", response_model=OrganisationOut, status_code=201)
def create_organisation(body: OrganisationIn, user: CurrentUser, db: DB) -> OrganisationOut:
    """Create a client organisation (operators only)."""
    if not can_manage_users(user):
        raise PermissionDenied("Only operators create organisations.")
    org = users_uc.create_organisation(session=db, name=body.name, kind=body.kind, actor=user)
    return OrganisationOut.model_validate(org)


@router.get("/{organisation_id}", response_model=OrganisationOut)
def get_organisation(organisation_id: int, user: CurrentUser, db: DB) -> OrganisationOut:
    """Return one organisation you may see."""
    org = users_uc.get_organisation(session=db, organisation_id=organisation_id, actor=user)
    return OrganisationOut.model_validate(org)
