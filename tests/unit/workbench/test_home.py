"""Home read models: the expert's progress and where they left off, a lead's team, the feed."""

# ruff: noqa: RUF001 - the feed quotes titles with typographic quotes, as people read them

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role
from expertloop.errors import PermissionDenied
from expertloop.events import AuditLog, Event, describe, emit
from expertloop.projects.models import Staffing, StaffRole
from expertloop.workbench import assess, feed, home, problem_sets, status, steps, team
from expertloop.workbench.access import Loaded
from expertloop.workbench.models import Heartbeat, ProblemSet, Status, Step
from tests.factories import make_user, staff
from tests.unit.workbench.conftest import Bench

NOW = dt.datetime(2030, 1, 9, 12, 0, tzinfo=dt.UTC)  # a Wednesday
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def _age_everything(db: Session, ps: ProblemSet) -> None:
    """Push a problem set's own traces far back, so that a test's traces are the newest."""
    for step in db.scalars(select(Step).where(Step.problem_set_id == ps.id)):
        step.updated_at = LONG_AGO
    db.flush()


def _beat(db: Session, user_id: int, ps: ProblemSet, at: dt.datetime) -> None:
    db.add(Heartbeat(user_id=user_id, project_id=ps.project_id, problem_set_id=ps.id, at=at))
    db.flush()


# --- expert home -------------------------------------------------------------------------


def test_expert_home_counts_statuses_and_steps(bench: Bench, db: Session) -> None:
    expert = bench.world.expert_a
    second = problem_sets.create(session=db, access=bench.loaded.access, title="Second")
    bench.add_step(title="Closing balance", prompt="What is the closing balance?")
    # The first step is run and gets an ideal answer: one of two steps is done.
    bench.run("41")
    assess.save_ideal(session=db, loaded=bench.loaded, step=bench.step, text="42", version=None)

    data = home.expert_home(session=db, actor=expert)

    by_id = {p.id: p for p in data.problem_sets}
    first = by_id[bench.loaded.problem_set.id]
    assert (first.steps_done, first.steps_total) == (1, 2)
    assert (by_id[second.id].steps_done, by_id[second.id].steps_total) == (0, 0)
    assert (data.steps_done, data.steps_total) == (1, 2)
    # Adding steps and an ideal answer put the first problem set in progress; the second is a draft.
    assert data.status_counts == {Status.in_progress: 1, Status.draft: 1}
    assert data.more_problem_sets == 0
    # An accepted problem set leaves the open work's step count.
    bench.loaded.problem_set.status = Status.accepted
    db.flush()
    data = home.expert_home(session=db, actor=expert)
    assert (data.steps_done, data.steps_total) == (0, 0)
    assert data.status_counts == {Status.draft: 1, Status.accepted: 1}


def test_expert_home_lists_only_the_actors_own_problem_sets(bench: Bench, db: Session) -> None:
    other = bench.world.expert_b
    data = home.expert_home(session=db, actor=other)
    assert data.problem_sets == []
    assert data.status_counts == {}
    assert data.continue_at is None


def test_expert_home_limits_the_list_and_says_how_many_more(bench: Bench, db: Session) -> None:
    for i in range(3):
        problem_sets.create(session=db, access=bench.loaded.access, title=f"Extra {i}")
    data = home.expert_home(session=db, actor=bench.world.expert_a, limit=2)
    assert len(data.problem_sets) == 2
    assert data.more_problem_sets == 2
    assert sum(data.status_counts.values()) == 4


# --- continue where you left off ---------------------------------------------------------


def test_continue_goes_to_the_step_with_the_newest_trace(bench: Bench, db: Session) -> None:
    ps = bench.loaded.problem_set
    later = bench.add_step(title="Forecast", prompt="Forecast next quarter.")
    _age_everything(db, ps)
    bench.step.updated_at = NOW - dt.timedelta(hours=1)
    later.updated_at = NOW - dt.timedelta(hours=2)
    db.flush()
    where = home.continue_at(session=db, actor=bench.world.expert_a)
    assert where is not None
    assert (where.step_id, where.step_number, where.step_title) == (
        bench.step.id,
        "1",
        "Opening balance",
    )
    assert where.problem_set_id == ps.id

    # A run of the second step is newer than the first step's draft: the second step wins.
    run = bench.run("An answer", revision=steps.revisions_of(session=db, step_id=later.id)[-1])
    run.created_at = NOW - dt.timedelta(minutes=10)
    db.flush()
    where = home.continue_at(session=db, actor=bench.world.expert_a)
    assert where is not None and where.step_id == later.id and where.step_number == "2"


