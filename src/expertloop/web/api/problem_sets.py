"""Problem sets, their steps and revisions, status transitions and the project's taxonomy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from expertloop.accounts.models import User
from expertloop.review import returns as review_returns
from expertloop.web.api.common import ERRORS, PageOut
from expertloop.web.deps import DB, CurrentUser, Paging
from expertloop.workbench import access as load
from expertloop.workbench import problem_sets, progress, status, steps, taxonomy
from expertloop.workbench.models import Status, Step
from expertloop.workbench.progress import StepState
from expertloop.workbench.schemas import (
    CategoryIO,
    ProblemSetDetailOut,
    ProblemSetIn,
    ProblemSetOut,
    ProblemSetPatch,
    ReorderIn,
    ReviseIn,
    RevisionOut,
    StepIn,
    StepOut,
    StepPatch,
    StepStateOut,
    TaxonomyIn,
    TaxonomyOut,
    TransitionIn,
)

router = APIRouter(tags=["workbench"], responses=ERRORS)


def state_out(number: str, state: StepState) -> StepStateOut:
    """Serialise a step's standing."""
    return StepStateOut(
        number=number,
        label=state.label,
        passing=state.passing,
        has_ideal=state.has_ideal,
        done=state.done,
        revision_number=state.revision_number,
        passing_step_run_id=state.passing_step_run_id,
    )


def detail_out(db: DB, loaded: load.Loaded) -> ProblemSetDetailOut:
    """Serialise a problem set with its steps (in outline order) and what the caller may do."""
    ps = loaded.problem_set
    ordered = progress.numbered(session=db, problem_set_id=ps.id)
    states = progress.step_states(session=db, steps=[s for _n, s in ordered])
    step_rows = []
    for number, s in ordered:
        out = StepOut.model_validate(s)
        out.state = state_out(number, states[s.id])
        step_rows.append(out)
    base = ProblemSetOut.model_validate(ps).model_dump()
    return ProblemSetDetailOut(
        **base,
        steps=step_rows,
        actions=[a.value for a in status.allowed_actions(loaded)],
        can_edit=loaded.can_edit,
    )


