"""The loop on one step: run revisions (whole or streamed), annotate, score, ideal answer, diff;
and the workbench's activity heartbeats."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from expertloop.accounts.models import User
from expertloop.errors import NotFound, ValidationFailed
from expertloop.llm import runs as llm_runs
from expertloop.llm.models import ModelEndpoint, ModelRun
from expertloop.types import utcnow
from expertloop.web.api.common import ERRORS
from expertloop.web.api.runs import run_out, stream_events
from expertloop.web.deps import DB, AppSettings, CurrentUser, Hub
from expertloop.workbench import access as load
from expertloop.workbench import activity, assess, diffs
from expertloop.workbench import runs as step_runs
from expertloop.workbench.models import StepRun
from expertloop.workbench.schemas import (
    AnnotationIn,
    AnnotationOut,
    DiffOut,
    HeartbeatIn,
    HeartbeatOut,
    IdealIn,
    IdealOut,
    RubricIn,
    StepRunIn,
    StepRunOut,
)
from expertloop.workbench.steps import revisions_of

router = APIRouter(tags=["workbench"], responses=ERRORS)


def step_run_out(
    step_run: StepRun, run: ModelRun, viewer: User, rubric: dict[int, bool] | None = None
) -> StepRunOut:
    """Serialise a step run with its model run (upstream errors for operators only)."""
    return StepRunOut(
        id=step_run.id,
        revision_id=step_run.revision_id,
        chained=step_run.chained,
        run=run_out(run, viewer),
        rubric=rubric or {},
    )


def _start(
    db: Session, user: User, revision_id: int, endpoint_id: int
) -> tuple[StepRun, ModelRun, ModelEndpoint]:
    loaded, step, revision = load.revision(session=db, actor=user, revision_id=revision_id)
    started = step_runs.start(
        session=db, loaded=loaded, step=step, revision=revision, endpoint_id=endpoint_id
    )
    db.commit()  # the run exists before the model is called; no transaction is held meanwhile
    return started


@router.post("/revisions/{revision_id}/runs", response_model=StepRunOut, status_code=201)
async def run_revision(
    revision_id: int, body: StepRunIn, user: CurrentUser, db: DB, hub: Hub
) -> StepRunOut:
    """Run the step's newest revision on one target model and return the whole answer."""
    step_run, run, endpoint = await run_in_threadpool(
        _start, db, user, revision_id, body.endpoint_id
    )
    completion = await llm_runs.call_model(hub, endpoint, run)

    def finish() -> StepRunOut:
        done = llm_runs.finish_run(session=db, run_id=run.id, completion=completion)
        return step_run_out(step_run, done, user)

    return await run_in_threadpool(finish)


