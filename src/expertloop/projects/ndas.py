"""Project NDAs: versioned texts, acceptance records, and the invitations they gate.

A project may carry a non-disclosure agreement. Its clients and the operators publish it; each
publication is a new version and the newest one is in force. A user staffed on a project with an
NDA is not staffed for any purpose (``projects.projects.nda_cleared``) until they accept the
current version; until then they see only the NDA and the project's public summary (domain,
expected hours, advertised rate, summary text). A new version asks everybody again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.accounts.policies import is_operator
from expertloop.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from expertloop.events import emit
from expertloop.projects import events, policies
from expertloop.projects.models import NdaAcceptance, Project, ProjectNda, Staffing, StaffRole
from expertloop.projects.projects import has_staffing, is_staffed, nda_cleared

MAX_NDA_CHARS = 100_000


@dataclass(frozen=True)
class NdaState:
    """A project's NDA as one caller sees it."""

    project: Project
    nda: ProjectNda | None
    acceptance: NdaAcceptance | None  # the caller's acceptance of the current version
    pending: bool  # staffed, but the project opens once they accept
    acceptances: int | None  # how many accepted the current version (operators only)
    can_publish: bool

    @property
    def accepted(self) -> bool:
        return self.nda is None or self.acceptance is not None


@dataclass(frozen=True)
class Invitation:
    """A project the user is staffed on that opens once they accept its current NDA."""

    project: Project
    role: StaffRole
    nda: ProjectNda
    staffed_at: dt.datetime


def current_nda(session: Session, project_id: int) -> ProjectNda | None:
    """Return the NDA version in force on a project (the newest), or None."""
    return session.scalar(
        select(ProjectNda)
        .where(ProjectNda.project_id == project_id)
        .order_by(ProjectNda.version.desc())
        .limit(1)
    )


def _reach(session: Session, actor: User, project_id: int) -> tuple[Project, bool]:
    """Return the project and whether the actor is only pending on it; else ``NotFound``."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("Project not found.")
    if policies.can_view(actor, project, staffed=is_staffed(session, project.id, actor.id)):
        return project, False
    if actor.is_active and has_staffing(session, project.id, actor.id):
        return project, True
    raise NotFound("Project not found.")


def _acceptance(session: Session, nda: ProjectNda, user_id: int) -> NdaAcceptance | None:
    return session.scalar(
        select(NdaAcceptance).where(
            NdaAcceptance.nda_id == nda.id, NdaAcceptance.user_id == user_id
        )
    )


def nda_state(*, session: Session, actor: User, project_id: int) -> NdaState:
    """Return the project's NDA for anyone the project exists for, or who is pending on it."""
    project, pending = _reach(session, actor, project_id)
    nda = current_nda(session, project.id)
    acceptance = _acceptance(session, nda, actor.id) if nda is not None else None
    count = None
    if nda is not None and is_operator(actor):
        count = session.scalar(
            select(func.count(NdaAcceptance.id)).where(NdaAcceptance.nda_id == nda.id)
        )
    return NdaState(
        project=project,
        nda=nda,
        acceptance=acceptance,
        pending=pending,
        acceptances=count,
        can_publish=not pending and policies.can_edit(actor, project),
    )


def publish_nda(*, session: Session, actor: User, project_id: int, text: str) -> ProjectNda:
    """Publish a new NDA version (the project's clients and the operators).

    Publishing the same text as the current version changes nothing (a retry is harmless)."""
    project, pending = _reach(session, actor, project_id)
    if pending:  # to a pending expert the project is only its NDA and public summary
        raise NotFound("Project not found.")
    if not policies.can_edit(actor, project):
        raise PermissionDenied("Only the client organisation and operators set a project's NDA.")
    body = text.strip()
    if not body:
        raise ValidationFailed("The NDA text must not be empty.")
    if len(body) > MAX_NDA_CHARS:
        raise ValidationFailed(f"The NDA text is limited to {MAX_NDA_CHARS:,} characters.")
    # Serialise publications on the project row (PostgreSQL); the unique constraint backs it up.
    session.scalar(select(Project.id).where(Project.id == project.id).with_for_update())
    current = current_nda(session, project.id)
    if current is not None and current.text == body:
        return current
    nda = ProjectNda(
        project_id=project.id,
        version=(current.version + 1) if current is not None else 1,
        text=body,
        created_by_id=actor.id,
    )
    session.add(nda)
    session.flush()
    emit(
        events.NdaPublished(
            actor_user_id=actor.id,
            organisation_id=project.organisation_id,
            subject_type="project",
            subject_id=str(project.id),
            nda_id=nda.id,
            nda_version=nda.version,
        ),
        session=session,
    )
    return nda


def accept_nda(
    *,
    session: Session,
    actor: User,
    project_id: int,
    version: int,
    ip: str | None,
    user_agent: str,
) -> NdaAcceptance:
    """Record that a staffed user accepts the current NDA version; accepting twice is harmless.

    ``version`` is the version they read: if a newer one was published meanwhile, ``Conflict``."""
    project, _pending = _reach(session, actor, project_id)
    if not has_staffing(session, project.id, actor.id):
        raise PermissionDenied("Only the people staffed on a project accept its NDA.")
    nda = current_nda(session, project.id)
    if nda is None:
        raise ValidationFailed("This project has no NDA to accept.")
    if version != nda.version:
        raise Conflict(
            "A newer version of the NDA was published; read it and accept that one.",
            details={"current_version": nda.version},
        )
    existing = _acceptance(session, nda, actor.id)
    if existing is not None:
        return existing
    acceptance = NdaAcceptance(
        nda_id=nda.id,
        project_id=project.id,
        version=nda.version,
        user_id=actor.id,
        ip_address=(ip or "")[:64],
        user_agent=user_agent[:500],
    )
    session.add(acceptance)
    session.flush()
    emit(
        events.NdaAccepted(
            actor_user_id=actor.id,
            organisation_id=project.organisation_id,
            ip=ip,
            subject_type="project",
            subject_id=str(project.id),
            nda_id=nda.id,
            nda_version=nda.version,
        ),
        session=session,
    )
    return acceptance


def pending_invitations(*, session: Session, actor: User) -> list[Invitation]:
    """Return the projects the actor is staffed on pending their NDA, newest staffing first."""
    if not actor.is_active:
        return []
    current = (
        select(func.max(ProjectNda.version))
        .where(ProjectNda.project_id == Staffing.project_id)
        .correlate(Staffing)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Staffing, Project, ProjectNda)
        .join(Project, Project.id == Staffing.project_id)
        .join(
            ProjectNda,
            (ProjectNda.project_id == Staffing.project_id) & (ProjectNda.version == current),
        )
        .where(Staffing.user_id == actor.id, ~nda_cleared())
        .order_by(Staffing.created_at.desc(), Staffing.id.desc())
    )
    return [
        Invitation(project=project, role=staffing.role, nda=nda, staffed_at=staffing.created_at)
        for staffing, project, nda in rows
    ]


def acceptances(
    *, session: Session, actor: User, project_id: int, limit: int = 50, offset: int = 0
) -> tuple[list[NdaAcceptance], int]:
    """Return the project's acceptance records, newest first (operators only: who is staffed is
    private to them)."""
    project, pending = _reach(session, actor, project_id)
    if pending:
        raise NotFound("Project not found.")
    if not is_operator(actor):
        raise PermissionDenied("Only operators see who accepted a project's NDA.")
    query = select(NdaAcceptance).where(NdaAcceptance.project_id == project.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(NdaAcceptance.accepted_at.desc(), NdaAcceptance.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total
