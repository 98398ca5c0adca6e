"""Pages: the candidate's interview (questions streamed by the page's script), the operators'
interview guide editor, and the interview partial of a candidate's detail page."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from expertloop.accounts.models import User
from expertloop.errors import ExpertLoopError, NotFound, ValidationFailed
from expertloop.experts import interview_guides as guides
from expertloop.experts import interviews
from expertloop.experts.pipeline import NEXT_STEP
from expertloop.text import clean
from expertloop.web.api.experts_interviews import run_scoring
from expertloop.web.deps import DB, IP, CurrentUser, Hub
from expertloop.web.errors import status_for
from expertloop.web.templating import render

router = APIRouter()

GUIDES_PER_PAGE = 10


@router.get("/interviews")
def interview_page(request: Request, user: CurrentUser, db: DB) -> Response:
    """The candidate's interview: start it, answer the questions, see that it is complete."""
    candidate = interviews.own_candidate(db, user)
    if candidate is None:
        raise NotFound("You have no interview.")
    view = interviews.mine(db, actor=user)
    return render(
        request,
        "experts/interview.html",
        {
            "candidate": candidate,
            "view": view,
            "next_step": NEXT_STEP[candidate.state],
            "at_gate": candidate.state.value == "interview",
        },
    )


@router.post("/interviews")
def interview_start(request: Request, user: CurrentUser, db: DB, ip: IP) -> Response:
    """Start (or resume) the interview, then show it."""
    try:
        with db.begin_nested():
            interviews.start(db, actor=user, ip=ip)
    except ExpertLoopError as exc:
        if status_for(exc) == 404:
            raise
        candidate = interviews.own_candidate(db, user)
        return render(
            request,
            "experts/interview.html",
            {
                "candidate": candidate,
                "view": interviews.mine(db, actor=user),
                "next_step": NEXT_STEP[candidate.state] if candidate else "",
                "at_gate": candidate is not None and candidate.state.value == "interview",
                "error": exc.message,
            },
            status_for(exc),
        )
    return RedirectResponse("/interviews", status_code=303)


# --- Operators: the candidate's interview partial ---------------------------------------------


def _partial(
    request: Request, db: Session, user: User, candidate_id: int, **extra: Any
) -> Response:
    views = interviews.for_candidate(db, actor=user, candidate_id=candidate_id)
    # In place (htmx) the partial alone; opened as a page of its own, with the page around it.
    in_place = request.headers.get("HX-Request") == "true"
    return render(
        request,
        "experts/_interview_review.html" if in_place else "experts/interview_review.html",
        {"views": views, "candidate_id": candidate_id, **extra},
    )


@router.get("/candidates/{candidate_id}/interview")
def interview_partial(request: Request, candidate_id: int, user: CurrentUser, db: DB) -> Response:
    """The candidate's interviews: transcript, suggested score and reasons (operators)."""
    return _partial(request, db, user, candidate_id)


@router.post("/candidates/{candidate_id}/interview/scoring")
async def interview_rescore(
    request: Request, candidate_id: int, user: CurrentUser, db: DB, hub: Hub
) -> Response:
    """Ask the model again for the suggested score of the candidate's newest interview."""
    views = await run_in_threadpool(
        interviews.for_candidate, db, actor=user, candidate_id=candidate_id
    )
    if not views:
        raise NotFound("This candidate has no interview.")
    error = None
    try:
        await run_scoring(db, request.app.state.session_factory, hub, user, views[0].interview.id)
    except ExpertLoopError as exc:
        error = exc.message
    db.expire_all()
    return await run_in_threadpool(lambda: _partial(request, db, user, candidate_id, error=error))


# --- Operators: the interview guide ------------------------------------------------------------