@router.post(
    "/revisions/{revision_id}/runs/stream",
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream_revision(
    revision_id: int, body: StepRunIn, request: Request, user: CurrentUser, db: DB, hub: Hub
) -> StreamingResponse:
    """Run the newest revision and stream the answer as SSE: ``run``, ``delta``…, ``done``.

    The ``run`` event's ``id`` is the model run; the step run's id is ``step_run_id``.
    """
    step_run, run, endpoint = _start(db, user, revision_id, body.endpoint_id)
    factory = request.app.state.session_factory
    return StreamingResponse(
        stream_events(factory, hub, endpoint, run, user, extra={"step_run_id": step_run.id}),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/steps/{step_id}/runs", response_model=list[StepRunOut])
def list_step_runs(step_id: int, user: CurrentUser, db: DB) -> list[StepRunOut]:
    """List the runs of every revision of the step, oldest first, with rubric results."""
    load.step(session=db, actor=user, step_id=step_id)
    revision_ids = [r.id for r in revisions_of(session=db, step_id=step_id)]
    views = step_runs.runs_of(session=db, revision_ids=revision_ids)
    results = assess.results_for(session=db, step_run_ids=[v.step_run.id for v in views])
    return [step_run_out(v.step_run, v.run, user, results.get(v.step_run.id)) for v in views]


@router.get("/step-runs/{step_run_id}", response_model=StepRunOut)
def get_step_run(step_run_id: int, user: CurrentUser, db: DB) -> StepRunOut:
    """Return one step run with its answer and rubric results."""
    _l, _s, _r, step_run = load.step_run(session=db, actor=user, step_run_id=step_run_id)
    run = db.get(ModelRun, step_run.model_run_id)
    if run is None:
        raise NotFound("Run not found.")
    results = assess.results_for(session=db, step_run_ids=[step_run.id])
    return step_run_out(step_run, run, user, results.get(step_run.id))


@router.put("/step-runs/{step_run_id}/rubric", response_model=StepRunOut)
def score_step_run(step_run_id: int, body: RubricIn, user: CurrentUser, db: DB) -> StepRunOut:
    """Mark one rubric criterion met or not for this answer."""
    loaded, _s, revision, step_run = load.step_run(session=db, actor=user, step_run_id=step_run_id)
    assess.score(
        session=db,
        loaded=loaded,
        revision=revision,
        step_run=step_run,
        criterion=body.criterion,
        met=body.met,
    )
    return get_step_run(step_run_id, user, db)


@router.get("/steps/{step_id}/annotations", response_model=list[AnnotationOut])
def list_annotations(step_id: int, user: CurrentUser, db: DB) -> list[AnnotationOut]:
    """List the annotations on every revision of the step and its runs."""
    load.step(session=db, actor=user, step_id=step_id)
    ids = [r.id for r in revisions_of(session=db, step_id=step_id)]
    rows = assess.for_revisions(session=db, revision_ids=ids)
    return [AnnotationOut.model_validate(a) for a in rows]


@router.post("/revisions/{revision_id}/annotations", response_model=AnnotationOut, status_code=201)
def add_annotation(
    revision_id: int, body: AnnotationIn, user: CurrentUser, db: DB
) -> AnnotationOut:
    """Annotate a span of a run's answer (``step_run_id``) or the revision's prompt."""
    loaded, _step, revision = load.revision(session=db, actor=user, revision_id=revision_id)
    step_run = None
    if body.step_run_id is not None:
        step_run = db.get(StepRun, body.step_run_id)
        if step_run is None or step_run.revision_id != revision.id:
            raise ValidationFailed("That run is not a run of this revision.")
    row = assess.add(
        session=db,
        loaded=loaded,
        revision=revision,
        step_run=step_run,
        category=body.category,
        severity=body.severity.value,
        note=body.note,
        start=body.start,
        end=body.end,
        quote=body.quote,
    )
    return AnnotationOut.model_validate(row)


@router.delete("/annotations/{annotation_id}", status_code=204)
def delete_annotation(annotation_id: int, user: CurrentUser, db: DB) -> Response:
    """Delete an annotation no revision cites."""
    loaded, row = load.annotation(session=db, actor=user, annotation_id=annotation_id)
    assess.delete(session=db, loaded=loaded, annotation=row)
    return Response(status_code=204)


@router.get("/steps/{step_id}/ideal-answer", response_model=IdealOut | None)
def get_ideal(step_id: int, user: CurrentUser, db: DB) -> IdealOut | None:
    """Return the step's ideal answer (null when none was written)."""
    load.step(session=db, actor=user, step_id=step_id)
    row = load.ideal_answer(session=db, step_id=step_id)
    return IdealOut.model_validate(row) if row else None


@router.put("/steps/{step_id}/ideal-answer", response_model=IdealOut)
def save_ideal(step_id: int, body: IdealIn, user: CurrentUser, db: DB) -> IdealOut:
    """Create (no ``version``) or autosave (current ``version``) the step's ideal answer."""
    loaded, step = load.step(session=db, actor=user, step_id=step_id)
    based_on = None
    revision = None
    if body.based_on_step_run_id is not None:
        _l, base_step, revision, based_on = load.step_run(
            session=db, actor=user, step_run_id=body.based_on_step_run_id
        )
        if base_step.id != step.id:
            raise ValidationFailed("The ideal answer must start from a run of this step.")
    row = assess.save_ideal(
        session=db,
        loaded=loaded,
        step=step,
        text=body.text,
        version=body.version,
        based_on=based_on,
        revision=revision,
    )
    return IdealOut.model_validate(row)


@router.get("/diff", response_model=DiffOut)
def diff_texts(
    user: CurrentUser,
    db: DB,
    before_run: Annotated[int | None, Query(description="A step run id")] = None,
    after_run: Annotated[int | None, Query(description="A step run id")] = None,
    before_revision: Annotated[int | None, Query(description="A revision id")] = None,
    after_revision: Annotated[int | None, Query(description="A revision id")] = None,
) -> DiffOut:
    """Word diff between two answers (step runs) or two prompts (revisions) you may see."""
    if before_run is not None and after_run is not None:
        texts = []
        for sr_id in (before_run, after_run):
            _l, _s, _r, sr = load.step_run(session=db, actor=user, step_run_id=sr_id)
            run = db.get(ModelRun, sr.model_run_id)
            texts.append(run.answer if run else "")
    elif before_revision is not None and after_revision is not None:
        texts = [
            load.revision(session=db, actor=user, revision_id=rid)[2].prompt
            for rid in (before_revision, after_revision)
        ]
    else:
        raise ValidationFailed(
            "Give before_run and after_run, or before_revision and after_revision."
        )
    ops = diffs.diff_words(texts[0], texts[1])
    return DiffOut(ops=[list(op) for op in ops], **diffs.stats(ops))


@router.post("/activity/heartbeats", response_model=HeartbeatOut)
def heartbeat(body: HeartbeatIn, user: CurrentUser, db: DB, settings: AppSettings) -> HeartbeatOut:
    """Record that you are working (page visible, focused, recent input); returns tracked time."""
    access = load.project_access(session=db, actor=user, project_id=body.project_id)
    loaded = None
    if body.problem_set_id is not None:
        loaded = load.problem_set(session=db, actor=user, problem_set_id=body.problem_set_id)
        if loaded.problem_set.project_id != body.project_id:
            raise ValidationFailed("That problem set is not in this project.")
    row = activity.record(session=db, access=access, loaded=loaded, kind=body.kind)
    # Only the heartbeats that can count: since the problem set began, or this week's.
    since = (
        loaded.problem_set.created_at
        if loaded is not None
        else dt.datetime.combine(
            utcnow().date() - dt.timedelta(days=utcnow().weekday()), dt.time(), tzinfo=dt.UTC
        )
    )
    tracked = activity.tracked(
        session=db,
        user_id=user.id,
        since=since,
        idle_cutoff=dt.timedelta(seconds=settings.activity_idle_cutoff_seconds),
    )
    return HeartbeatOut(
        recorded=row is not None,
        tracked_seconds=tracked.total(body.project_id, body.problem_set_id),
    )