def test_continue_follows_a_newer_heartbeat_to_its_problem_set(bench: Bench, db: Session) -> None:
    expert = bench.world.expert_a
    _age_everything(db, bench.loaded.problem_set)
    other = problem_sets.create(session=db, access=bench.loaded.access, title="Other set")
    other_loaded = Loaded(bench.loaded.access, other)
    step = steps.add(session=db, loaded=other_loaded, title="Only step", prompt="Hi")
    step.updated_at = LONG_AGO + dt.timedelta(days=1)
    bench.step.updated_at = LONG_AGO + dt.timedelta(days=2)  # the newest step trace
    db.flush()
    _beat(db, expert.id, other, NOW)  # but the expert was last on the other problem set
    where = home.continue_at(session=db, actor=expert)
    assert where is not None
    assert (where.problem_set_id, where.step_id) == (other.id, step.id)
    assert where.at == NOW


def test_continue_skips_problem_sets_the_expert_cannot_change(bench: Bench, db: Session) -> None:
    ps = bench.loaded.problem_set
    ps.status = Status.submitted
    db.flush()
    _beat(db, bench.world.expert_a.id, ps, NOW)
    assert home.continue_at(session=db, actor=bench.world.expert_a) is None


def test_continue_is_empty_without_any_work(db: Session, bench: Bench) -> None:
    newcomer = make_user(db, Role.expert)
    staff(db, bench.world.project_a, newcomer)
    assert home.continue_at(session=db, actor=newcomer) is None


# --- a lead's team -----------------------------------------------------------------------


def _make_lead(db: Session, bench: Bench) -> None:
    row = db.scalar(
        select(Staffing).where(
            Staffing.project_id == bench.world.project_a.id,
            Staffing.user_id == bench.world.reviewer_a.id,
        )
    )
    assert row is not None
    row.role = StaffRole.lead
    db.flush()


def test_team_work_counts_each_experts_problem_sets(bench: Bench, db: Session) -> None:
    world = bench.world
    _make_lead(db, bench)
    second = problem_sets.create(session=db, access=bench.loaded.access, title="Second")
    second.status = Status.returned
    third = problem_sets.create(session=db, access=bench.loaded.access, title="Third")
    third.status = Status.submitted
    db.flush()
    _beat(db, world.expert_a.id, bench.loaded.problem_set, NOW + dt.timedelta(days=1))
    quiet = make_user(db, Role.expert, name="Quiet Expert")
    staff(db, world.project_a, quiet)

    projects = team.team_work(session=db, actor=world.reviewer_a)

    assert [p.project_id for p in projects] == [world.project_a.id]
    members = {m.user_id: m for m in projects[0].members}
    assert set(members) == {world.expert_a.id, quiet.id}
    busy = members[world.expert_a.id]
    assert (busy.in_progress, busy.submitted, busy.returned, busy.accepted) == (1, 1, 1, 0)
    assert busy.last_activity == NOW + dt.timedelta(days=1)
    # Returned work is listed first: it is what the expert has to act on.
    assert busy.open_problem_sets[0].id == second.id
    assert {p.id for p in busy.open_problem_sets} == {
        bench.loaded.problem_set.id,
        second.id,
        third.id,
    }
    assert members[quiet.id].last_activity is None
    assert projects[0].members[0].user_id == world.expert_a.id  # most recently active first


def test_team_work_is_only_for_leads(bench: Bench, db: Session) -> None:
    world = bench.world
    assert team.team_work(session=db, actor=world.reviewer_a) == []  # a plain reviewer
    _make_lead(db, bench)
    world.reviewer_a.role = Role.expert  # a staffing outlives a change of role: it leads nothing
    db.flush()
    assert team.team_work(session=db, actor=world.reviewer_a) == []
    assert team.team_work(session=db, actor=world.expert_a) == []


# --- the activity feed -------------------------------------------------------------------


def test_feed_tells_a_submission_in_words_and_links_the_problem_set(
    bench: Bench, db: Session
) -> None:
    world = bench.world
    ps = bench.loaded.problem_set
    ps.title = "Dosage for renal impairment"
    run = bench.run("An answer")
    assess.save_ideal(session=db, loaded=bench.loaded, step=bench.step, text="x", version=None)
    assess.score(
        session=db,
        loaded=bench.loaded,
        revision=bench.revision,
        step_run=run,
        criterion=0,
        met=True,
    )
    assess.score(
        session=db,
        loaded=bench.loaded,
        revision=bench.revision,
        step_run=run,
        criterion=1,
        met=True,
    )
    status.transition(session=db, loaded=bench.loaded, action=status.Action.submit)

    page = feed.activity_feed(session=db, actor=world.operator, limit=50)

    submitted = next(i for i in page.items if i.text.endswith("for review"))
    assert (
        submitted.text
        == f"{world.expert_a.name} submitted ‘Dosage for renal impairment’ for review"
    )
    assert submitted.link == ("problem_set", ps.id)
    subject = [s for s in submitted.sentence.segments if s.subject]
    assert [s.text for s in subject] == ["‘Dosage for renal impairment’"]
    # The ideal answer is told as the step it belongs to.
    ideal = next(i for i in page.items if i.kind == "workbench.ideal_answer_started")
    assert ideal.text.endswith(
        "began the ideal answer of ‘Opening balance’ of ‘Dosage for renal impairment’"
    )
    assert ideal.link == ("step", bench.step.id)
    assert not any("workbench." in i.text for i in page.items)
    [scored] = [i for i in page.items if i.kind == "workbench.rubric_scored"]
    assert scored.times == 2  # criterion by criterion, told once
    newest = scored
    assert newest.text.endswith(
        "scored the rubric of ‘Opening balance’ of ‘Dosage for renal impairment’"
    )


