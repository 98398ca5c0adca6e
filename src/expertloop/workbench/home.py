"""The expert's home: their problem sets with progress, and where they left off.

"Where they left off" is the newest sign of work on a problem set they can still change: a
heartbeat of the workbench (kept per problem set), or a step's own trace (a draft saved, a
revision cut, a run, an annotation, a rubric score, an ideal answer). Heartbeats carry no step,
so the step is the one with the newest trace in that problem set.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, func, select, union_all
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.projects.models import Project
from expertloop.workbench import progress
from expertloop.workbench.models import (
    Annotation,
    Heartbeat,
    IdealAnswer,
    ProblemSet,
    RubricResult,
    Status,
    Step,
    StepRevision,
    StepRun,
)
from expertloop.workbench.policies import EDITABLE

# The order the home page lists the statuses in: the work in hand first.
STATUS_ORDER = (
    Status.returned,
    Status.in_progress,
    Status.draft,
    Status.submitted,
    Status.in_review,
    Status.accepted,
)


@dataclass(frozen=True)
class ProblemSetProgress:
    """One of the expert's problem sets and how far its steps are."""

    id: int
    title: str
    project_id: int
    project_name: str
    status: Status
    steps_done: int
    steps_total: int
    updated_at: dt.datetime


@dataclass(frozen=True)
class ContinueAt:
    """Where the expert last worked: a step of a problem set (or the problem set itself)."""

    problem_set_id: int
    problem_set_title: str
    project_name: str
    at: dt.datetime
    step_id: int | None = None
    step_number: str | None = None
    step_title: str = ""


@dataclass(frozen=True)
class ExpertHome:
    """What the expert's home page shows."""

    status_counts: dict[Status, int]
    problem_sets: list[ProblemSetProgress]
    steps_done: int  # over the problem sets not yet accepted
    steps_total: int
    continue_at: ContinueAt | None
    more_problem_sets: int = 0  # how many exist beyond those listed


def _step_traces(user_id: int, problem_set_id: int | None) -> Select[int, dt.datetime]:
    """Every (step id, time) that shows the user working on a step of a problem set of theirs
    they can still change (of one problem set, when given)."""
    sets = select(ProblemSet.id).where(
        ProblemSet.author_id == user_id, ProblemSet.status.in_(EDITABLE)
    )
    if problem_set_id is not None:
        sets = sets.where(ProblemSet.id == problem_set_id)
    # Each branch reads only those steps, so the query stays small however large the tables.
    mine = select(Step.id).where(Step.problem_set_id.in_(sets))
    traces = union_all(
        select(Step.id.label("step_id"), Step.updated_at.label("at")).where(
            Step.problem_set_id.in_(sets)
        ),
        select(StepRevision.step_id, StepRevision.created_at).where(
            StepRevision.step_id.in_(mine), StepRevision.author_id == user_id
        ),
        select(StepRevision.step_id, StepRun.created_at)
        .join(StepRevision, StepRevision.id == StepRun.revision_id)
        .where(StepRevision.step_id.in_(mine)),
        select(StepRevision.step_id, Annotation.created_at)
        .join(StepRevision, StepRevision.id == Annotation.revision_id)
        .where(StepRevision.step_id.in_(mine), Annotation.author_id == user_id),
        select(StepRevision.step_id, RubricResult.at)
        .join(StepRun, StepRun.id == RubricResult.step_run_id)
        .join(StepRevision, StepRevision.id == StepRun.revision_id)
        .where(StepRevision.step_id.in_(mine), RubricResult.by_id == user_id),
        select(IdealAnswer.step_id, IdealAnswer.updated_at).where(
            IdealAnswer.step_id.in_(mine), IdealAnswer.author_id == user_id
        ),
    ).subquery()
    return select(traces.c.step_id, traces.c.at)


