"""A return records each step's prompt and ideal answer; after the resubmission the reviewer
sees, per step, the word diff between then and now (added and deleted steps included)."""

from __future__ import annotations

from sqlalchemy import select

from expertloop.accounts.models import User
from expertloop.events import AuditLog
from expertloop.review import returns
from expertloop.review.models import ReturnedStep, ReviewReturn
from expertloop.workbench import assess, status, steps
from expertloop.workbench.access import Loaded, ideal_answer, project_access
from expertloop.workbench.models import Step
from tests.unit.workbench.conftest import Bench


def _as(bench: Bench, user: User) -> Loaded:
    access = project_access(session=bench.db, actor=user, project_id=bench.world.project_a.id)
    return Loaded(access, bench.loaded.problem_set)


def _ideal(bench: Bench, step: Step, text: str) -> None:
    current = ideal_answer(session=bench.db, step_id=step.id)
    assess.save_ideal(
        session=bench.db,
        loaded=bench.loaded,
        step=step,
        text=text,
        version=current.version if current else None,
    )


def _revise(bench: Bench, step: Step, prompt: str) -> None:
    steps.update_draft(
        session=bench.db,
        loaded=bench.loaded,
        step=step,
        version=step.version,
        changes={"draft_prompt": prompt},
    )
    steps.revise(session=bench.db, loaded=bench.loaded, step=step)


def test_since_return_diffs_prompt_and_ideal_per_step(bench: Bench) -> None:
    db, world = bench.db, bench.world
    bench.run("The balance is 1,200 EUR.")
    _ideal(bench, bench.step, "The balance is 1,200 EUR.")
    author = bench.loaded
    reviewer = _as(bench, world.reviewer_a)
    returns.transition(session=db, loaded=author, action=status.Action.submit)
    assert returns.since_return(session=db, loaded=reviewer) is None  # never returned

    returns.transition(
        session=db, loaded=reviewer, action=status.Action.return_, comment="Name the year."
    )
    (ret,) = db.scalars(select(ReviewReturn)).all()
    then = {r.step_id: r for r in db.scalars(select(ReturnedStep)).all()}
    assert then[bench.step.id].prompt == "What is the opening balance?"
    assert then[bench.step.id].ideal_text == "The balance is 1,200 EUR."
    assert then[bench.step.id].revision_number == 1
    assert ret.comment == "Name the year."
    assert db.scalar(select(AuditLog.kind).where(AuditLog.kind == "review.return_recorded"))
    assert returns.since_return(session=db, loaded=reviewer) is None  # not resubmitted yet

    # A step deleted since the return (a run keeps a step from deletion; written directly).
    db.add(ReturnedStep(return_id=ret.id, step_id=10**9, step_title="Doomed", prompt="Gone"))
    db.flush()
    _revise(bench, bench.step, "What is the opening balance in the 2025 ledger?")
    bench.run("1,250", revision=steps.revisions_of(session=db, step_id=bench.step.id)[-1])
    _ideal(bench, bench.step, "The balance is 1,250 EUR.")
    added = bench.add_step(title="New", prompt="A new step")
    bench.run("new", revision=steps.revisions_of(session=db, step_id=added.id)[-1])
    _ideal(bench, added, "New answer.")
    returns.transition(session=db, loaded=author, action=status.Action.submit)

    assert returns.since_return(session=db, loaded=author) is None  # the author is no reviewer
    changes = returns.since_return(session=db, loaded=reviewer)
    assert changes is not None and changes.comment == "Name the year."
    by_id = {c.step_id: c for c in changes.steps}
    first = by_id[bench.step.id]
    assert (first.kind, first.revision_then, first.revision_now) == ("changed", 1, 2)
    assert first.prompt_changed and first.ideal_changed
    assert ("+", " in the 2025 ledger") in first.prompt_diff
    assert ("-", "200") in first.ideal_diff and ("+", "250") in first.ideal_diff
    assert by_id[added.id].kind == "added"
    gone = by_id[10**9]
    assert (gone.kind, gone.title, gone.prompt_diff) == ("removed", "Doomed", (("-", "Gone"),))
    assert changes.changed == 3


def test_an_unchanged_step_says_so(bench: Bench) -> None:
    db = bench.db
    bench.run("Same answer.")
    _ideal(bench, bench.step, "Same answer.")
    reviewer = _as(bench, bench.world.reviewer_a)
    returns.transition(session=db, loaded=bench.loaded, action=status.Action.submit)
    returns.transition(session=db, loaded=reviewer, action=status.Action.return_, comment="Hm.")
    returns.transition(session=db, loaded=bench.loaded, action=status.Action.submit)
    changes = returns.since_return(session=db, loaded=reviewer)
    assert changes is not None
    (only,) = changes.steps
    assert (only.kind, only.prompt_changed, only.ideal_changed) == ("unchanged", False, False)
    assert changes.changed == 0
