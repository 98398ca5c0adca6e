"""The step history read model keeps every revision's runs, scores and annotations, newest
first, compares two revisions, and reads a constant number of statements however long it is."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from expertloop.errors import NotFound
from expertloop.workbench import assess, step_history, steps
from expertloop.workbench.models import StepRevision
from tests.unit.workbench.conftest import Bench


def _revise(bench: Bench, prompt: str, reason: str = "") -> StepRevision:
    step = bench.step
    steps.update_draft(
        session=bench.db,
        loaded=bench.loaded,
        step=step,
        version=step.version,
        changes={"draft_prompt": prompt},
    )
    return steps.revise(session=bench.db, loaded=bench.loaded, step=step, reason=reason)


@contextmanager
def _counting(db: Session) -> Iterator[list[str]]:
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_older_revisions_keep_their_answers_scores_and_annotations(bench: Bench) -> None:
    db = bench.db
    answer = "The opening balance is 1,200 EUR."
    first_run = bench.run(answer)
    at = answer.index("1,200")
    note = assess.add(
        session=db,
        loaded=bench.loaded,
        revision=bench.revision,
        step_run=first_run,
        category="factual_error",
        severity="major",
        start=at,
        end=at + 5,
        quote="1,200",
        note="The ledger says 1,250.",
    )
    assess.score(
        session=db,
        loaded=bench.loaded,
        revision=bench.revision,
        step_run=first_run,
        criterion=0,
        met=False,
    )
    second = _revise(bench, "What is the opening balance in the 2025 ledger?", "Name the year")
    second_run = bench.run("The opening balance is 1,250 EUR.", revision=second)

    hist = step_history.history(session=db, step=bench.step, project_id=bench.world.project_a.id)

    assert [r.number for r in hist.revisions] == [2, 1]
    newest, oldest = hist.revisions
    assert newest.is_latest and not oldest.is_latest
    assert newest.reason == "Name the year"
    assert [r.step_run_id for r in newest.runs] == [second_run.id]
    (old_run,) = oldest.runs
    assert old_run.answer == "The opening balance is 1,200 EUR."
    assert [a.id for a in old_run.annotations] == [note.id]
    assert old_run.annotations[0].note == "The ledger says 1,250."
    assert [c.met for c in old_run.criteria] == [False, None]
    marked = [s for s in old_run.segments if s.annotation_ids]
    assert [(s.text, s.severity) for s in marked] == [("1,200", "major")]
    assert "".join(s.text for s in old_run.segments) == old_run.answer
    assert oldest.prompt_diff is None
    assert newest.prompt_diff is not None
    assert ("+", " in the 2025 ledger") in newest.prompt_diff
    ((model, ops),) = newest.answer_diffs
    assert model == bench.endpoint.name
    assert ("-", "200") in ops and ("+", "250") in ops


def test_side_by_side_pairs_each_models_newest_answers(bench: Bench) -> None:
    bench.run("first try")
    bench.run("second try on revision 1")
    second = _revise(bench, "A clearer prompt")
    bench.run("answer on revision 2", revision=second)
    hist = step_history.history(
        session=bench.db, step=bench.step, project_id=bench.world.project_a.id
    )

    cmp = step_history.compare(hist, 1, 2)

    assert (cmp.left.number, cmp.right.number) == (1, 2)
    (pair,) = cmp.answers
    assert pair.left is not None and pair.left.answer == "second try on revision 1"
    assert pair.right is not None and pair.right.answer == "answer on revision 2"
    assert pair.diff is not None and ("+", "answer") in pair.diff
    assert "".join(t for op, t in cmp.prompt_diff if op != "+") == "What is the opening balance?"
    assert "".join(t for op, t in cmp.prompt_diff if op != "-") == "A clearer prompt"
    with pytest.raises(NotFound, match="no revision 7"):
        step_history.compare(hist, 1, 7)


def test_a_revision_without_runs_compares_to_nothing(bench: Bench) -> None:
    bench.run("only on revision 1")
    _revise(bench, "Revision two, never run")
    hist = step_history.history(
        session=bench.db, step=bench.step, project_id=bench.world.project_a.id
    )
    (pair,) = step_history.compare(hist, 2, 1).answers
    assert pair.left is None and pair.right is not None and pair.diff is None


def test_statements_do_not_grow_with_revisions_runs_or_annotations(bench: Bench) -> None:
    db = bench.db
    project_id = bench.world.project_a.id
    bench.run("one answer")
    db.expire_all()
    with _counting(db) as short:
        step_history.history(session=db, step=bench.step, project_id=project_id)
    for i in range(4):
        rev = _revise(bench, f"Prompt number {i + 2}")
        for j in range(3):
            run = bench.run(f"answer {i}-{j} with an error", revision=rev)
            assess.add(
                session=db,
                loaded=bench.loaded,
                revision=rev,
                step_run=run,
                category="factual_error",
                severity="minor",
                start=0,
                end=6,
            )
    db.expire_all()
    with _counting(db) as long:
        hist = step_history.history(session=db, step=bench.step, project_id=project_id)
    assert len(hist.revisions) == 5 and sum(len(r.runs) for r in hist.revisions) == 13
    assert len(long) == len(short), (short, long)
