"""Run a step's revision on the project's target models, alone or chained after earlier steps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.errors import PermissionDenied, ValidationFailed
from expertloop.events import emit
from expertloop.llm import runs as llm_runs
from expertloop.llm.models import ModelEndpoint, ModelRun
from expertloop.projects import targets
from expertloop.workbench import events
from expertloop.workbench.access import Loaded, ideal_answer
from expertloop.workbench.models import Step, StepRevision, StepRun
from expertloop.workbench.progress import has_ideal, latest_revisions, outline, passing_runs
from expertloop.workbench.steps import touch


@dataclass(frozen=True)
class RunView:
    """A step run with its model run."""

    step_run: StepRun
    run: ModelRun


def _user_content(ps_context: str, prompt: str, first: bool) -> str:
    if first and ps_context.strip():
        return f"Context:\n{ps_context.strip()}\n\n{prompt}"
    return prompt


def chain_answer(ideal_text: str | None, passing_answer: str | None) -> str | None:
    """Return what an earlier step contributes to a chain: its ideal answer, else its passing one.

    A blank ideal answer is no answer.
    """
    if ideal_text is not None and has_ideal(ideal_text):
        return ideal_text
    return passing_answer


def chain_messages(
    *, context: str, earlier: Sequence[tuple[str, str | None, str | None]], prompt: str
) -> list[dict[str, str]]:
    """Build the conversation from earlier steps' (number, prompt, answer) and this prompt.

    The problem set's context opens the first user message. An earlier step without a prompt or
    without an answer stops with a clear error.
    """
    messages: list[dict[str, str]] = []
    for number, earlier_prompt, answer in earlier:
        if earlier_prompt is None:
            raise ValidationFailed(f"Step {number} has no prompt yet, so it cannot be chained.")
        if answer is None:
            raise ValidationFailed(
                f"Step {number} has no passing answer or ideal answer yet; "
                "finish it first or turn chain mode off."
            )
        messages += [
            {"role": "user", "content": _user_content(context, earlier_prompt, not messages)},
            {"role": "assistant", "content": answer},
        ]
    messages.append({"role": "user", "content": _user_content(context, prompt, not messages)})
    return messages


def messages_for(
    *, session: Session, loaded: Loaded, step: Step, revision: StepRevision
) -> list[dict[str, str]]:
    """Build the conversation: with chain mode, the earlier steps and their passing answers first.

    An earlier step's answer is its ideal answer when written, else its passing model answer;
    an earlier step with neither stops the run with a clear error.
    """
    ps = loaded.problem_set
    earlier: list[tuple[str, str | None, str | None]] = []
    if step.chain:
        rows = list(session.scalars(select(Step).where(Step.problem_set_id == ps.id)))
        before: list[tuple[str, Step]] = []
        for number, s in outline(rows):
            if s.id == step.id:
                break
            before.append((number, s))
        latest = latest_revisions(session=session, step_ids=[s.id for _n, s in before])
        passing = passing_runs(session=session, revisions=list(latest.values()))
        for number, s in before:
            rev = latest.get(s.id)
            answer = _answer_of(session, s, passing.get(rev.id)) if rev is not None else None
            earlier.append((number, rev.prompt if rev is not None else None, answer))
            if answer is None:
                break  # chain_messages stops here with the reason
    return chain_messages(context=ps.context, earlier=earlier, prompt=revision.prompt)


def _answer_of(session: Session, step: Step, passing_step_run_id: int | None) -> str | None:
    ideal = ideal_answer(session=session, step_id=step.id)
    ideal_text = ideal.text if ideal is not None else None
    passing_answer = None
    if chain_answer(ideal_text, None) is None and passing_step_run_id is not None:
        step_run = session.get(StepRun, passing_step_run_id)
        assert step_run is not None
        run = session.get(ModelRun, step_run.model_run_id)
        passing_answer = run.answer if run is not None else None
    return chain_answer(ideal_text, passing_answer)


def start(
    *,
    session: Session,
    loaded: Loaded,
    step: Step,
    revision: StepRevision,
    endpoint_id: int,
) -> tuple[StepRun, ModelRun, ModelEndpoint]:
    """Record a run of the revision on a target model (status "running") before calling it."""
    loaded.require_edit()
    access = loaded.access
    latest = latest_revisions(session=session, step_ids=[step.id]).get(step.id)
    if latest is None or latest.id != revision.id:
        raise ValidationFailed("Only the newest revision of a step is run.")
    try:
        _project, endpoint = targets.authorize_run(
            session=session,
            actor=access.actor,
            project_id=access.project.id,
            endpoint_id=endpoint_id,
        )
    except PermissionDenied:
        raise PermissionDenied("Only the author runs a problem set's steps.") from None
    messages = messages_for(session=session, loaded=loaded, step=step, revision=revision)
    run = llm_runs.start_run(
        session=session,
        endpoint=endpoint,
        messages=messages,
        params={},
        project_id=access.project.id,
        user_id=access.actor.id,
    )
    step_run = StepRun(
        revision_id=revision.id, model_run_id=run.id, endpoint_id=endpoint.id, chained=step.chain
    )
    session.add(step_run)
    session.flush()
    emit(
        events.StepRunStarted(
            actor_user_id=access.actor.id,
            organisation_id=access.project.organisation_id,
            subject_type="step",
            subject_id=str(step.id),
            revision_id=revision.id,
            model_run_id=run.id,
            endpoint_id=endpoint.id,
        ),
        session=session,
    )
    touch(session, loaded)
    return step_run, run, endpoint


def runs_of(*, session: Session, revision_ids: list[int]) -> list[RunView]:
    """Return the runs of these revisions, oldest first."""
    if not revision_ids:
        return []
    rows = session.execute(
        select(StepRun, ModelRun)
        .join(ModelRun, ModelRun.id == StepRun.model_run_id)
        .where(StepRun.revision_id.in_(revision_ids))
        .order_by(StepRun.id)
    ).all()
    return [RunView(sr, run) for sr, run in rows]