def test_feed_tells_a_review_comment_as_the_step_it_is_on(bench: Bench, db: Session) -> None:
    @dataclass(frozen=True, kw_only=True)
    class CommentLike(Event):  # the review domain's event, as it lands in the log
        kind: str = field(init=False, default="review.comment_added")
        step_id: int = 0

    emit(
        CommentLike(
            actor_user_id=bench.world.reviewer_a.id,
            subject_type="review_comment",
            subject_id="99",
            step_id=bench.step.id,
        ),
        session=db,
    )
    [item] = feed.activity_feed(session=db, actor=bench.world.operator, limit=1).items
    assert item.text == (
        f"{bench.world.reviewer_a.name} commented on ‘Opening balance’ of ‘Quarterly cash flow’"
    )
    assert item.link == ("step", bench.step.id)


def test_feed_pages_by_id(bench: Bench, db: Session) -> None:
    operator = bench.world.operator
    everything = feed.activity_feed(session=db, actor=operator, limit=1000).items
    assert len(everything) >= 4
    first = feed.activity_feed(session=db, actor=operator, limit=3)
    assert [i.id for i in first.items] == [i.id for i in everything[:3]]
    assert first.next_before_id == everything[2].id
    rest = feed.activity_feed(
        session=db, actor=operator, limit=1000, before_id=first.next_before_id
    )
    assert [i.id for i in rest.items] == [i.id for i in everything[3:]]
    assert rest.next_before_id is None


def test_feed_is_for_operators_only(bench: Bench, db: Session) -> None:
    for actor in (bench.world.expert_a, bench.world.client_a, bench.world.reviewer_a):
        with pytest.raises(PermissionDenied):
            feed.activity_feed(session=db, actor=actor)


def test_unknown_events_and_missing_fields_fall_back_to_words(db: Session) -> None:
    @dataclass(frozen=True, kw_only=True)
    class Mystery(Event):
        kind: str = field(init=False, default="review.span_commented")

    row = emit(Mystery(subject_type="step", subject_id="7"), session=db)
    sentence = describe(row, actor="Rosa", subject="‘Opening balance’")
    assert sentence.text == "Rosa: span commented (‘Opening balance’)"
    # A known kind whose data lacks a field the sentence needs still says what happened.
    bare = AuditLog(kind="payments.timesheet_transitioned", data={}, subject_type="timesheet")
    assert (
        describe(bare, actor="Omar", subject=None).text
        == "Omar: timesheet transitioned (timesheet)"
    )
    # A transition is told per action.
    sub = AuditLog(
        kind="workbench.problem_set_transitioned",
        data={"action": "return"},
        subject_type="problem_set",
    )
    assert (
        describe(sub, actor="Rosa", subject="‘Plan’").text == "Rosa returned ‘Plan’ to its author"
    )
    # An unknown action of a known kind falls back too.
    odd = AuditLog(
        kind="workbench.problem_set_transitioned",
        data={"action": "teleport"},
        subject_type="problem_set",
    )
    assert (
        describe(odd, actor="Rosa", subject="‘Plan’").text
        == "Rosa: problem set transitioned (‘Plan’)"
    )


def _queries(db: Session, call: Callable[[], object]) -> int:
    """Count the statements ``call`` sends."""
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def test_home_reads_take_the_same_few_queries_however_much_work_there_is(
    bench: Bench, db: Session
) -> None:
    world = bench.world
    _make_lead(db, bench)
    operator = world.operator

    def reads() -> tuple[int, int, int]:
        db.expire_all()
        return (
            _queries(db, lambda: home.expert_home(session=db, actor=world.expert_a)),
            _queries(db, lambda: team.team_work(session=db, actor=world.reviewer_a)),
            _queries(db, lambda: feed.activity_feed(session=db, actor=operator, limit=50)),
        )

    small = reads()
    for i in range(4):
        ps = problem_sets.create(session=db, access=bench.loaded.access, title=f"More {i}")
        loaded = Loaded(bench.loaded.access, ps)
        for j in range(3):
            steps.add(session=db, loaded=loaded, title=f"Step {j}", prompt="Go.")
        _beat(db, world.expert_a.id, ps, NOW + dt.timedelta(minutes=i))
    large = reads()
    assert large == small, (small, large)
    assert max(large) <= 15