def _guide_context(db: Session, user: User, page: int) -> dict[str, Any]:
    rows, total = guides.list_versions(
        db, actor=user, limit=GUIDES_PER_PAGE, offset=(page - 1) * GUIDES_PER_PAGE
    )
    newest = guides.current(db)
    endpoints = guides.usable_endpoints(db)
    return {
        "guide": newest,
        "versions": rows,
        "endpoints": endpoints,
        "endpoint_names": {e.id: e.name for e in endpoints},
        "rubric_text": rubric_to_form(newest.rubric) if newest else "",
        "page": page,
        "pages": max(1, math.ceil(total / GUIDES_PER_PAGE)),
    }


@router.get("/interview-guides")
def guides_page(
    request: Request, user: CurrentUser, db: DB, page: Annotated[int, Query(ge=1)] = 1
) -> Response:
    """The newest interview guide as an editable form, and its earlier versions."""
    return render(request, "experts/interview_guides.html", _guide_context(db, user, page))


def _rubric_from_form(text: str) -> list[dict[str, Any]]:
    """Read the rubric field: one criterion a line, ``key | title | weight | description``."""
    out: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|", 3)]
        if len(parts) < 3:
            raise ValidationFailed(
                f"Rubric line {n}: write key | title | weight | description.",
                details={"field": "rubric"},
            )
        key, title, weight = parts[0], parts[1], parts[2]
        out.append(
            {
                "key": key,
                "title": title,
                "weight": weight,
                "description": parts[3] if len(parts) > 3 else "",
            }
        )
    return out


def rubric_to_form(rubric: list[dict[str, Any]]) -> str:
    """Write the rubric as the form's lines (the inverse of reading them)."""
    return "\n".join(
        " | ".join(str(c.get(k, "")) for k in ("key", "title", "weight", "description")).rstrip(
            " |"
        )
        for c in rubric
    )


@router.post("/interview-guides")
def guides_save(
    request: Request,
    user: CurrentUser,
    db: DB,
    system_prompt: Annotated[str, Form(max_length=20_000)] = "",
    scoring_prompt: Annotated[str, Form(max_length=20_000)] = "",
    rubric: Annotated[str, Form(max_length=20_000)] = "",
    question_count: Annotated[str, Form(max_length=4)] = "",
    endpoint_id: Annotated[str, Form(max_length=12)] = "",
    base_version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Save the edited guide as a new version; a refusal keeps what was typed, with the reason."""
    guides.list_versions(db, actor=user, limit=1)  # operators only (404 for anyone else)
    try:
        rubric = clean(rubric, field="Rubric", max_length=20_000)
        count = int(question_count) if question_count.strip().isdigit() else 0
        draft = guides.GuideDraft(
            system_prompt=system_prompt,
            scoring_prompt=scoring_prompt,
            rubric=_rubric_from_form(rubric),
            question_count=count,
            endpoint_id=int(endpoint_id) if endpoint_id.strip().isdigit() else None,
        )
        with db.begin_nested():
            row = guides.save_version(
                db,
                actor=user,
                draft=draft,
                base_version=int(base_version) if base_version.strip().isdigit() else None,
            )
    except ExpertLoopError as exc:
        context = _guide_context(db, user, 1)
        context.update(
            error=exc.message,
            form={
                "system_prompt": system_prompt,
                "scoring_prompt": scoring_prompt,
                "rubric": rubric,
                "question_count": question_count,
                "endpoint_id": endpoint_id,
                "base_version": base_version,
            },
        )
        return render(request, "experts/interview_guides.html", context, status_for(exc))
    return RedirectResponse(f"/interview-guides?saved={row.version}", status_code=303)


@router.get("/interview-guides/{guide_id}")
def guide_version_page(request: Request, guide_id: int, user: CurrentUser, db: DB) -> Response:
    """One earlier version of the guide, read-only (interviews on it keep it)."""
    guide = guides.get(db, actor=user, guide_id=guide_id)
    endpoint = guides.endpoint_of(db, guide.endpoint_id)
    return render(
        request,
        "experts/interview_guide.html",
        {
            "guide": guide,
            "endpoint_name": endpoint.name if endpoint else None,
        },
    )
