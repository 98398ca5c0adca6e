"""Reviewers' comments on a step or on a span of its text, and the read models that show them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.errors import PermissionDenied, ValidationFailed
from expertloop.events import emit
from expertloop.llm.models import ModelEndpoint, ModelRun
from expertloop.review import events, policies
from expertloop.review.models import ReviewComment, ReviewSettings
from expertloop.text import clean as clean_text
from expertloop.types import utcnow
from expertloop.workbench.access import Loaded
from expertloop.workbench.models import ProblemSet, Step, StepRevision, StepRun
from expertloop.workbench.policies import Access

MAX_BODY = 10_000
MAX_QUOTE = 5_000
# Characters of context shown either side of a quoted span.
CONTEXT = 60


def _pairs(rows: Iterable[Any]) -> dict[Any, Any]:
    """Map the first column of two-column rows to the second."""
    return {k: v for k, v in rows}


def clients_see(*, session: Session, project_id: int) -> bool:
    """Tell whether the project lets its client organisation read review comments."""
    row = session.get(ReviewSettings, project_id)
    return bool(row and row.clients_see_comments)


def can_see(*, session: Session, loaded: Loaded) -> bool:
    """Tell whether the actor sees the comments of the loaded problem set."""
    access = loaded.access
    return policies.can_see_comments(
        access,
        loaded.problem_set,
        clients_see=access.is_owner_client
        and clients_see(session=session, project_id=access.project.id),
    )


def _target_text(
    session: Session, step: Step, revision_id: int | None, step_run_id: int | None
) -> tuple[str, int | None, int | None, str]:
    """Return (text, revision id, step run id, target kind) of what a comment is on."""
    if step_run_id is not None:
        row = session.execute(
            select(StepRun, StepRevision, ModelRun)
            .join(StepRevision, StepRevision.id == StepRun.revision_id)
            .join(ModelRun, ModelRun.id == StepRun.model_run_id)
            .where(StepRun.id == step_run_id)
        ).first()
        if row is None or row[1].step_id != step.id:
            raise ValidationFailed("That run is not a run of this step.")
        return row[2].answer, row[1].id, step_run_id, "response"
    if revision_id is not None:
        rev = session.get(StepRevision, revision_id)
        if rev is None or rev.step_id != step.id:
            raise ValidationFailed("That revision is not a revision of this step.")
        return rev.prompt, rev.id, None, "prompt"
    return "", None, None, "step"


def add(
    *,
    session: Session,
    loaded: Loaded,
    step: Step,
    body: str,
    revision_id: int | None = None,
    step_run_id: int | None = None,
    start: int | None = None,
    end: int | None = None,
    quote: str | None = None,
) -> ReviewComment:
    """Comment on the step, or on a span of a revision's prompt or a run's answer.

    A span is given by code-point offsets (end exclusive), checked against ``quote`` when both
    are given; or by ``quote`` alone, found in the text (its first occurrence), which is how a
    keyboard user names a span without selecting it.
    """
    ps = loaded.problem_set
    access = loaded.access
    if step.problem_set_id != ps.id:
        raise ValidationFailed("That step is not part of this problem set.")
    if not policies.can_comment(access, ps):
        if ps.author_id == access.actor.id:
            raise PermissionDenied("Nobody reviews their own problem set; another reviewer must.")
        if not access.is_reviewer:
            raise PermissionDenied("Only the project's reviewers and operators comment on review.")
        raise PermissionDenied("An accepted problem set takes no more comments.")
    # The one rule for text at the edge again: forms and scripts reach this directly too.
    body = clean_text(body, field="Comment", max_length=MAX_BODY).strip()
    if not body:
        raise ValidationFailed("Write the comment first.")
    if quote is not None:
        quote = clean_text(quote, field="Quoted text", max_length=MAX_QUOTE)
        if not quote.strip():
            quote = None
    text, rev_id, run_id, target = _target_text(session, step, revision_id, step_run_id)
    if (start is None) != (end is None):
        raise ValidationFailed("Give both start and end, or neither.")
    if target == "step":
        if start is not None or quote:
            raise ValidationFailed(
                "Choose the prompt or the answer the quoted text is in, or leave the quote empty."
            )
        span = ""
    elif start is not None and end is not None:
        if not 0 <= start < end <= len(text):
            raise ValidationFailed(
                f"The span {start}-{end} is outside the text (0-{len(text)}), or empty."
            )
        span = text[start:end]
        if quote is not None and quote != span:
            raise ValidationFailed(
                "The selected text does not match the offsets; reload the page and select again."
            )
    elif quote:
        found = text.find(quote)
        if found < 0:
            where = "answer" if target == "response" else "prompt"
            raise ValidationFailed(
                f"The quoted text is not in that {where}; copy it exactly, or select it."
            )
        start, end, span = found, found + len(quote), quote
    else:
        span = ""  # a comment on the whole prompt or answer
    row = ReviewComment(
        project_id=access.project.id,
        problem_set_id=ps.id,
        step_id=step.id,
        revision_id=rev_id,
        step_run_id=run_id,
        target=target,
        start=start,
        end=end,
        quote=span,
        body=body,
        author_id=access.actor.id,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    emit(
        events.CommentAdded(
            actor_user_id=access.actor.id,
            organisation_id=access.project.organisation_id,
            subject_type="review_comment",
            subject_id=str(row.id),
            problem_set_id=ps.id,
            step_id=step.id,
            target=target,
            revision_id=rev_id,
            step_run_id=run_id,
            start=start,
            end=end,
        ),
        session=session,
    )
    return row


@dataclass(frozen=True)
class CommentView:
    """A comment as shown: who, where, the quoted span with a little context either side."""

    id: int
    step_id: int
    target: str
    target_label: str
    revision_id: int | None
    step_run_id: int | None
    start: int | None
    end: int | None
    quote: str
    before: str
    after: str
    body: str
    author_id: int
    author_name: str
    created_at: dt.datetime


@dataclass(frozen=True)
class TargetChoice:
    """Something on a step a comment can be on (the form's choices)."""

    value: str  # "step", "prompt:<revision id>" or "run:<step run id>"
    label: str


@dataclass(frozen=True)
class StepPanel:
    """The step page's review comments: visible at all, may the actor add some, and the list."""

    step_id: int
    visible: bool
    can_comment: bool
    comments: tuple[CommentView, ...]
    targets: tuple[TargetChoice, ...]


def _views(session: Session, rows: list[ReviewComment]) -> list[CommentView]:
    """Build the views of comments with one query per kind (texts, run names, authors)."""
    rev_ids = {r.revision_id for r in rows if r.revision_id is not None}
    run_ids = {r.step_run_id for r in rows if r.step_run_id is not None}
    prompts: dict[int, tuple[int, str]] = {}
    if rev_ids:
        for rid, number, prompt in session.execute(
            select(StepRevision.id, StepRevision.number, StepRevision.prompt).where(
                StepRevision.id.in_(rev_ids)
            )
        ):
            prompts[rid] = (number, prompt)
    answers: dict[int, tuple[str, str]] = {}
    if run_ids:
        for srid, answer, name in session.execute(
            select(StepRun.id, ModelRun.answer, ModelEndpoint.name)
            .join(ModelRun, ModelRun.id == StepRun.model_run_id)
            .join(ModelEndpoint, ModelEndpoint.id == StepRun.endpoint_id)
            .where(StepRun.id.in_(run_ids))
        ):
            answers[srid] = (answer, name)
    author_ids = {r.author_id for r in rows}
    names = (
        _pairs(session.execute(select(User.id, User.name).where(User.id.in_(author_ids))))
        if author_ids
        else {}
    )
    out = []
    for r in rows:
        text = ""
        if r.target == "response" and r.step_run_id in answers:
            text, model = answers[r.step_run_id]
            revision = prompts.get(r.revision_id or 0)
            label = f"Answer of {model}, run #{r.step_run_id}" + (
                f" (revision {revision[0]})" if revision else ""
            )
        elif r.target == "prompt" and r.revision_id in prompts:
            number, text = prompts[r.revision_id]
            label = f"Prompt, revision {number}"
        else:
            label = "The step"
        before = after = ""
        if r.start is not None and r.end is not None and text[r.start : r.end] == r.quote:
            before = text[max(0, r.start - CONTEXT) : r.start]
            after = text[r.end : r.end + CONTEXT]
        out.append(
            CommentView(
                id=r.id,
                step_id=r.step_id,
                target=r.target,
                target_label=label,
                revision_id=r.revision_id,
                step_run_id=r.step_run_id,
                start=r.start,
                end=r.end,
                quote=r.quote,
                before=before,
                after=after,
                body=r.body,
                author_id=r.author_id,
                author_name=names.get(r.author_id, "A reviewer"),
                created_at=r.created_at,
            )
        )
    return out


def for_step(*, session: Session, step_id: int) -> list[CommentView]:
    """Return the step's comments, oldest first (access checked by the caller)."""
    rows = list(
        session.scalars(
            select(ReviewComment).where(ReviewComment.step_id == step_id).order_by(ReviewComment.id)
        )
    )
    return _views(session, rows)


def _targets(session: Session, step: Step) -> tuple[TargetChoice, ...]:
    """Return what a comment on the step can be on: the step, each prompt, each run's answer."""
    choices = [TargetChoice("step", "The step as a whole")]
    revisions = list(
        session.scalars(
            select(StepRevision)
            .where(StepRevision.step_id == step.id)
            .order_by(StepRevision.number.desc())
        )
    )
    runs: dict[int, list[tuple[int, str]]] = {}
    if revisions:
        for srid, rid, name in session.execute(
            select(StepRun.id, StepRun.revision_id, ModelEndpoint.name)
            .join(ModelEndpoint, ModelEndpoint.id == StepRun.endpoint_id)
            .where(StepRun.revision_id.in_([r.id for r in revisions]))
            .order_by(StepRun.id)
        ):
            runs.setdefault(rid, []).append((srid, name))
    for rev in revisions:
        choices.append(TargetChoice(f"prompt:{rev.id}", f"Prompt, revision {rev.number}"))
        for srid, name in runs.get(rev.id, []):
            choices.append(
                TargetChoice(
                    f"run:{srid}", f"Answer of {name}, run #{srid} (revision {rev.number})"
                )
            )
    return tuple(choices)


def step_panel(*, session: Session, loaded: Loaded, step: Step) -> StepPanel:
    """Return the step page's review panel for the actor."""
    visible = can_see(session=session, loaded=loaded)
    may = policies.can_comment(loaded.access, loaded.problem_set)
    return StepPanel(
        step_id=step.id,
        visible=visible,
        can_comment=may,
        comments=tuple(for_step(session=session, step_id=step.id)) if visible else (),
        targets=_targets(session, step) if may else (),
    )


def parse_target(value: str) -> tuple[int | None, int | None]:
    """Turn a form's target choice into (revision id, step run id)."""
    kind, _sep, ident = value.partition(":")
    if kind == "step" and not ident:
        return None, None
    if kind in ("prompt", "run") and ident.isdigit():
        return (int(ident), None) if kind == "prompt" else (None, int(ident))
    raise ValidationFailed("Choose what the comment is on: the step, a prompt or an answer.")


@dataclass(frozen=True)
class HomeComment:
    """A comment on one of the caller's problem sets, for their home page."""

    id: int
    problem_set_id: int
    problem_set_title: str
    step_id: int
    step_title: str
    target_label: str
    quote: str
    body: str
    author_name: str
    created_at: dt.datetime


def for_author(*, session: Session, actor: User, limit: int = 20) -> list[HomeComment]:
    """Return the newest review comments on the actor's own problem sets."""
    rows = list(
        session.scalars(
            select(ReviewComment)
            .join(ProblemSet, ProblemSet.id == ReviewComment.problem_set_id)
            .where(ProblemSet.author_id == actor.id)
            .order_by(ReviewComment.created_at.desc(), ReviewComment.id.desc())
            .limit(limit)
        )
    )
    if not rows:
        return []
    views = {v.id: v for v in _views(session, rows)}
    titles = _pairs(
        session.execute(
            select(ProblemSet.id, ProblemSet.title).where(
                ProblemSet.id.in_({r.problem_set_id for r in rows})
            )
        )
    )
    step_titles = _pairs(
        session.execute(select(Step.id, Step.title).where(Step.id.in_({r.step_id for r in rows})))
    )
    return [
        HomeComment(
            id=r.id,
            problem_set_id=r.problem_set_id,
            problem_set_title=titles.get(r.problem_set_id, ""),
            step_id=r.step_id,
            step_title=step_titles.get(r.step_id, ""),
            target_label=views[r.id].target_label,
            quote=r.quote,
            body=r.body,
            author_name=views[r.id].author_name,
            created_at=r.created_at,
        )
        for r in rows
    ]


def set_clients_see(
    *, session: Session, access: Access, clients_see_comments: bool
) -> ReviewSettings:
    """Let (or stop) the project's client organisation read its review comments."""
    if not policies.can_change_settings(access):
        raise PermissionDenied("Only the project's client and operators change this.")
    row = session.get(ReviewSettings, access.project.id)
    if row is None:
        row = ReviewSettings(project_id=access.project.id)
        session.add(row)
    row.clients_see_comments = clients_see_comments
    row.updated_by_id = access.actor.id
    row.updated_at = utcnow()
    session.flush()
    emit(
        events.SettingsChanged(
            actor_user_id=access.actor.id,
            organisation_id=access.project.organisation_id,
            subject_type="project",
            subject_id=str(access.project.id),
            clients_see_comments=clients_see_comments,
        ),
        session=session,
    )
    return row
