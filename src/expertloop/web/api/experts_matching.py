"""JSON API: search and rank experts (operators), and staff the chosen ones on a project.

``invite_to_project`` is where the two sibling domains meet (experts may not import projects):
the vetting check of ``experts.pipeline`` and the staffing of ``projects.projects``, per chosen
expert, in the request's one transaction. The page of the same name calls it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.errors import ExpertLoopError, NotFound, ValidationFailed
from expertloop.experts import matching, policies, taxonomy
from expertloop.experts.matching import MatchPage, MatchQuery
from expertloop.experts.models import LanguageLevel, VettingState
from expertloop.experts.pipeline import check_staffable
from expertloop.experts.schemas import InviteToProjectIn, InviteToProjectOut, MatchPageOut
from expertloop.projects import projects as projects_uc
from expertloop.projects.models import StaffRole
from expertloop.settings import Settings
from expertloop.web.api.common import ERRORS
from expertloop.web.deps import DB, AppSettings, CurrentUser

router = APIRouter(tags=["experts"], responses=ERRORS)

COUNTRY = r"^[A-Za-z]{2}$"
CURRENCY = r"^[A-Za-z]{3}$"
LANGUAGE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


@dataclass
class Outcome:
    """What happened to one chosen expert."""

    user_id: int
    name: str
    reason: str = ""


@dataclass
class InviteResult:
    """The experts staffed, skipped (already on the project) and refused (with the reason)."""

    project_id: int
    project_name: str
    staffed: list[Outcome] = field(default_factory=list)
    skipped: list[Outcome] = field(default_factory=list)
    refused: list[Outcome] = field(default_factory=list)


def invite_to_project(
    *, session: Session, actor: User, project_id: int, user_ids: list[int]
) -> InviteResult:
    """Staff each chosen expert on the project as an expert, unless already staffed or unvetted.

    Operators only (anyone else: 404). Each staffing runs in a savepoint, so one refusal leaves
    the others staffed; the caller's transaction commits them all at once.
    """
    if not policies.can_match(actor):
        raise NotFound("Page not found.")
    project = projects_uc.get_project(session=session, project_id=project_id, actor=actor)
    result = InviteResult(project_id=project.id, project_name=project.name)
    for user_id in dict.fromkeys(user_ids):
        user = session.get(User, user_id)
        if user is None:
            result.refused.append(Outcome(user_id, "", "No such expert."))
            continue
        if projects_uc.has_staffing(session, project.id, user.id):
            reason = (
                "Already staffed on this project."
                if projects_uc.is_staffed(session, project.id, user.id)
                else "Already invited; waiting for them to accept the project's NDA."
            )
            result.skipped.append(Outcome(user.id, user.name, reason))
            continue
        try:
            with session.begin_nested():
                check_staffable(session, user.id, project.id)
                projects_uc.staff_user(
                    session=session,
                    actor=actor,
                    project=project,
                    user_id=user.id,
                    role=StaffRole.expert,
                )
        except ExpertLoopError as exc:
            result.refused.append(Outcome(user.id, user.name, exc.message))
            continue
        result.staffed.append(Outcome(user.id, user.name))
    return result


def check_taxonomy(settings: Settings, domain: str | None, specialty: str | None) -> None:
    """Raise ``ValidationFailed`` for a domain or specialty not in the taxonomy."""
    if domain:
        taxonomy.check(domain, specialty or "", extra_file=settings.expert_taxonomy_file)
    elif specialty:
        raise ValidationFailed("Choose the domain of the specialty.", details={"field": "domain"})


@router.get("/experts/search", response_model=MatchPageOut)
def search_experts(
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    q: Annotated[str, Query(max_length=500, description="Web-search syntax")] = "",
    domain: Annotated[str | None, Query(max_length=80)] = None,
    specialty: Annotated[str | None, Query(max_length=80)] = None,
    language: Annotated[str | None, Query(pattern=LANGUAGE, max_length=12)] = None,
    min_level: LanguageLevel | None = None,
    country: Annotated[str | None, Query(pattern=COUNTRY)] = None,
    utc_offset_min: Annotated[int | None, Query(ge=-720, le=840)] = None,
    utc_offset_max: Annotated[int | None, Query(ge=-720, le=840)] = None,
    min_weekly_hours: Annotated[int | None, Query(ge=0, le=168)] = None,
    rate_min: Annotated[int | None, Query(ge=0, description="Minor units of currency")] = None,
    rate_max: Annotated[int | None, Query(ge=0, description="Minor units of currency")] = None,
    currency: Annotated[str | None, Query(pattern=CURRENCY)] = None,
    state: Annotated[list[VettingState] | None, Query()] = None,
    min_quality: Annotated[float | None, Query(ge=0, le=1)] = None,
    after: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=matching.MAX_LIMIT)] = 20,
) -> MatchPage:
    """Search approved experts (or those in ``state``) by filters and free text, best first."""
    if not policies.can_match(user):
        raise NotFound("Page not found.")
    check_taxonomy(settings, domain, specialty)
    query = MatchQuery(
        text=q,
        domain=domain or None,
        specialty=specialty or None,
        language=language,
        min_level=min_level,
        country=country.upper() if country else None,
        utc_offset_min=utc_offset_min,
        utc_offset_max=utc_offset_max,
        min_weekly_hours=min_weekly_hours,
        rate_min=rate_min,
        rate_max=rate_max,
        currency=currency.upper() if currency else None,
        states=tuple(dict.fromkeys(state)) if state else (VettingState.approved,),
        min_quality=min_quality,
    )
    return matching.search(db, user, query, after=after, limit=limit)


@router.post("/experts/invite-to-project", response_model=InviteToProjectOut)
def invite_experts(body: InviteToProjectIn, user: CurrentUser, db: DB) -> InviteResult:
    """Staff the chosen experts on a project; already staffed ones are skipped, unvetted refused."""
    return invite_to_project(
        session=db, actor=user, project_id=body.project_id, user_ids=body.user_ids
    )
