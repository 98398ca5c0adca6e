"""Where steps stand: outline numbering, and when a step passes or is done."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from expertloop.workbench import assess, problem_sets, progress, steps
from expertloop.workbench.models import Step, StepRevision, StepRun
from tests.unit.workbench.conftest import Bench


def _step(id_: int, position: int, parent_id: int | None = None) -> Step:
    return Step(id=id_, parent_id=parent_id, position=position, problem_set_id=1)


def test_outline_numbers_parents_then_their_sub_steps() -> None:
    rows = [
        _step(4, 2),
        _step(2, 1, parent_id=1),
        _step(1, 1),
        _step(3, 2, parent_id=1),
        _step(5, 1, parent_id=4),
    ]
    assert [(n, s.id) for n, s in progress.outline(rows)] == [
        ("1", 1),
        ("1.1", 2),
        ("1.2", 3),
        ("2", 4),
        ("2.1", 5),
    ]


def test_outline_orders_by_position_then_id_and_ignores_gaps() -> None:
    rows = [_step(9, 10), _step(7, 3), _step(8, 3)]
    assert [(n, s.id) for n, s in progress.outline(rows)] == [("1", 7), ("2", 8), ("3", 9)]
    assert progress.outline([]) == []


@st.composite
def forests(draw: st.DrawFn) -> list[Step]:
    """Top-level steps with sub-steps one level deep; unique ids, arbitrary positions."""
    n_top = draw(st.integers(0, 6))
    sizes = draw(st.lists(st.integers(0, 4), min_size=n_top, max_size=n_top))
    ids = draw(
        st.lists(
            st.integers(1, 10_000),
            min_size=n_top + sum(sizes),
            max_size=n_top + sum(sizes),
            unique=True,
        )
    )
    positions = st.integers(0, 5)
    rows: list[Step] = []
    it = iter(ids)
    for size in sizes:
        parent = _step(next(it), draw(positions))
        rows.append(parent)
        rows += [_step(next(it), draw(positions), parent_id=parent.id) for _ in range(size)]
    return draw(st.permutations(rows))


@given(forests())
def test_outline_numbers_every_step_once_in_reading_order(rows: list[Step]) -> None:
    result = progress.outline(list(rows))
    assert sorted(s.id for _n, s in result) == sorted(s.id for s in rows)
    tops = sorted((s for s in rows if s.parent_id is None), key=lambda s: (s.position, s.id))
    expected: list[tuple[str, int]] = []
    for i, top in enumerate(tops, start=1):
        expected.append((str(i), top.id))
        kids = sorted((s for s in rows if s.parent_id == top.id), key=lambda s: (s.position, s.id))
        expected += [(f"{i}.{j}", kid.id) for j, kid in enumerate(kids, start=1)]
    assert [(n, s.id) for n, s in result] == expected


def test_numbered_follows_adding_and_reordering(bench: Bench, db: Session) -> None:
    first = bench.step
    sub_a = bench.add_step(title="a", parent_id=first.id)
    sub_b = bench.add_step(title="b", parent_id=first.id)
    second = bench.add_step(title="second")
    ps_id = bench.loaded.problem_set.id

    def numbers() -> list[tuple[str, int]]:
        return [(n, s.id) for n, s in progress.numbered(session=db, problem_set_id=ps_id)]

    assert numbers() == [("1", first.id), ("1.1", sub_a.id), ("1.2", sub_b.id), ("2", second.id)]
    steps.reorder(session=db, loaded=bench.loaded, step_ids=[sub_b.id, sub_a.id])
    steps.reorder(session=db, loaded=bench.loaded, step_ids=[second.id, first.id])
    assert numbers() == [("1", second.id), ("2", first.id), ("2.1", sub_b.id), ("2.2", sub_a.id)]


# --- step states -------------------------------------------------------------------------


def _state(bench: Bench, step: Step | None = None) -> progress.StepState:
    step = step or bench.step
    return progress.step_states(session=bench.db, steps=[step])[step.id]


def _meet(bench: Bench, step_run: StepRun, *criteria: int, met: bool = True) -> None:
    revision = bench.db.get(StepRevision, step_run.revision_id)
    assert revision is not None
    for c in criteria:
        assess.score(
            session=bench.db,
            loaded=bench.loaded,
            revision=revision,
            step_run=step_run,
            criterion=c,
            met=met,
        )


def _annotate(bench: Bench, step_run: StepRun, severity: str) -> None:
    revision = bench.db.get(StepRevision, step_run.revision_id)
    assert revision is not None
    assess.add(
        session=bench.db,
        loaded=bench.loaded,
        revision=revision,
        step_run=step_run,
        start=0,
        end=3,
        category="factual_error",
        severity=severity,
    )


def test_a_step_without_a_prompt_has_no_revision(bench: Bench) -> None:
    empty = bench.add_step(title="later")
    state = _state(bench, empty)
    assert (state.revision_number, state.passing, state.done) == (None, False, False)
    assert state.label == "no prompt yet"


def test_a_revision_without_runs_is_not_passing(bench: Bench) -> None:
    state = _state(bench)
    assert state.revision_number == 1
    assert (state.passing, state.has_ideal, state.done) == (False, False, False)
    assert state.label == "not passing"


def test_an_ok_run_meeting_every_criterion_passes(bench: Bench) -> None:
    run = bench.run("The balance is 1,204.50.")
    _meet(bench, run, 0, 1)
    state = _state(bench)
    assert state.passing_step_run_id == run.id
    assert (state.passing, state.done, state.label) == (True, True, "passing")


def test_every_criterion_must_be_met(bench: Bench) -> None:
    run = bench.run("The balance is 1,204.50.")
    _meet(bench, run, 0)
    assert not _state(bench).passing
    _meet(bench, run, 1, met=False)
    assert not _state(bench).passing
    _meet(bench, run, 1)
    assert _state(bench).passing
    _meet(bench, run, 0, met=False)  # the last word wins
    assert not _state(bench).passing


@pytest.mark.parametrize("status", ["error", "running", "cancelled", "timeout"])
def test_only_an_ok_run_can_pass(bench: Bench, status: str) -> None:
    run = bench.run("partial", status=status)
    _meet(bench, run, 0, 1)
    assert not _state(bench).passing


@pytest.mark.parametrize(
    ("severity", "passes"), [("minor", True), ("major", False), ("critical", False)]
)
def test_a_major_or_critical_fault_on_the_run_blocks_passing(
    bench: Bench, severity: str, passes: bool
) -> None:
    run = bench.run("The balance is 1,204.50.")
    _meet(bench, run, 0, 1)
    _annotate(bench, run, severity)
    assert _state(bench).passing is passes


def test_a_fault_on_another_run_does_not_block_this_one(bench: Bench) -> None:
    bad, good = bench.run("Wrong answer"), bench.run("Right answer")
    _annotate(bench, bad, "critical")
    _meet(bench, bad, 0, 1)
    _meet(bench, good, 0, 1)
    assert _state(bench).passing_step_run_id == good.id


def test_a_prompt_side_fault_does_not_block_passing(bench: Bench) -> None:
    run = bench.run("The balance is 1,204.50.")
    _meet(bench, run, 0, 1)
    assess.add(
        session=bench.db,
        loaded=bench.loaded,
        revision=bench.revision,
        category="ambiguity",
        severity="critical",
    )
    assert _state(bench).passing


def test_a_step_without_rubric_criteria_never_passes(bench: Bench) -> None:
    step = bench.add_step(title="no rubric", prompt="Explain the variance.")
    revision = steps.revisions_of(session=bench.db, step_id=step.id)[-1]
    assert revision.rubric == []
    bench.run("Here is the variance.", revision=revision)
    assert not _state(bench, step).passing


def test_only_the_newest_revision_counts(bench: Bench) -> None:
    run = bench.run("The balance is 1,204.50.")
    _meet(bench, run, 0, 1)
    assert _state(bench).passing
    step = bench.step
    steps.update_draft(
        session=bench.db,
        loaded=bench.loaded,
        step=step,
        version=step.version,
        changes={"draft_prompt": "What is the opening balance on 1 January?"},
    )
    steps.revise(session=bench.db, loaded=bench.loaded, step=step, reason="Date it")
    state = _state(bench)
    assert (state.revision_number, state.passing) == (2, False)


def _ideal(bench: Bench, text: str) -> None:
    assess.save_ideal(
        session=bench.db, loaded=bench.loaded, step=bench.step, text=text, version=None
    )


def test_an_ideal_answer_makes_a_step_done_once_its_final_revision_ran(bench: Bench) -> None:
    _ideal(bench, "The opening balance is 1,204.50 (ledger p. 3).")
    state = _state(bench)
    assert (state.passing, state.has_ideal, state.final_run, state.done) == (
        False,
        True,
        False,
        False,
    )
    assert state.label == "ideal answer, not run"
    assert state.missing == "revision 1 has not been run"
    bench.run("It is 1,000.", status="error")  # a failed run shows nothing of the model
    assert not _state(bench).done
    bench.run("It is 1,000.")
    state = _state(bench)
    assert (state.final_run, state.done, state.label, state.missing) == (
        True,
        True,
        "ideal answer",
        "",
    )


def test_a_run_of_an_earlier_revision_does_not_count_for_the_ideal_answer(bench: Bench) -> None:
    bench.run("It is 1,000.")
    _ideal(bench, "The opening balance is 1,204.50.")
    assert _state(bench).done
    step = bench.step
    steps.update_draft(
        session=bench.db,
        loaded=bench.loaded,
        step=step,
        version=step.version,
        changes={"draft_prompt": "What is the opening balance on 1 January?"},
    )
    steps.revise(session=bench.db, loaded=bench.loaded, step=step, reason="Date it")
    state = _state(bench)
    assert (state.revision_number, state.final_run, state.done) == (2, False, False)
    assert state.missing == "revision 2 has not been run"


@pytest.mark.parametrize("text", ["", "   ", "\r\n\t"])
def test_an_empty_or_blank_ideal_answer_does_not(bench: Bench, text: str) -> None:
    _ideal(bench, text)
    state = _state(bench)
    assert (state.has_ideal, state.done) == (False, False)


def test_passing_wins_the_label_over_an_ideal_answer(bench: Bench) -> None:
    run = bench.run("The balance is 1,204.50.")
    _meet(bench, run, 0, 1)
    _ideal(bench, "Better answer")
    state = _state(bench)
    assert (state.passing, state.has_ideal, state.label) == (True, True, "passing")


def test_unfinished_steps_lists_the_numbers_of_steps_not_done(bench: Bench) -> None:
    ps = bench.loaded.problem_set
    sub = bench.add_step(title="sub", parent_id=bench.step.id, prompt="Which ledger?")
    later = bench.add_step(title="later")
    assert progress.unfinished_steps(session=bench.db, problem_set=ps) == [
        "step 1 (revision 1 has not been run)",
        "step 1.1 (revision 1 has not been run)",
        "step 2 (no prompt yet)",
    ]
    run = bench.run("The balance is 1,204.50.")
    assert progress.unfinished_steps(session=bench.db, problem_set=ps)[0] == (
        "step 1 (no run of revision 1 passes and there is no ideal answer)"
    )
    _meet(bench, run, 0, 1)
    assess.save_ideal(
        session=bench.db, loaded=bench.loaded, step=sub, text="Ledger B", version=None
    )
    bench.run("Ledger A", revision=steps.revisions_of(session=bench.db, step_id=sub.id)[-1])
    assess.save_ideal(session=bench.db, loaded=bench.loaded, step=later, text="Done", version=None)
    # An ideal answer to a step without a prompt is no example: the step is not done.
    assert progress.unfinished_steps(session=bench.db, problem_set=ps) == ["step 2 (no prompt yet)"]
    steps.update_draft(
        session=bench.db,
        loaded=bench.loaded,
        step=later,
        version=later.version,
        changes={"draft_prompt": "Anything else?"},
    )
    steps.revise(session=bench.db, loaded=bench.loaded, step=later)
    bench.run("No.", revision=steps.revisions_of(session=bench.db, step_id=later.id)[-1])
    assert progress.unfinished_steps(session=bench.db, problem_set=ps) == []


def test_unfinished_steps_is_none_without_steps(bench: Bench, db: Session) -> None:
    empty = problem_sets.create(session=db, access=bench.loaded.access, title="Empty")
    assert progress.unfinished_steps(session=db, problem_set=empty) is None
    assert progress.step_states(session=db, steps=[]) == {}