def _newest_step(
    session: Session, user_id: int, problem_set_id: int | None = None
) -> tuple[Step, dt.datetime] | None:
    """Return the step of the user's editable problem sets with the newest trace, and its time."""
    traces = _step_traces(user_id, problem_set_id).subquery()
    query = (
        select(Step, traces.c.at)
        .join(traces, traces.c.step_id == Step.id)
        .order_by(traces.c.at.desc(), Step.id.desc())
        .limit(1)
    )
    row = session.execute(query).first()
    if row is None:
        return None
    step, at = row
    return step, at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def continue_at(*, session: Session, actor: User) -> ContinueAt | None:
    """Return where the actor last worked on a problem set they can still change (None: nowhere)."""
    beat = session.execute(
        select(Heartbeat.problem_set_id, Heartbeat.at)
        .join(ProblemSet, ProblemSet.id == Heartbeat.problem_set_id)
        .where(
            Heartbeat.user_id == actor.id,
            ProblemSet.author_id == actor.id,
            ProblemSet.status.in_(EDITABLE),
        )
        .order_by(Heartbeat.at.desc(), Heartbeat.id.desc())
        .limit(1)
    ).first()
    newest = _newest_step(session, actor.id)
    step: Step | None = None
    if beat is not None and (newest is None or beat.at > newest[1]):
        problem_set_id, at = beat.problem_set_id, beat.at
        if newest is not None and newest[0].problem_set_id == problem_set_id:
            step = newest[0]
        else:
            in_set = _newest_step(session, actor.id, problem_set_id)
            step = in_set[0] if in_set else None
    elif newest is not None:
        step, at = newest
        problem_set_id = step.problem_set_id
    else:
        return None
    ps, project_name = session.execute(
        select(ProblemSet, Project.name)
        .join(Project, Project.id == ProblemSet.project_id)
        .where(ProblemSet.id == problem_set_id)
    ).one()
    if step is None:
        return ContinueAt(ps.id, ps.title, project_name, at)
    number = next(
        (n for n, s in progress.numbered(session=session, problem_set_id=ps.id) if s.id == step.id),
        None,
    )
    title = step.title or step.draft_prompt[:80]
    return ContinueAt(ps.id, ps.title, project_name, at, step.id, number, title)


def expert_home(*, session: Session, actor: User, limit: int = 20) -> ExpertHome:
    """Gather the actor's problem sets by status with step progress, and where they left off."""
    counts = dict(
        session.execute(
            select(ProblemSet.status, func.count())
            .where(ProblemSet.author_id == actor.id)
            .group_by(ProblemSet.status)
        ).all()
    )
    rows = session.execute(
        select(ProblemSet, Project.name)
        .join(Project, Project.id == ProblemSet.project_id)
        .where(ProblemSet.author_id == actor.id)
        .order_by(ProblemSet.updated_at.desc(), ProblemSet.id.desc())
        .limit(limit)
    ).all()
    ps_ids = [ps.id for ps, _name in rows]
    all_steps = (
        list(session.scalars(select(Step).where(Step.problem_set_id.in_(ps_ids)))) if ps_ids else []
    )
    states = progress.step_states(session=session, steps=all_steps)
    done: dict[int, int] = {}
    total: dict[int, int] = {}
    for s in all_steps:
        total[s.problem_set_id] = total.get(s.problem_set_id, 0) + 1
        done[s.problem_set_id] = done.get(s.problem_set_id, 0) + int(states[s.id].done)
    listed = [
        ProblemSetProgress(
            ps.id,
            ps.title,
            ps.project_id,
            name,
            ps.status,
            done.get(ps.id, 0),
            total.get(ps.id, 0),
            ps.updated_at,
        )
        for ps, name in rows
    ]
    open_sets = [p for p in listed if p.status != Status.accepted]
    return ExpertHome(
        status_counts={s: counts[s] for s in STATUS_ORDER if counts.get(s)},
        problem_sets=listed,
        steps_done=sum(p.steps_done for p in open_sets),
        steps_total=sum(p.steps_total for p in open_sets),
        continue_at=continue_at(session=session, actor=actor),
        more_problem_sets=max(0, sum(counts.values()) - len(listed)),
    )
