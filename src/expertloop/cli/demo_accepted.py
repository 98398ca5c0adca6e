"""The demo's accepted problem set: Kenji's Q1 2025 cash-flow forecast of the Northwind stores.

Three steps (receipts by store, payments by line, the month-end cash roll-forward in chain mode)
worked through the workbench's own use cases and then accepted by Rosa, so that a newcomer
logged in as the client can build and download a dataset at once. Step 1 has two revisions: the
first prompt's "cash in from sales" was ambiguous (a prompt-side annotation) and the model took
it for sales made; step 3's answer slips in February's sum, and Kenji's ideal answer corrects the
model's answer (so it carries a diff). The runs are stored sample answers (the model is not
called); the texts and figures are in ``demo_cash``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.cli.demo_cash import STATEMENT, TITLE, cash_problem, context_text
from expertloop.cli.demo_work import demo_project, span, stored_run
from expertloop.errors import NotFound
from expertloop.llm.models import ModelEndpoint
from expertloop.projects import targets
from expertloop.workbench import access, assess, problem_sets, status, steps, taxonomy
from expertloop.workbench.access import Loaded, project_access
from expertloop.workbench.models import ProblemSet, StepRevision, StepRun
from expertloop.workbench.progress import latest_revisions

AUTHOR = "kenji@experts.expertloop.org"
REVIEWER = "rosa@experts.expertloop.org"
CATEGORIES_USED = ("ambiguity", "faulty_reasoning", "off_scope", "calculation_error")


def seed_accepted(*, session: Session) -> bool:
    """Give the second demo expert an accepted problem set on the demo project, once.

    Returns False (and changes nothing) when the expert, the reviewer or the project is missing,
    the expert already has a problem set there or is no longer staffed, or the project lost the
    local model or a category used.
    """
    author = session.scalar(select(User).where(User.email == AUTHOR))
    reviewer = session.scalar(select(User).where(User.email == REVIEWER))
    project = demo_project(session=session)
    if author is None or reviewer is None or project is None:
        return False
    already = session.scalar(
        select(ProblemSet.id)
        .where(ProblemSet.project_id == project.id, ProblemSet.author_id == author.id)
        .limit(1)
    )
    if already is not None:
        return False
    try:
        endpoints = targets.list_targets(session=session, actor=author, project=project)
        review_access = project_access(session=session, actor=reviewer, project_id=project.id)
    except NotFound:  # unstaffed since
        return False
    categories = taxonomy.current(session=session, project_id=project.id)
    if not endpoints or any(categories.get(c) is None for c in CATEGORIES_USED):
        return False
    if not review_access.is_reviewer:
        return False
    write_accepted(
        session=session,
        author=author,
        reviewer=reviewer,
        project_id=project.id,
        endpoint=endpoints[0],
    )
    return True


def write_accepted(
    *, session: Session, author: User, reviewer: User, project_id: int, endpoint: ModelEndpoint
) -> ProblemSet:
    """Write the cash-flow problem set as ``author`` and accept it as ``reviewer``.

    The author must be staffed on the project, ``endpoint`` one of its target models, the
    reviewer a reviewer (or lead) of the project, and the project's taxonomy must hold the
    categories used (the defaults do).
    """
    ps = _work(session=session, author=author, project_id=project_id, endpoint=endpoint)
    loaded = access.problem_set(session=session, actor=reviewer, problem_set_id=ps.id)
    status.transition(session=session, loaded=loaded, action=status.Action.start_review)
    status.transition(
        session=session,
        loaded=loaded,
        action=status.Action.accept,
        comment=cash_problem().review_comment,
    )
    return ps


def _score(
    session: Session, loaded: Loaded, revision: StepRevision, run: StepRun, met: tuple[bool, ...]
) -> None:
    assert len(met) == len(revision.rubric)
    for criterion, value in enumerate(met):
        assess.score(
            session=session,
            loaded=loaded,
            revision=revision,
            step_run=run,
            criterion=criterion,
            met=value,
        )


def _work(
    *, session: Session, author: User, project_id: int, endpoint: ModelEndpoint
) -> ProblemSet:
    """Write, run, annotate, revise, finish and submit the problem set as its author."""
    text = cash_problem()
    author_access = project_access(session=session, actor=author, project_id=project_id)
    ps = problem_sets.create(
        session=session,
        access=author_access,
        title=TITLE,
        statement=STATEMENT,
        context=context_text(),
        persona="business_owner",
    )
    loaded = Loaded(author_access, ps)
    step1, step2, step3 = (
        steps.add(
            session=session,
            loaded=loaded,
            title=title,
            prompt=prompt,
            rubric=list(rubric),
            reference=reference,
            chain=chain,
        )
        for title, prompt, rubric, reference, chain in (
            (
                "Cash receipts by store and month",
                text.step1_prompt,
                text.step1_rubric,
                text.step1_reference,
                False,
            ),
            (
                "Cash payments by line and month",
                text.step2_prompt,
                text.step2_rubric,
                text.step2_reference,
                False,
            ),
            (
                "Month-end cash and the minimum balance",
                text.step3_prompt,
                text.step3_rubric,
                text.step3_reference,
                True,
            ),
        )
    )
    first = latest_revisions(session=session, step_ids=[step1.id, step2.id, step3.id])

    # Step 1, revision 1: an ambiguous prompt, read the wrong way.
    rev1 = first[step1.id]
    run = stored_run(
        session=session,
        loaded=loaded,
        step=step1,
        revision=rev1,
        endpoint=endpoint,
        answer=text.answer1_1,
    )
    _score(session, loaded, rev1, run, (True, False, True))
    start, end = span(rev1.prompt, text.step1_prompt_ambiguous)
    prompt_fault = assess.add(
        session=session,
        loaded=loaded,
        revision=rev1,
        category="ambiguity",
        severity="major",
        note=text.step1_prompt_note,
        start=start,
        end=end,
        quote=text.step1_prompt_ambiguous,
    )
    start, end = span(text.answer1_1, text.answer1_1_fault)
    answer_fault = assess.add(
        session=session,
        loaded=loaded,
        revision=rev1,
        step_run=run,
        category="faulty_reasoning",
        severity="major",
        note=text.answer1_1_fault_note,
        start=start,
        end=end,
        quote=text.answer1_1_fault,
    )
    # Revision 2 says what receipts are; its run meets every criterion.
    steps.update_draft(
        session=session,
        loaded=loaded,
        step=step1,
        version=step1.version,
        changes={
            "draft_prompt": text.step1_rev2_prompt,
            "draft_rubric": list(text.step1_rev2_rubric),
        },
    )
    rev2 = steps.revise(
        session=session,
        loaded=loaded,
        step=step1,
        reason=text.step1_rev2_reason,
        motivated_by=[prompt_fault.id, answer_fault.id],
    )
    run = stored_run(
        session=session,
        loaded=loaded,
        step=step1,
        revision=rev2,
        endpoint=endpoint,
        answer=text.answer1_2,
    )
    _score(session, loaded, rev2, run, (True,) * len(rev2.rubric))

    # Step 2 passes; a minor off-scope remark does not block it.
    rev = first[step2.id]
    run = stored_run(
        session=session,
        loaded=loaded,
        step=step2,
        revision=rev,
        endpoint=endpoint,
        answer=text.answer2,
    )
    _score(session, loaded, rev, run, (True,) * len(rev.rubric))
    start, end = span(text.answer2, text.answer2_offscope)
    assess.add(
        session=session,
        loaded=loaded,
        revision=rev,
        step_run=run,
        category="off_scope",
        severity="minor",
        note="Unasked advice; the plan keeps 30-day terms.",
        start=start,
        end=end,
        quote=text.answer2_offscope,
    )

    # Step 3 (chain mode: it carries steps 1 and 2) slips in a sum; the ideal answer fixes it.
    rev = first[step3.id]
    run = stored_run(
        session=session,
        loaded=loaded,
        step=step3,
        revision=rev,
        endpoint=endpoint,
        answer=text.answer3,
    )
    _score(session, loaded, rev, run, (True, False, False))
    start, end = span(text.answer3, text.answer3_error)
    assess.add(
        session=session,
        loaded=loaded,
        revision=rev,
        step_run=run,
        category="calculation_error",
        severity="major",
        note=text.answer3_error_note,
        start=start,
        end=end,
        quote=text.answer3_error,
    )
    assess.save_ideal(
        session=session,
        loaded=loaded,
        step=step3,
        text=text.ideal3,
        version=None,
        based_on=run,
        revision=rev,
    )
    status.transition(session=session, loaded=loaded, action=status.Action.submit)
    return ps
