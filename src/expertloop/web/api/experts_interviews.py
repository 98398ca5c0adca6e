"""JSON API: the model-led interview (candidate side, streamed questions), its suggested score
(operators) and the versioned interview guides (operators)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from expertloop.accounts.models import User
from expertloop.db import transaction
from expertloop.errors import NotFound
from expertloop.experts import interview_guides as guides
from expertloop.experts import interviews
from expertloop.experts.interviews import Prepared
from expertloop.experts.models import InterviewTurn
from expertloop.experts.schemas import (
    AnswerIn,
    InterviewGuideIn,
    InterviewGuideListOut,
    InterviewGuideOut,
    InterviewOperatorOut,
    InterviewOut,
    InterviewTurnOut,
    QuestionOut,
)
from expertloop.llm import runs as llm_runs
from expertloop.llm.hub import ModelHub
from expertloop.llm.interface import Completion, RunStatus, TextDelta
from expertloop.settings import Settings
from expertloop.web.api.common import ERRORS
from expertloop.web.api.runs import sse
from expertloop.web.deps import DB, IP, AppSettings, CurrentUser, Hub

router = APIRouter(tags=["experts"], responses=ERRORS)

SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def interview_out(view: interviews.InterviewView, viewer: User) -> InterviewOut:
    """Serialise an interview: the suggestion and provenance for operators only."""
    if viewer.id == view.candidate.user_id:
        return InterviewOut.from_view(view)
    return InterviewOperatorOut.from_view(view)


# --- Guides -------------------------------------------------------------------------------------


@router.get("/interview-guides", response_model=InterviewGuideListOut)
def list_guides(
    user: CurrentUser,
    db: DB,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> InterviewGuideListOut:
    """List the interview guide's versions, newest first (operators)."""
    rows, total = guides.list_versions(db, actor=user, limit=limit, offset=offset)
    return InterviewGuideListOut(
        items=[InterviewGuideOut.model_validate(g) for g in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post("/interview-guides", response_model=InterviewGuideOut, status_code=201)
def save_guide(body: InterviewGuideIn, user: CurrentUser, db: DB) -> InterviewGuideOut:
    """Save a new version of the guide (409 unless ``base_version`` is the newest)."""
    draft = guides.GuideDraft(
        system_prompt=body.system_prompt,
        scoring_prompt=body.scoring_prompt,
        rubric=[c.model_dump() for c in body.rubric],
        question_count=body.question_count,
        endpoint_id=body.endpoint_id,
    )
    row = guides.save_version(db, actor=user, draft=draft, base_version=body.base_version)
    return InterviewGuideOut.model_validate(row)


@router.get("/interview-guides/{guide_id}", response_model=InterviewGuideOut)
def get_guide(guide_id: int, user: CurrentUser, db: DB) -> InterviewGuideOut:
    """Return one version of the guide (operators)."""
    return InterviewGuideOut.model_validate(guides.get(db, actor=user, guide_id=guide_id))


# --- The candidate's interview -------------------------------------------------------------------


@router.post("/interviews", response_model=InterviewOut, status_code=201)
def start_interview(user: CurrentUser, db: DB, ip: IP) -> InterviewOut:
    """Start your interview (a candidate at the interview stage), or resume the one begun."""
    return interview_out(interviews.start(db, actor=user, ip=ip), user)


@router.get("/interviews/mine", response_model=InterviewOut)
def my_interview(user: CurrentUser, db: DB) -> InterviewOut:
    """Return your newest interview (404 before you started one)."""
    view = interviews.mine(db, actor=user)
    if view is None:
        raise NotFound("You have not started your interview yet.")
    return interview_out(view, user)


@router.get("/interviews/{interview_id}", response_model=InterviewOperatorOut | InterviewOut)
def get_interview(interview_id: int, user: CurrentUser, db: DB) -> InterviewOut:
    """Return an interview: its candidate sees the transcript; operators also the suggestion."""
    return interview_out(interviews.get(db, actor=user, interview_id=interview_id), user)


def _prepare_question(
    db: Session, user: User, interview_id: int, settings: Settings
) -> Prepared | InterviewTurn:
    prepared = interviews.prepare_question(
        db, actor=user, interview_id=interview_id, taxonomy_file=settings.expert_taxonomy_file
    )
    db.commit()  # the run exists before the model is called; no transaction is held meanwhile
    return prepared


def _record_question(
    factory: sessionmaker[Session], prepared: Prepared, completion: Completion, viewer: User
) -> QuestionOut:
    with transaction(factory) as session:
        turn, error = interviews.record_question(session, prepared=prepared, completion=completion)
        view = interviews.get(session, actor=viewer, interview_id=prepared.interview_id)
        return QuestionOut(
            turn=InterviewTurnOut.model_validate(turn) if turn else None,
            error=error,
            interview=InterviewOut.from_view(view),
        )


def _waiting(db: Session, user: User, turn: InterviewTurn) -> QuestionOut:
    view = interviews.get(db, actor=user, interview_id=turn.interview_id)
    return QuestionOut(
        turn=InterviewTurnOut.model_validate(turn),
        error=None,
        interview=InterviewOut.from_view(view),
    )


@router.post("/interviews/{interview_id}/questions", response_model=QuestionOut)
async def ask_question(
    interview_id: int, request: Request, user: CurrentUser, db: DB, hub: Hub, settings: AppSettings
) -> QuestionOut:
    """Have the model ask the next question and return it whole (or the one already waiting)."""
    prepared = await run_in_threadpool(_prepare_question, db, user, interview_id, settings)
    if isinstance(prepared, InterviewTurn):
        return await run_in_threadpool(_waiting, db, user, prepared)
    completion = await llm_runs.call_model(hub, prepared.endpoint, prepared.run)
    factory = request.app.state.session_factory
    return await run_in_threadpool(_record_question, factory, prepared, completion, user)


async def question_events(
    factory: sessionmaker[Session], hub: ModelHub, prepared: Prepared, viewer: User
) -> AsyncIterator[bytes]:
    """Stream the next question as SSE (``question``, ``delta``…, ``done``) and store it, even
    when the browser goes away."""
    parts: list[str] = []
    final: Completion | None = None
    try:
        yield sse("question", {"seq": prepared.seq, "model_run_id": prepared.run.id})
        async with aclosing(llm_runs.stream_model(hub, prepared.endpoint, prepared.run)) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                    yield sse("delta", {"text": event.text})
                else:
                    final = event
    finally:
        if final is None:
            final = Completion(
                text="".join(parts),
                status=RunStatus.incomplete,
                error="The connection closed before the question finished.",
            )
        with anyio.CancelScope(shield=True):
            out = await run_in_threadpool(_record_question, factory, prepared, final, viewer)
    yield sse("done", out.model_dump(mode="json"))


async def _replay(out: QuestionOut) -> AsyncIterator[bytes]:
    assert out.turn is not None
    yield sse("question", {"seq": out.turn.seq, "model_run_id": None})
    yield sse("delta", {"text": out.turn.text})
    yield sse("done", out.model_dump(mode="json"))


@router.post(
    "/interviews/{interview_id}/questions/stream",
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream_question(
    interview_id: int, request: Request, user: CurrentUser, db: DB, hub: Hub, settings: AppSettings
) -> StreamingResponse:
    """Have the model ask the next question, streamed as SSE: ``question``, ``delta``…, ``done``.

    ``done`` carries the stored turn, or ``error`` (the model's failure; ask again to retry). A
    question already waiting for an answer is sent again instead of asking a new one.
    """
    prepared = _prepare_question(db, user, interview_id, settings)
    if isinstance(prepared, InterviewTurn):
        return StreamingResponse(
            _replay(_waiting(db, user, prepared)),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    factory = request.app.state.session_factory
    return StreamingResponse(
        question_events(factory, hub, prepared, user),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


@router.post("/interviews/{interview_id}/answers", response_model=InterviewOut)
def answer_question(
    interview_id: int, body: AnswerIn, user: CurrentUser, db: DB, ip: IP
) -> InterviewOut:
    """Answer the waiting question (the candidate); the last answer completes the interview."""
    view = interviews.answer(
        db,
        actor=user,
        interview_id=interview_id,
        question_seq=body.question_seq,
        text=body.text,
        ip=ip,
    )
    return interview_out(view, user)


# --- The suggested score -----------------------------------------------------------------------


def _prepare_scoring(db: Session, user: User, interview_id: int) -> Prepared | None:
    prepared = interviews.prepare_scoring(db, actor=user, interview_id=interview_id)
    db.commit()
    return prepared


def _record_scoring(
    factory: sessionmaker[Session], prepared: Prepared, completion: Completion, viewer: User
) -> InterviewOut:
    with transaction(factory) as session:
        interviews.record_scoring(
            session, prepared=prepared, completion=completion, actor_id=viewer.id
        )
        view = interviews.get(session, actor=viewer, interview_id=prepared.interview_id)
        return interview_out(view, viewer)


async def run_scoring(
    db: Session, factory: sessionmaker[Session], hub: ModelHub, user: User, interview_id: int
) -> None:
    """Ask the model for the suggested score and store it (no transaction held meanwhile)."""
    prepared = await run_in_threadpool(_prepare_scoring, db, user, interview_id)
    if prepared is None:
        return
    completion = await llm_runs.call_model(hub, prepared.endpoint, prepared.run)
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_record_scoring, factory, prepared, completion, user)


@router.post(
    "/interviews/{interview_id}/scoring", response_model=InterviewOperatorOut | InterviewOut
)
async def score_interview(
    interview_id: int, request: Request, user: CurrentUser, db: DB, hub: Hub
) -> InterviewOut:
    """Have the model suggest a score for a completed interview.

    Its candidate's page asks once when they finish (and learns nothing of the score); an
    operator may ask again, which replaces the suggestion (the earlier run stays recorded).
    """
    factory = request.app.state.session_factory
    await run_scoring(db, factory, hub, user, interview_id)

    def read() -> InterviewOut:
        with transaction(factory) as session:
            view = interviews.get(session, actor=user, interview_id=interview_id)
            return interview_out(view, user)

    return await run_in_threadpool(read)


@router.get("/candidates/{candidate_id}/interviews", response_model=list[InterviewOperatorOut])
def candidate_interviews(candidate_id: int, user: CurrentUser, db: DB) -> list[InterviewOut]:
    """Return a candidate's interviews, newest first, with suggestions (operators)."""
    views = interviews.for_candidate(db, actor=user, candidate_id=candidate_id)
    return [InterviewOperatorOut.from_view(v) for v in views]
