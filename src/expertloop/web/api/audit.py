"""The audit log (operators only)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from expertloop.accounts.policies import can_read_audit_log
from expertloop.errors import PermissionDenied
from expertloop.events import recent
from expertloop.web.api.common import ERRORS
from expertloop.web.deps import DB, CurrentUser

router = APIRouter(prefix="/audit", tags=["audit"], responses=ERRORS)


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    kind: str
    actor_user_id: int | None
    organisation_id: int | None
    subject_type: str | None
    subject_id: str | None
    ip: str | None
    data: dict[str, Any]


@router.get("", response_model=list[AuditOut])
def list_audit(
    user: CurrentUser,
    db: DB,
    kind: Annotated[str | None, Query(max_length=80)] = None,
    before_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditOut]:
    """Return audit events, newest first; page with ``before_id``."""
    if not can_read_audit_log(user):
        raise PermissionDenied("Only operators read the audit log.")
    rows = recent(session=db, kind=kind, limit=limit, before_id=before_id)
    return [AuditOut.model_validate(r) for r in rows]
