"""Pages: the operators' vetting board (counts, funnel chart, candidate list), a candidate's
detail with the decision form (in place with htmx), and the candidate's own status page."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from expertloop.accounts.models import User
from expertloop.errors import ExpertLoopError, NotFound, ValidationFailed
from expertloop.experts import policies, taxonomy, vetting
from expertloop.experts.models import VettingState
from expertloop.projects import projects as projects_uc
from expertloop.settings import Settings
from expertloop.text import clean
from expertloop.web.api.experts_vetting import decide_and_staff
from expertloop.web.deps import DB, IP, AppSettings, CurrentUser
from expertloop.web.errors import status_for
from expertloop.web.templating import render

router = APIRouter()
PAGE_SIZE = 25
# The funnel chart's series: the moves into each gate per week (the table below has them too).
CHART_STATES = (*vetting.FUNNEL, VettingState.rejected)


def _domains(settings: Settings) -> dict[str, str]:
    return {d.key: d.label for d in taxonomy.domains(settings.expert_taxonomy_file).values()}


def funnel_chart(board: vetting.Board) -> dict[str, Any]:
    """Return the chart of moves into each gate per week (stacked), for static/js/charts.js."""
    if not any(any(w.counts[s.value] for s in CHART_STATES) for w in board.weeks):
        return {"labels": [], "datasets": []}
    return {
        "labels": [w.week_start.isoformat() for w in board.weeks],
        "datasets": [
            {"label": vetting.label(s), "data": [w.counts[s.value] for w in board.weeks]}
            for s in CHART_STATES
        ],
        "unit": "count",
        "stacked": True,
    }


def _state(raw: str) -> VettingState | None:
    if not raw:
        return None
    try:
        return VettingState(raw)
    except ValueError as exc:
        raise ValidationFailed(
            "Choose a vetting state from the list.", details={"field": "state"}
        ) from exc


@router.get("/candidates")
def board_page(
    request: Request,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    state: Annotated[str, Query(max_length=20)] = "",
    domain: Annotated[str, Query(max_length=80)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Show candidates per state, the funnel over time, and the filtered candidate list."""
    if not policies.can_vet(user):
        raise NotFound("Page not found.")
    board = vetting.board(db, actor=user)
    error = ""
    chosen: VettingState | None = None
    search = ""
    try:
        chosen = _state(state)
        search = clean(q, field="Search", max_length=200, one_line=True)
    except ExpertLoopError as exc:
        error = exc.message
    listing = vetting.list_candidates(
        db,
        actor=user,
        state=chosen,
        domain=domain or None,
        search=search,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    filters = [(k, v) for k, v in (("state", state), ("domain", domain), ("q", search)) if v]
    context = {
        "board": board,
        "funnel_chart": funnel_chart(board),
        "chart_states": CHART_STATES,
        "listing": listing,
        "state": state,
        "domain": domain,
        "q": search,
        "error": error,
        "domains": _domains(settings),
        "states": vetting.COLUMNS,
        "page": page,
        "pages": max(1, -(-listing.total // PAGE_SIZE)),
        "pager_extra": ("&" + urlencode(filters)) if filters else "",
    }
    return render(request, "experts/board.html", context)


def _projects(db: DB, user: User) -> list[Any]:
    rows, _ = projects_uc.list_projects(session=db, actor=user, limit=200)
    return rows


def _detail_context(
    db: DB, user: User, settings: Settings, candidate_id: int, **extra: Any
) -> dict[str, Any]:
    view = vetting.detail(db, actor=user, candidate_id=candidate_id)
    projects = _projects(db, user)
    names = {p.id: p.name for p in projects}
    return {
        "view": view,
        "c": view.candidate,
        "projects": projects,
        "work_sample_project": names.get(view.work_sample_project_id or 0, ""),
        "domains": _domains(settings),
        "error": "",
        "form": {},
        **extra,
    }


@router.get("/candidates/{candidate_id}")
def candidate_page(
    request: Request, candidate_id: int, user: CurrentUser, db: DB, settings: AppSettings
) -> Response:
    """Show a candidate: profile, history, assessments and interview, and the decision form."""
    context = _detail_context(db, user, settings, candidate_id)
    return render(request, "experts/candidate.html", context)


@router.post("/candidates/{candidate_id}/decision")
def decision(
    request: Request,
    candidate_id: int,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    ip: IP,
    to: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
    project_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Record the operator's decision; in place with htmx (the refusal shown at the form)."""
    vetting.get_candidate(db, actor=user, candidate_id=candidate_id)  # outsiders: 404 first
    in_place = request.headers.get("HX-Request") == "true"
    form = {"to": to, "reason": reason, "project_id": project_id}
    try:
        if not to:
            raise ValidationFailed("Choose the next state.", details={"field": "to"})
        target = _state(to)
        assert target is not None
        if not version.strip().isdigit():
            raise ValidationFailed(
                "Reload the page and decide again.", details={"field": "version"}
            )
        text = clean(reason, field="Reason", max_length=vetting.REASON_MAX)
        chosen_project = int(project_id) if project_id.strip().isdigit() else None
        # A savepoint: a refused staffing takes the move back with it.
        with db.begin_nested():
            decide_and_staff(
                session=db,
                actor=user,
                candidate_id=candidate_id,
                to=target,
                reason=text,
                version=int(version),
                project_id=chosen_project,
                ip=ip,
            )
    except ExpertLoopError as exc:
        status = status_for(exc)
        context = _detail_context(db, user, settings, candidate_id, error=exc.message, form=form)
        if in_place:
            # Swapped in whatever happened: the refusal is read where the button was.
            return render(request, "experts/_candidate_decision.html", context)
        return render(request, "experts/candidate.html", context, status)
    if in_place:
        context = _detail_context(db, user, settings, candidate_id, done=True)
        return render(request, "experts/_candidate_decision.html", context)
    return RedirectResponse(f"/candidates/{candidate_id}", status_code=303)


@router.get("/vetting")
def my_vetting_page(request: Request, user: CurrentUser, db: DB, settings: AppSettings) -> Response:
    """Show the candidate where they stand, what comes next and the reasons they are told."""
    status = vetting.my_status(db, user)
    if status is None:
        raise NotFound("You are not in the vetting pipeline.")
    context = {
        "vetting": status,
        "domains": _domains(settings),
        "nda_pending": _nda_pending(db, user, status),
    }
    return render(request, "experts/vetting_status.html", context)


def _nda_pending(db: DB, user: User, status: vetting.MyVetting) -> bool:
    """Tell whether the work-sample project waits for the candidate to accept its NDA."""
    project_id = status.work_sample_project_id
    if project_id is None:
        return False
    return projects_uc.has_staffing(db, project_id, user.id) and not projects_uc.is_staffed(
        db, project_id, user.id
    )


@router.post("/vetting/withdraw")
def withdraw_page(
    request: Request,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    ip: IP,
    reason: Annotated[str, Form(max_length=4000)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Withdraw the caller's application, then show where they stand."""
    try:
        with db.begin_nested():
            vetting.withdraw(
                db,
                user=user,
                reason=reason,
                version=int(version) if version.strip().isdigit() else None,
                ip=ip,
            )
    except ExpertLoopError as exc:
        status = vetting.my_status(db, user)
        if status is None:
            raise
        context = {
            "vetting": status,
            "domains": _domains(settings),
            "nda_pending": _nda_pending(db, user, status),
            "error": exc.message,
        }
        return render(request, "experts/vetting_status.html", context, status_for(exc))
    return RedirectResponse("/vetting", status_code=303)
