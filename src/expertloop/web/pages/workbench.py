"""Workbench pages: problem sets of a project, the problem-set editor and the step page."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from expertloop.datasets import seeds as seeds_uc
from expertloop.errors import ExpertLoopError
from expertloop.llm.models import ModelEndpoint
from expertloop.projects import targets
from expertloop.review import comments as review_comments
from expertloop.review import returns as review_returns
from expertloop.text import clean as clean_text
from expertloop.web.deps import DB, AppSettings, CurrentUser
from expertloop.web.errors import status_for
from expertloop.web.templating import render
from expertloop.workbench import access as load
from expertloop.workbench import (
    activity,
    assess,
    problem_sets,
    progress,
    status,
    step_history,
    taxonomy,
)
from expertloop.workbench import runs as step_runs
from expertloop.workbench import steps as steps_uc
from expertloop.workbench.models import Annotation, Persona, ProblemSet, Side, Status
from expertloop.workbench.policies import can_create, can_edit_taxonomy
from expertloop.workbench.schemas import AnnotationIn

router = APIRouter()
PAGE_SIZE = 20
# The annotation box limits its note to what the API accepts (AnnotationIn.note).
NOTE_MAX = next(
    (m.max_length for m in AnnotationIn.model_fields["note"].metadata if hasattr(m, "max_length")),
    10_000,
)

STATUS_LABELS = {
    Status.draft: "Draft",
    Status.in_progress: "In progress",
    Status.submitted: "Submitted",
    Status.in_review: "In review",
    Status.returned: "Returned",
    Status.accepted: "Accepted",
}
ACTION_LABELS = {
    status.Action.start: "Start",
    status.Action.submit: "Submit for review",
    status.Action.start_review: "Start review",
    status.Action.accept: "Accept",
    status.Action.return_: "Return to author",
}


def _tracked_seconds(db: DB, settings: AppSettings, user_id: int, ps: ProblemSet) -> float:
    tracked = activity.tracked(
        session=db,
        user_id=user_id,
        since=ps.created_at,  # no heartbeat before the problem set began can count for it
        idle_cutoff=dt.timedelta(seconds=settings.activity_idle_cutoff_seconds),
    )
    return tracked.total(ps.project_id, ps.id)


@router.get("/projects/{project_id}/problem-sets")
def problem_set_list(
    request: Request,
    project_id: int,
    user: CurrentUser,
    db: DB,
    page: Annotated[int, Query(ge=1)] = 1,
    status_filter: Annotated[Status | None, Query(alias="status")] = None,
) -> Response:
    """List the project's problem sets the caller may see."""
    access = load.project_access(session=db, actor=user, project_id=project_id)
    rows, total = problem_sets.list_for(
        session=db,
        access=access,
        status=status_filter,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    seeds, seeds_total = seeds_uc.to_pick_up(session=db, actor=user, project=access.project)
    return render(
        request,
        "workbench/list.html",
        {
            "project": access.project,
            "seeds": seeds,
            "seeds_total": seeds_total,
            "problem_sets": rows,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "pager_extra": f"&status={status_filter.value}" if status_filter else "",
            "status_filter": status_filter,
            "statuses": STATUS_LABELS,
            "can_create": can_create(access),
            "personas": list(Persona),
            "form": {},
            "error": "",
        },
    )


@router.post("/projects/{project_id}/problem-sets")
def problem_set_create(
    request: Request,
    project_id: int,
    user: CurrentUser,
    db: DB,
    title: Annotated[str, Form()] = "",
    statement: Annotated[str, Form()] = "",
    persona: Annotated[str, Form(max_length=20)] = "user",
) -> Response:
    """Create a problem set from the list page's form and open its editor."""
    access = load.project_access(session=db, actor=user, project_id=project_id)
    try:
        title = clean_text(title, field="Title", max_length=300, one_line=True)
        statement = clean_text(statement, field="Statement", max_length=100_000)
        ps = problem_sets.create(
            session=db, access=access, title=title, statement=statement, persona=persona
        )
    except ExpertLoopError as exc:
        rows, total = problem_sets.list_for(session=db, access=access, limit=PAGE_SIZE)
        return render(
            request,
            "workbench/list.html",
            {
                "project": access.project,
                "problem_sets": rows,
                "total": total,
                "page": 1,
                "pages": max(1, -(-total // PAGE_SIZE)),
                "statuses": STATUS_LABELS,
                "status_filter": None,
                "can_create": can_create(access),
                "personas": list(Persona),
                "form": {"title": title, "statement": statement, "persona": persona},
                "error": exc.message,
            },
            422,
        )
    return RedirectResponse(f"/problem-sets/{ps.id}", status_code=303)


@router.get("/problem-sets/{problem_set_id}")
def problem_set_page(
    request: Request, problem_set_id: int, user: CurrentUser, db: DB, settings: AppSettings
) -> Response:
    """The problem-set editor: problem, context, steps and their state, status actions."""
    loaded = load.problem_set(session=db, actor=user, problem_set_id=problem_set_id)
    return _ps_page(request, db, settings, loaded)


def _ps_page(
    request: Request,
    db: DB,
    settings: AppSettings,
    loaded: load.Loaded,
    *,
    step_form: dict[str, Any] | None = None,
    action_form: dict[str, str] | None = None,
    error: str = "",
    status_code: int = 200,
) -> Response:
    """Render the editor; after a refused form, with the message and the typed text kept."""
    ps = loaded.problem_set
    numbered = progress.numbered(session=db, problem_set_id=ps.id)
    states = progress.step_states(session=db, steps=[s for _n, s in numbered])
    done = sum(1 for s in states.values() if s.done)
    return render(
        request,
        "workbench/problem_set.html",
        {
            "ps": ps,
            "project": loaded.access.project,
            "can_edit": loaded.can_edit,
            "numbered": numbered,
            "states": states,
            "done": done,
            "actions": [(a.value, ACTION_LABELS[a]) for a in status.allowed_actions(loaded)],
            "status_label": STATUS_LABELS[ps.status],
            "personas": list(Persona),
            "tracked": _tracked_seconds(db, settings, loaded.access.actor.id, ps),
            "top_steps": [s for _n, s in numbered if s.parent_id is None],
            "step_form": step_form or {},
            "action_form": action_form or {},
            "since_return": review_returns.since_return(session=db, loaded=loaded),
            "error": error,
        },
        status_code,
    )


@router.post("/problem-sets/{problem_set_id}/steps")
def step_create(
    request: Request,
    problem_set_id: int,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    title: Annotated[str, Form()] = "",
    prompt: Annotated[str, Form()] = "",
    rubric: Annotated[str, Form()] = "",
    reference: Annotated[str, Form()] = "",
    parent_id: Annotated[str, Form(max_length=20)] = "",
    chain: Annotated[bool, Form()] = False,
) -> Response:
    """Add a step from the editor's form and open it (a refusal keeps what was typed)."""
    loaded = load.problem_set(session=db, actor=user, problem_set_id=problem_set_id)
    try:
        title = clean_text(title, field="Title", max_length=300, one_line=True)
        prompt = clean_text(prompt, field="Prompt", max_length=100_000)
        rubric = clean_text(rubric, field="Rubric", max_length=100_000)
        reference = clean_text(reference, field="Reference", max_length=100_000)
        with db.begin_nested():
            step = steps_uc.add(
                session=db,
                loaded=loaded,
                title=title,
                prompt=prompt,
                rubric=rubric.splitlines(),
                reference=reference,
                parent_id=int(parent_id) if parent_id.strip().isdigit() else None,
                chain=chain,
            )
    except ExpertLoopError as exc:
        form = {
            "title": title,
            "prompt": prompt,
            "rubric": rubric,
            "reference": reference,
            "parent_id": parent_id,
            "chain": chain,
        }
        return _ps_page(
            request, db, settings, loaded, step_form=form, error=exc.message, status_code=422
        )
    return RedirectResponse(f"/steps/{step.id}", status_code=303)


@router.post("/problem-sets/{problem_set_id}/actions/{action}")
def problem_set_action(
    request: Request,
    problem_set_id: int,
    action: status.Action,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    comment: Annotated[str, Form()] = "",
) -> Response:
    """Apply a status action from the editor's buttons (a refusal keeps the comment)."""
    loaded = load.problem_set(session=db, actor=user, problem_set_id=problem_set_id)
    try:
        comment = clean_text(comment, field="Comment", max_length=20_000)
        with db.begin_nested():
            review_returns.transition(session=db, loaded=loaded, action=action, comment=comment)
    except ExpertLoopError as exc:
        code = status_for(exc)
        return _ps_page(
            request,
            db,
            settings,
            loaded,
            action_form={"action": action.value, "comment": comment},
            error=exc.message,
            status_code=code,
        )
    return RedirectResponse(f"/problem-sets/{problem_set_id}", status_code=303)


def _highlight(text: str, marks: list[Annotation]) -> list[tuple[str, list[Annotation]]]:
    """Split text at every annotation boundary: [(segment, annotations covering it)]."""
    cuts = {0, len(text)}
    spans = [a for a in marks if a.start is not None and a.end is not None]
    for a in spans:
        cuts.update((a.start or 0, a.end or 0))
    points = sorted(c for c in cuts if 0 <= c <= len(text))
    segments = []
    for left, right in pairwise(points):
        covering = [a for a in spans if (a.start or 0) <= left and right <= (a.end or 0)]
        segments.append((text[left:right], covering))
    return segments


@router.get("/steps/{step_id}")
def step_page(
    request: Request, step_id: int, user: CurrentUser, db: DB, settings: AppSettings
) -> Response:
    """The step page: prompt, answers side by side, annotations, rubric, revise, ideal, timeline."""
    loaded, step = load.step(session=db, actor=user, step_id=step_id)
    ps = loaded.problem_set
    project = loaded.access.project
    numbered = progress.numbered(session=db, problem_set_id=ps.id)
    number = next(n for n, s in numbered if s.id == step.id)
    index = [s.id for _n, s in numbered].index(step.id)
    prev_step = numbered[index - 1] if index > 0 else None
    next_step = numbered[index + 1] if index + 1 < len(numbered) else None
    state = progress.step_states(session=db, steps=[step])[step.id]
    revisions = steps_uc.revisions_of(session=db, step_id=step.id)
    latest = revisions[-1] if revisions else None
    views = step_runs.runs_of(session=db, revision_ids=[r.id for r in revisions])
    results = assess.results_for(session=db, step_run_ids=[v.step_run.id for v in views])
    notes = assess.for_revisions(session=db, revision_ids=[r.id for r in revisions])
    by_run: dict[int, list[Annotation]] = {}
    prompt_notes: dict[int, list[Annotation]] = {}
    for a in notes:
        if a.step_run_id is not None:
            by_run.setdefault(a.step_run_id, []).append(a)
        else:
            prompt_notes.setdefault(a.revision_id, []).append(a)
    endpoint_ids = {v.step_run.endpoint_id for v in views}
    names = {
        e.id: e.name
        for e in db.scalars(select(ModelEndpoint).where(ModelEndpoint.id.in_(endpoint_ids)))
    }
    runs_by_revision: dict[int, list[Any]] = {}
    for v in views:
        runs_by_revision.setdefault(v.step_run.revision_id, []).append(v)
    ideal = load.ideal_answer(session=db, step_id=step.id)
    cats = taxonomy.current(session=db, project_id=project.id)
    latest_runs = runs_by_revision.get(latest.id, []) if latest else []
    context = {
        "ps": ps,
        "project": project,
        "step": step,
        "number": number,
        "prev_step": prev_step,
        "next_step": next_step,
        "state": state,
        "revisions": revisions,
        "latest": latest,
        "latest_runs": latest_runs,
        "results": results,
        "by_run": by_run,
        "highlight": _highlight,
        "prompt_notes": prompt_notes,
        "latest_annotations": [a for a in notes if latest and a.revision_id == latest.id],
        "names": names,
        "history": step_history.history(session=db, step=step, project_id=project.id),
        "review": review_comments.step_panel(session=db, loaded=loaded, step=step),
        "ideal": ideal,
        "response_categories": cats.for_side(Side.response),
        "prompt_categories": cats.for_side(Side.prompt),
        "category_labels": {c["key"]: c["label"] for c in cats.categories},
        "targets": targets.list_targets(session=db, actor=user, project=project),
        "can_edit": loaded.can_edit,
        "can_delete": loaded.can_edit
        and not views
        and not any(s.parent_id == step.id for _n, s in numbered),
        "status_label": STATUS_LABELS[ps.status],
        "tracked": _tracked_seconds(db, settings, user.id, ps),
        # Submitting from the step page: the done rule, each unfinished step and what it lacks.
        "rule": progress.RULE,
        "unfinished": progress.unfinished_steps(session=db, problem_set=ps),
        "can_submit": status.Action.submit in status.allowed_actions(loaded),
        "note_max": NOTE_MAX,
    }
    return render(request, "workbench/step.html", context)


@router.get("/projects/{project_id}/taxonomy")
def taxonomy_page(request: Request, project_id: int, user: CurrentUser, db: DB) -> Response:
    """The project's fault categories, editable by its client and operators."""
    access = load.project_access(session=db, actor=user, project_id=project_id)
    cats = taxonomy.current(session=db, project_id=project_id)
    return render(
        request,
        "workbench/taxonomy.html",
        {"project": access.project, "cats": cats, "can_edit": can_edit_taxonomy(access)},
    )