@router.get("/projects/{project_id}/problem-sets", response_model=PageOut[ProblemSetOut])
def list_problem_sets(
    project_id: int,
    user: CurrentUser,
    db: DB,
    paging: Paging,
    status_filter: Annotated[Status | None, Query(alias="status")] = None,
) -> PageOut[ProblemSetOut]:
    """List the project's problem sets you may see (experts: their own), newest first."""
    access = load.project_access(session=db, actor=user, project_id=project_id)
    rows, total = problem_sets.list_for(
        session=db, access=access, status=status_filter, limit=paging.limit, offset=paging.offset
    )
    return PageOut[ProblemSetOut](
        items=[ProblemSetOut.model_validate(r) for r in rows],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.post(
    "/projects/{project_id}/problem-sets", response_model=ProblemSetDetailOut, status_code=201
)
def create_problem_set(
    project_id: int, body: ProblemSetIn, user: CurrentUser, db: DB
) -> ProblemSetDetailOut:
    """Start a problem set (experts staffed on the project, and operators)."""
    access = load.project_access(session=db, actor=user, project_id=project_id)
    fields = body.model_dump(exclude_none=True)
    ps = problem_sets.create(session=db, access=access, **fields)
    return detail_out(db, load.Loaded(access, ps))


def _loaded(db: DB, user: User, problem_set_id: int) -> load.Loaded:
    return load.problem_set(session=db, actor=user, problem_set_id=problem_set_id)


@router.get("/problem-sets/{problem_set_id}", response_model=ProblemSetDetailOut)
def get_problem_set(problem_set_id: int, user: CurrentUser, db: DB) -> ProblemSetDetailOut:
    """Return a problem set with its steps, their state and the actions open to you."""
    return detail_out(db, _loaded(db, user, problem_set_id))


@router.patch("/problem-sets/{problem_set_id}", response_model=ProblemSetDetailOut)
def update_problem_set(
    problem_set_id: int, body: ProblemSetPatch, user: CurrentUser, db: DB
) -> ProblemSetDetailOut:
    """Save edits (autosave); a stale ``version`` gets 409 with the current text in details."""
    loaded = _loaded(db, user, problem_set_id)
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    problem_sets.update(session=db, loaded=loaded, version=body.version, changes=changes)
    return detail_out(db, loaded)


@router.post(
    "/problem-sets/{problem_set_id}/transitions/{action}", response_model=ProblemSetDetailOut
)
def transition_problem_set(
    problem_set_id: int, action: status.Action, body: TransitionIn, user: CurrentUser, db: DB
) -> ProblemSetDetailOut:
    """Change the status: start, submit (author); start_review, accept, return (reviewers)."""
    loaded = _loaded(db, user, problem_set_id)
    # Through review: a return also records each step's state, to diff the resubmission against.
    review_returns.transition(
        session=db, loaded=loaded, action=action, comment=body.comment, version=body.version
    )
    return detail_out(db, loaded)


@router.post("/problem-sets/{problem_set_id}/steps", response_model=StepOut, status_code=201)
def add_step(problem_set_id: int, body: StepIn, user: CurrentUser, db: DB) -> StepOut:
    """Add a step (or a sub-step with ``parent_id``); a prompt cuts revision 1 at once."""
    loaded = _loaded(db, user, problem_set_id)
    step = steps.add(session=db, loaded=loaded, **body.model_dump())
    return StepOut.model_validate(step)


@router.put("/problem-sets/{problem_set_id}/step-order", status_code=204)
def reorder_steps(problem_set_id: int, body: ReorderIn, user: CurrentUser, db: DB) -> Response:
    """Set the order of one group of sibling steps."""
    steps.reorder(session=db, loaded=_loaded(db, user, problem_set_id), step_ids=body.step_ids)
    return Response(status_code=204)


def _step_out(db: DB, step: Step) -> StepOut:
    ordered = progress.numbered(session=db, problem_set_id=step.problem_set_id)
    number = next(n for n, s in ordered if s.id == step.id)
    out = StepOut.model_validate(step)
    out.state = state_out(number, progress.step_states(session=db, steps=[step])[step.id])
    return out


@router.get("/steps/{step_id}", response_model=StepOut)
def get_step(step_id: int, user: CurrentUser, db: DB) -> StepOut:
    """Return a step with its working draft and state."""
    _loaded_ps, step = load.step(session=db, actor=user, step_id=step_id)
    return _step_out(db, step)


@router.patch("/steps/{step_id}", response_model=StepOut)
def update_step(step_id: int, body: StepPatch, user: CurrentUser, db: DB) -> StepOut:
    """Autosave the step's title, chain mode and draft; a stale ``version`` gets 409."""
    loaded, step = load.step(session=db, actor=user, step_id=step_id)
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    steps.update_draft(session=db, loaded=loaded, step=step, version=body.version, changes=changes)
    return _step_out(db, step)


@router.delete("/steps/{step_id}", status_code=204)
def delete_step(step_id: int, user: CurrentUser, db: DB) -> Response:
    """Delete a step that was never run."""
    loaded, step = load.step(session=db, actor=user, step_id=step_id)
    steps.delete(session=db, loaded=loaded, step=step)
    return Response(status_code=204)


@router.get("/steps/{step_id}/revisions", response_model=list[RevisionOut])
def list_revisions(step_id: int, user: CurrentUser, db: DB) -> list[RevisionOut]:
    """List the step's revisions, oldest first."""
    load.step(session=db, actor=user, step_id=step_id)
    return [RevisionOut.model_validate(r) for r in steps.revisions_of(session=db, step_id=step_id)]


@router.post("/steps/{step_id}/revisions", response_model=RevisionOut, status_code=201)
def revise_step(step_id: int, body: ReviseIn, user: CurrentUser, db: DB) -> RevisionOut:
    """Cut a new immutable revision from the step's draft, with a reason and its annotations."""
    loaded, step = load.step(session=db, actor=user, step_id=step_id)
    revision = steps.revise(
        session=db, loaded=loaded, step=step, reason=body.reason, motivated_by=body.motivated_by
    )
    return RevisionOut.model_validate(revision)


@router.get("/revisions/{revision_id}", response_model=RevisionOut)
def get_revision(revision_id: int, user: CurrentUser, db: DB) -> RevisionOut:
    """Return one revision."""
    _l, _s, revision = load.revision(session=db, actor=user, revision_id=revision_id)
    return RevisionOut.model_validate(revision)


def _taxonomy_out(cats: taxonomy.Categories) -> TaxonomyOut:
    return TaxonomyOut(
        version=cats.version, categories=[CategoryIO.model_validate(c) for c in cats.categories]
    )


@router.get("/projects/{project_id}/taxonomy", response_model=TaxonomyOut)
def get_taxonomy(project_id: int, user: CurrentUser, db: DB) -> TaxonomyOut:
    """Return the project's fault categories (version 0: the defaults)."""
    load.project_access(session=db, actor=user, project_id=project_id)
    return _taxonomy_out(taxonomy.current(session=db, project_id=project_id))


@router.put("/projects/{project_id}/taxonomy", response_model=TaxonomyOut)
def set_taxonomy(project_id: int, body: TaxonomyIn, user: CurrentUser, db: DB) -> TaxonomyOut:
    """Store a new version of the categories (the project's client and operators)."""
    access = load.project_access(session=db, actor=user, project_id=project_id)
    cats = taxonomy.set_categories(
        session=db,
        access=access,
        categories=[c.model_dump() for c in body.categories],
        version=body.version,
    )
    return _taxonomy_out(cats)
