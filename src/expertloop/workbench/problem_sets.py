"""Create, list and edit problem sets (their text is autosaved with optimistic concurrency)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, User
from expertloop.accounts.policies import is_operator
from expertloop.errors import Conflict, PermissionDenied, ValidationFailed
from expertloop.events import emit
from expertloop.projects.models import REVIEWING, Project, Staffing
from expertloop.projects.projects import nda_cleared
from expertloop.types import utcnow
from expertloop.workbench import events, policies
from expertloop.workbench.access import Loaded
from expertloop.workbench.models import Persona, ProblemSet, Status
from expertloop.workbench.policies import Access
from expertloop.workbench.status import begin_work

EDITABLE_FIELDS = ("title", "statement", "context", "persona", "domain")
LIMITS = {"title": 300, "statement": 100_000, "context": 500_000, "domain": 100}


def snapshot(ps: ProblemSet) -> dict[str, Any]:
    """Return the editable fields and version, as a stale save's 409 reports them."""
    return {
        "version": ps.version,
        "title": ps.title,
        "statement": ps.statement,
        "context": ps.context,
        "persona": ps.persona.value,
        "domain": ps.domain,
        "status": ps.status.value,
    }


def _validated(changes: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in EDITABLE_FIELDS:
        if key not in changes or changes[key] is None:
            continue
        value = changes[key]
        if key == "persona":
            try:
                value = Persona(value)
            except ValueError:
                raise ValidationFailed(
                    "Persona must be user, business_owner or executive."
                ) from None
        else:
            value = str(value)
            if key in ("title", "domain"):
                value = value.strip()
            if len(value) > LIMITS[key]:
                raise ValidationFailed(
                    f"{key.capitalize()} is longer than {LIMITS[key]} characters."
                )
        values[key] = value
    if "title" in values and not values["title"]:
        raise ValidationFailed("The problem set needs a title.")
    return values


def create(*, session: Session, access: Access, **fields: Any) -> ProblemSet:
    """Start a problem set on a project the actor works on."""
    if not policies.can_create(access):
        raise PermissionDenied("Only the experts staffed on the project write problem sets.")
    values = _validated({"domain": access.project.domain, **fields})
    if not values.get("title"):
        raise ValidationFailed("The problem set needs a title.")
    ps = ProblemSet(project_id=access.project.id, author_id=access.actor.id, **values)
    session.add(ps)
    session.flush()
    emit(
        events.ProblemSetCreated(
            actor_user_id=access.actor.id,
            organisation_id=access.project.organisation_id,
            subject_type="problem_set",
            subject_id=str(ps.id),
            project_id=access.project.id,
            title=ps.title,
        ),
        session=session,
    )
    return ps


def list_for(
    *,
    session: Session,
    access: Access,
    status: Status | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ProblemSet], int]:
    """Return a page of the problem sets the actor may see, newest first, and the total."""
    query = select(ProblemSet).where(ProblemSet.project_id == access.project.id)
    if not policies.sees_all(access):
        query = query.where(ProblemSet.author_id == access.actor.id)
    if status is not None:
        query = query.where(ProblemSet.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(ProblemSet.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def check_version(ps: ProblemSet, version: int) -> None:
    """Raise ``Conflict`` with the current state when ``version`` is stale."""
    if version != ps.version:
        raise Conflict(
            "This problem set was changed elsewhere (another tab or person); "
            "compare both versions and save again.",
            details={"current_version": ps.version, "current": snapshot(ps)},
        )


def update(
    *, session: Session, loaded: Loaded, version: int, changes: dict[str, Any]
) -> ProblemSet:
    """Apply edits when ``version`` is current; the database refuses a concurrent winner too."""
    loaded.require_edit()
    ps = loaded.problem_set
    check_version(ps, version)
    values = _validated(changes)
    if not values:
        return ps
    for key, value in values.items():
        setattr(ps, key, value)
    ps.updated_at = utcnow()
    if ps.status == Status.returned:
        begin_work(session=session, loaded=loaded)  # flushes the edits with the status
    session.flush()  # version_id_col: UPDATE ... WHERE version = <loaded>, else 409
    return ps


def authored_by(
    *, session: Session, actor: User, limit: int = 20
) -> list[tuple[ProblemSet, Project]]:
    """Return the actor's own problem sets (with their projects), most recently changed first."""
    rows = session.execute(
        select(ProblemSet, Project)
        .join(Project, Project.id == ProblemSet.project_id)
        .where(ProblemSet.author_id == actor.id)
        .order_by(ProblemSet.updated_at.desc(), ProblemSet.id.desc())
        .limit(limit)
    ).all()
    return [(ps, project) for ps, project in rows]


def review_queue(
    *, session: Session, actor: User, limit: int = 50
) -> list[tuple[ProblemSet, Project]]:
    """Return submitted and in-review problem sets the actor reviews, oldest submission first."""
    query = (
        select(ProblemSet, Project)
        .join(Project, Project.id == ProblemSet.project_id)
        .where(ProblemSet.status.in_((Status.submitted, Status.in_review)))
    )
    if not is_operator(actor):
        if actor.role != Role.reviewer:
            return []  # a staffing as reviewer outlives a change of role; the role decides
        query = query.join(
            Staffing,
            (Staffing.project_id == Project.id)
            & (Staffing.user_id == actor.id)
            & (Staffing.role.in_(REVIEWING))
            & nda_cleared(),
        )
    rows = session.execute(
        query.order_by(ProblemSet.submitted_at, ProblemSet.id).limit(limit)
    ).all()
    return [(ps, project) for ps, project in rows]


@dataclass(frozen=True)
class ProblemSetFacts:
    """What other domains may know of a problem set without its content (e.g. for webhooks)."""

    id: int
    project_id: int
    status: str
    accepted_at: dt.datetime | None


def facts(*, session: Session, problem_set_id: int) -> ProblemSetFacts | None:
    """Return a problem set's id, project, status and acceptance time (no access check)."""
    ps = session.get(ProblemSet, problem_set_id)
    if ps is None:
        return None
    return ProblemSetFacts(ps.id, ps.project_id, ps.status.value, ps.accepted_at)
