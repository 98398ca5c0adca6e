"""Domain assessments: the shipped banks install idempotently, the draw is random among the
active questions, the server's deadline and the cool-down hold, grading adds up, and nothing of
the key reaches the candidate before grading."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role
from expertloop.errors import Conflict, NotFound, ValidationFailed
from expertloop.events import AuditLog
from expertloop.experts import assessments, question_banks, taxonomy
from expertloop.experts.assessments import Grade, TimeUp
from expertloop.experts.models import (
    AssessmentAnswer,
    AssessmentAttempt,
    AssessmentBank,
    AssessmentQuestion,
    AttemptStatus,
    QuestionKind,
    VettingState,
)
from expertloop.experts.question_banks import BankRules, QuestionDraft
from expertloop.types import utcnow
from tests.factories import make_user
from tests.isolation_assessments import QUESTIONS, assessment_candidate, make_bank

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


# --- The shipped banks -------------------------------------------------------------------------


def test_shipped_banks_are_realistic_and_valid() -> None:
    banks = {b.domain: b for b in question_banks.shipped()}
    assert {"medicine", "law", "finance", "software"} <= set(banks)
    known = taxonomy.domains()
    for domain, bank in banks.items():
        assert domain in known
        kinds = [q.kind for q in bank.questions]
        assert len(kinds) >= 8, domain
        assert set(kinds) == set(QuestionKind), domain
        assert len({q.text for q in bank.questions}) == len(kinds)
        assert bank.rules.question_count <= len(kinds)
        for q in bank.questions:
            assert q.explanation, (domain, q.text)


def test_install_is_idempotent_and_keeps_operator_changes(db: Session) -> None:
    first = question_banks.install(db)
    assert first.banks_created >= 4 and first.questions_created >= 40
    count = db.scalar(select(func.count()).select_from(AssessmentQuestion))
    again = question_banks.install(db)
    assert (again.banks_created, again.questions_created, again.questions_updated) == (0, 0, 0)
    assert db.scalar(select(func.count()).select_from(AssessmentQuestion)) == count
    # An operator deactivates a question and changes the rules: a reinstall keeps both, but a
    # shipped correction of a question's content is applied.
    bank = db.scalar(select(AssessmentBank).where(AssessmentBank.domain == "software"))
    assert bank is not None
    bank.question_count = 3
    q = db.scalars(select(AssessmentQuestion).where(AssessmentQuestion.bank_id == bank.id)).first()
    assert q is not None
    q.active = False
    q.explanation = "stale"
    third = question_banks.install(db)
    assert (third.questions_created, third.questions_updated) == (0, 1)
    assert bank.question_count == 3 and q.active is False and q.explanation != "stale"


def test_question_drafts_are_checked() -> None:
    ok = question_banks.check_question(
        QuestionDraft(kind=QuestionKind.choice, text=" Which? ", choices=["a", "b"], answer=1)
    )
    assert ok.text == "Which?" and ok.answer == 1.0
    bad = [
        QuestionDraft(kind=QuestionKind.choice, text="x", choices=["only one"], answer=0),
        QuestionDraft(kind=QuestionKind.choice, text="x", choices=["a", "b"], answer=2),
        QuestionDraft(kind=QuestionKind.choice, text="x", choices=["a", "a"], answer=0),
        QuestionDraft(kind=QuestionKind.choice, text="x", choices=["a", "b"], answer=0.5),
        QuestionDraft(kind=QuestionKind.numeric, text="x", answer=None),
        QuestionDraft(kind=QuestionKind.numeric, text="x", answer=1, tolerance=-1),
        QuestionDraft(kind=QuestionKind.numeric, text="x", answer=float("nan")),
        QuestionDraft(kind=QuestionKind.free_text, text="   "),
        QuestionDraft(kind=QuestionKind.free_text, text="x", points=0),
    ]
    for draft in bad:
        with pytest.raises(ValidationFailed):
            question_banks.check_question(draft)
    free = question_banks.check_question(
        QuestionDraft(kind=QuestionKind.free_text, text="Explain.", choices=["x"], answer=3)
    )
    assert free.choices == [] and free.answer is None


def test_operators_edit_banks_and_others_get_404(db: Session) -> None:
    operator = make_user(db, Role.operator)
    expert = make_user(db, Role.expert)
    bank = question_banks.create_bank(
        db, actor=operator, domain="physics", rules=BankRules(title="Physics")
    )
    with pytest.raises(Conflict):
        question_banks.create_bank(
            db, actor=operator, domain="physics", rules=BankRules(title="Again")
        )
    with pytest.raises(ValidationFailed):
        question_banks.create_bank(db, actor=operator, domain="nope", rules=BankRules(title="X"))
    q = question_banks.add_question(
        db,
        actor=operator,
        bank_id=bank.id,
        draft=QuestionDraft(
            kind=QuestionKind.numeric, text="g in m/s²?", answer=9.81, tolerance=0.05
        ),
    )
    with pytest.raises(Conflict):  # the same text twice in a bank
        question_banks.add_question(
            db,
            actor=operator,
            bank_id=bank.id,
            draft=QuestionDraft(kind=QuestionKind.free_text, text="g in m/s²?"),
        )
    question_banks.update_question(db, actor=operator, question_id=q.id, changes={"active": False})
    view = question_banks.get_bank(db, actor=operator, bank_id=bank.id)
    assert view.summary.active == 0 and view.summary.total == 1 and not view.summary.ready
    question_banks.update_bank(
        db, actor=operator, bank_id=bank.id, rules=BankRules(title="Physics II", question_count=3)
    )
    assert bank.title == "Physics II" and bank.question_count == 3
    for call in (
        lambda: question_banks.list_banks(db, actor=expert),
        lambda: question_banks.get_bank(db, actor=expert, bank_id=bank.id),
        lambda: question_banks.update_question(
            db, actor=expert, question_id=q.id, changes={"active": True}
        ),
        lambda: question_banks.add_question(
            db,
            actor=expert,
            bank_id=bank.id,
            draft=QuestionDraft(kind=QuestionKind.free_text, text="planted"),
        ),
    ):
        with pytest.raises(NotFound):
            call()


# --- Grading math ------------------------------------------------------------------------------


@given(score=st.integers(0, 500), extra=st.integers(0, 500), pass_percent=st.integers(1, 100))
def test_passed_is_exact_integer_math(score: int, extra: int, pass_percent: int) -> None:
    max_score = score + extra
    if max_score == 0:
        return
    expected = score / max_score * 100 >= pass_percent - 1e-9
    assert assessments.passed(score, max_score, pass_percent) is (
        score * 100 >= pass_percent * max_score
    )
    # The exact rule agrees with the percentage wherever floating point is not at the edge.
    if abs(score / max_score * 100 - pass_percent) > 1e-6:
        assert assessments.passed(score, max_score, pass_percent) is expected


@given(
    answer=st.floats(-1e6, 1e6, allow_nan=False),
    tolerance=st.floats(0, 100, allow_nan=False),
    offset=st.floats(-200, 200, allow_nan=False),
)
def test_numeric_within_tolerance(answer: float, tolerance: float, offset: float) -> None:
    given_value = answer + offset
    result = assessments.numeric_correct(given_value, answer, tolerance)
    if abs(offset) < tolerance * 0.999:
        assert result
    if abs(offset) > tolerance * 1.001 + 1e-3:
        assert not result
    assert assessments.numeric_correct(answer, answer, 0.0)
    assert not assessments.numeric_correct(float("inf"), answer, tolerance)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([QuestionKind.choice, QuestionKind.numeric]),
            st.integers(1, 5),
            st.booleans(),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_auto_points_add_up(spec: list[tuple[QuestionKind, int, bool, bool]]) -> None:
    total = 0
    for kind, points, answered, right in spec:
        q = AssessmentQuestion(
            kind=kind, text="q", choices=["a", "b", "c"], answer=1.0, tolerance=0.5, points=points
        )
        a = None
        if answered:
            a = AssessmentAnswer(
                choice=(1 if right else 2) if kind == QuestionKind.choice else None,
                number=(1.4 if right else 1.6) if kind == QuestionKind.numeric else None,
                text="",
            )
        got = assessments.auto_points(q, a)
        assert got == (points if answered and right else 0)
        total += got or 0
    assert total == sum(p for _k, p, ans, right in spec if ans and right)


def test_free_text_waits_unless_empty() -> None:
    q = AssessmentQuestion(kind=QuestionKind.free_text, text="q", points=3)
    assert assessments.auto_points(q, None) == 0
    assert assessments.auto_points(q, AssessmentAnswer(text="  ")) == 0
    assert assessments.auto_points(q, AssessmentAnswer(text="An answer")) is None


# --- The draw ----------------------------------------------------------------------------------


@given(
    pool=st.lists(st.integers(), unique=True, max_size=40),
    count=st.integers(0, 50),
    seed=st.integers(0, 2**32),
)
def test_draw_takes_distinct_items_of_the_pool(pool: list[int], count: int, seed: int) -> None:
    drawn = assessments.draw(pool, count, random.Random(seed))
    assert len(drawn) == min(count, len(pool))
    assert len(set(drawn)) == len(drawn) and set(drawn) <= set(pool)


@pytest.mark.parametrize("seed", range(8))
def test_draw_is_random_among_active_without_duplicates(db: Session, seed: int) -> None:
    specs = [
        {"kind": QuestionKind.free_text, "text": f"Question {n}", "active": n % 4 != 0}
        for n in range(12)
    ]
    _bank, rows = make_bank(db, questions=specs, question_count=5)
    active = {q.id for q in rows if q.active}
    user, _candidate = assessment_candidate(db)
    view = assessments.start(db, actor=user, now=T0, rng=random.Random(seed))
    ids = view.attempt.question_ids
    assert len(ids) == 5 and len(set(ids)) == 5 and set(ids) <= active
    assert [i.question_id for i in view.items] == ids
    assert view.attempt.max_score == 5


def test_draw_takes_all_when_the_bank_is_small_and_varies_with_the_seed(db: Session) -> None:
    specs = [{"kind": QuestionKind.free_text, "text": f"Q{n}"} for n in range(10)]
    make_bank(db, questions=specs, question_count=4)
    seen = set()
    for seed in range(6):
        user, _ = assessment_candidate(db)
        v = assessments.start(db, actor=user, now=T0, rng=random.Random(seed))
        seen.add(tuple(v.attempt.question_ids))
    assert len(seen) > 1  # not always the same draw
    _bank, _ = make_bank(db, domain="law", questions=specs[:2], question_count=9)
    user, _ = assessment_candidate(db, domain="law")
    v = assessments.start(db, actor=user, now=T0)
    assert len(v.attempt.question_ids) == 2


# --- Starting, answering, the deadline and the cool-down ----------------------------------------


def _answer_all_right(db: Session, user, view) -> None:  # type: ignore[no-untyped-def]
    for item in view.items:
        q = db.get(AssessmentQuestion, item.question_id)
        assert q is not None
        if q.kind == QuestionKind.choice:
            assessments.save_answer(
                db, actor=user, question_id=q.id, choice=int(q.answer or 0), now=T0
            )
        elif q.kind == QuestionKind.numeric:
            assessments.save_answer(db, actor=user, question_id=q.id, number=22.85, now=T0)
        else:
            assessments.save_answer(db, actor=user, question_id=q.id, text="My answer", now=T0)


def test_start_is_idempotent_and_the_deadline_is_the_servers(db: Session) -> None:
    make_bank(db, time_limit_seconds=900)
    user, candidate = assessment_candidate(db)
    first = assessments.start(db, actor=user, now=T0)
    assert first.attempt.deadline_at == T0 + dt.timedelta(seconds=900)
    assert first.seconds_left == 900
    again = assessments.start(db, actor=user, now=T0 + dt.timedelta(minutes=5))
    assert again.id == first.id and again.seconds_left == 600
    assert db.scalar(select(func.count()).select_from(AssessmentAttempt)) == 1
    started = db.scalars(
        select(AuditLog).where(AuditLog.kind == "experts.assessment_started")
    ).all()
    assert len(started) == 1 and started[0].data["candidate_id"] == candidate.id


def test_answers_are_upserted_one_per_question(db: Session) -> None:
    _bank, rows = make_bank(db)
    user, _ = assessment_candidate(db)
    view = assessments.start(db, actor=user, now=T0)
    choice_q = next(q for q in rows if q.kind == QuestionKind.choice)
    for pick in (0, 2, 2):
        view = assessments.save_answer(db, actor=user, question_id=choice_q.id, choice=pick, now=T0)
    rows_saved = db.scalars(
        select(AssessmentAnswer).where(AssessmentAnswer.attempt_id == view.id)
    ).all()
    assert len(rows_saved) == 1 and rows_saved[0].choice == 2
    assert next(i for i in view.items if i.question_id == choice_q.id).choice == 2
    with pytest.raises(ValidationFailed):
        assessments.save_answer(db, actor=user, question_id=choice_q.id, choice=7, now=T0)
    with pytest.raises(NotFound):  # not a question of this attempt
        assessments.save_answer(db, actor=user, question_id=10**9, text="x", now=T0)


def test_an_answer_after_the_deadline_is_refused_and_the_attempt_expires(db: Session) -> None:
    _bank, rows = make_bank(db, time_limit_seconds=600)
    user, _ = assessment_candidate(db)
    view = assessments.start(db, actor=user, now=T0)
    choice_q = next(q for q in rows if q.text == "Which organ pumps blood?")
    free_q = next(q for q in rows if q.kind == QuestionKind.free_text)
    assessments.save_answer(db, actor=user, question_id=choice_q.id, choice=1, now=T0)
    assessments.save_answer(db, actor=user, question_id=free_q.id, text="In time", now=T0)
    late = T0 + dt.timedelta(seconds=600)  # at the deadline exactly: too late
    with pytest.raises(TimeUp) as info:
        assessments.save_answer(db, actor=user, question_id=free_q.id, text="Too late", now=late)
    assert info.value.details["status"] == "expired"
    attempt = db.get(AssessmentAttempt, view.id)
    assert attempt is not None and attempt.status == AttemptStatus.expired
    assert attempt.submitted_at is None
    # The late answer was not stored; the ones in time are graded (choice now, free text waits).
    saved = {
        a.question_id: a
        for a in db.scalars(select(AssessmentAnswer).where(AssessmentAnswer.attempt_id == view.id))
    }
    assert saved[free_q.id].text == "In time" and saved[free_q.id].points is None
    assert saved[choice_q.id].points == 1
    with pytest.raises(TimeUp):
        assessments.submit(db, actor=user, now=late)
    mine = assessments.mine(db, actor=user, now=late)
    assert mine.current is not None and mine.current.timed_out
    assert mine.current.waiting_for_grading and not mine.can_start


def test_expired_attempts_close_when_read(db: Session) -> None:
    make_bank(db, time_limit_seconds=60)
    user, _ = assessment_candidate(db)
    view = assessments.start(db, actor=user, now=T0)
    assert assessments.expire_due(db, now=T0 + dt.timedelta(seconds=59)) == 0
    later = T0 + dt.timedelta(seconds=61)
    mine = assessments.mine(db, actor=user, now=later)
    assert mine.current is not None and mine.current.id == view.id
    # Nothing answered: nothing to grade, so it is graded at once with 0.
    assert mine.current.status == AttemptStatus.graded and mine.current.attempt.score == 0
    assert mine.current.timed_out and mine.current.attempt.passed is False


def test_a_retake_before_the_cooldown_is_refused(db: Session) -> None:
    only_choice = [q for q in QUESTIONS if q["kind"] == QuestionKind.choice]
    make_bank(db, questions=only_choice, cooldown_hours=24)
    user, _ = assessment_candidate(db)
    assessments.start(db, actor=user, now=T0)
    submitted_at = T0 + dt.timedelta(minutes=3)
    done = assessments.submit(db, actor=user, now=submitted_at)
    assert done.status == AttemptStatus.graded  # choice only: graded at once
    opens = submitted_at + dt.timedelta(hours=24)
    with pytest.raises(Conflict) as info:
        assessments.start(db, actor=user, now=opens - dt.timedelta(seconds=1))
    assert info.value.details["opens_at"] == opens.isoformat()
    assert "2026-03-03 09:03 UTC" in info.value.message
    mine = assessments.mine(db, actor=user, now=opens - dt.timedelta(hours=1))
    assert not mine.can_start and mine.opens_at == opens
    retake = assessments.start(db, actor=user, now=opens)
    assert retake.id != done.id and retake.status == AttemptStatus.in_progress
    # A second submission of the first attempt changes nothing (a double click).
    assert db.scalar(select(func.count()).select_from(AssessmentAttempt)) == 2


def test_only_a_candidate_at_the_gate_with_a_bank_starts(db: Session) -> None:
    expert = make_user(db, Role.expert)
    with pytest.raises(NotFound):
        assessments.start(db, actor=expert, now=T0)
    user, candidate = assessment_candidate(db, domain="chemistry")
    with pytest.raises(Conflict) as info:
        assessments.start(db, actor=user, now=T0)
    assert "no assessment for your domain" in info.value.message
    make_bank(db, domain="chemistry")
    candidate.state = VettingState.interview
    with pytest.raises(Conflict):
        assessments.start(db, actor=user, now=T0)
    candidate.state = VettingState.assessment
    assert assessments.start(db, actor=user, now=T0).status == AttemptStatus.in_progress


# --- Grading -----------------------------------------------------------------------------------


def test_free_text_grading_flow_and_nothing_leaks_before(db: Session) -> None:
    _bank, _rows = make_bank(db, pass_percent=70)
    operator = make_user(db, Role.operator)
    user, candidate = assessment_candidate(db)
    view = assessments.start(db, actor=user, now=T0)
    _answer_all_right(db, user, view)
    submitted = assessments.submit(db, actor=user, now=T0 + dt.timedelta(minutes=2))
    assert submitted.status == AttemptStatus.submitted and submitted.waiting_for_grading
    for v in (submitted, assessments.mine(db, actor=user, now=T0).current):
        assert v is not None and not v.revealed
        for item in v.items:
            assert item.correct_choice is None and item.correct_number is None
            assert item.explanation is None and item.awarded is None and item.tolerance is None
    # The operator sees the key and what waits.
    views = assessments.for_candidate(db, actor=operator, candidate_id=candidate.id, now=T0)
    op = views[0]
    assert op.revealed and op.to_grade == 1
    assert {i.correct_choice for i in op.items if i.kind == QuestionKind.choice} == {0, 1}
    queue = assessments.grading_queue(db, actor=operator, now=T0)
    assert [r.attempt_id for r in queue] == [view.id] and queue[0].to_grade == 1
    free = next(i for i in op.items if i.kind == QuestionKind.free_text)
    assert free.answer_id is not None
    with pytest.raises(ValidationFailed):
        assessments.grade_answer(db, actor=operator, answer_id=free.answer_id, points=3)
    choice_answer = next(i for i in op.items if i.kind == QuestionKind.choice)
    assert choice_answer.answer_id is not None
    with pytest.raises(ValidationFailed):  # the others grade themselves
        assessments.grade_answer(db, actor=operator, answer_id=choice_answer.answer_id, points=1)
    with pytest.raises(NotFound):
        assessments.grade_answer(db, actor=user, answer_id=free.answer_id, points=1)
    graded = assessments.grade(
        db,
        actor=operator,
        attempt_id=view.id,
        grades=[Grade(free.answer_id, 1, "Half of it: no example.")],
        feedback="Solid on facts.",
    )
    # 1 + 1 + 2 (choices and numeric) + 1 of 2 (free text) = 5 of 6: 83% >= 70%.
    assert graded.status == AttemptStatus.graded
    assert (graded.attempt.score, graded.attempt.max_score) == (5, 6)
    assert graded.attempt.passed is True and graded.percent == 83.3
    assert assessments.grading_queue(db, actor=operator, now=T0) == []
    mine = assessments.mine(db, actor=user, now=T0)
    assert mine.current is not None and mine.current.revealed
    free_item = next(i for i in mine.current.items if i.kind == QuestionKind.free_text)
    assert free_item.awarded == 1 and free_item.grader_note == "Half of it: no example."
    assert free_item.explanation == QUESTIONS[3]["explanation"]
    # The candidate stays where they were: grading moves nothing.
    assert candidate.state == VettingState.assessment
    # A corrected grade scores the attempt again.
    again = assessments.grade_answer(db, actor=operator, answer_id=free.answer_id, points=0)
    assert again.attempt.score == 4 and again.attempt.passed is False
    kinds = db.scalars(select(AuditLog.kind).where(AuditLog.kind.like("experts.assessment_%")))
    assert {"experts.assessment_started", "experts.assessment_submitted"} <= set(kinds)
    assert (
        db.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.kind == "experts.assessment_graded")
        )
        == 2
    )


def test_grading_an_open_attempt_is_refused(db: Session) -> None:
    make_bank(db)
    operator = make_user(db, Role.operator)
    user, _ = assessment_candidate(db)
    view = assessments.start(db, actor=user, now=utcnow())
    with pytest.raises(Conflict):
        assessments.grade(db, actor=operator, attempt_id=view.id, grades=[])


def test_a_failed_attempt_shows_the_grades_but_never_the_key(db: Session) -> None:
    make_bank(db, pass_percent=70)
    operator = make_user(db, Role.operator)
    user, candidate = assessment_candidate(db)
    assessments.start(db, actor=user, now=T0)
    # Submitted empty: graded at once with 0, below the pass mark.
    done = assessments.submit(db, actor=user, now=T0 + dt.timedelta(minutes=1))
    assert done.status == AttemptStatus.graded and done.attempt.passed is False
    mine = assessments.mine(db, actor=user, now=T0 + dt.timedelta(minutes=2))
    for v in (done, mine.current):
        assert v is not None and v.revealed and not v.key_shown
        for item in v.items:
            assert item.awarded == 0 and item.grader_note == ""
            assert item.correct_choice is None and item.correct_number is None
            assert item.tolerance is None and item.explanation is None
    own = assessments.get_attempt(db, actor=user, attempt_id=done.id, now=T0)
    assert not own.key_shown and all(i.explanation is None for i in own.items)
    # The operator always sees the key.
    op = assessments.for_candidate(db, actor=operator, candidate_id=candidate.id, now=T0)[0]
    assert op.key_shown and all(i.explanation for i in op.items)


def test_no_new_attempt_while_the_last_one_waits_for_grading(db: Session) -> None:
    make_bank(db, cooldown_hours=1)
    operator = make_user(db, Role.operator)
    user, _ = assessment_candidate(db)
    view = assessments.start(db, actor=user, now=T0)
    _answer_all_right(db, user, view)
    assessments.submit(db, actor=user, now=T0 + dt.timedelta(minutes=2))
    later = T0 + dt.timedelta(hours=5)  # the cool-down is long over
    with pytest.raises(Conflict) as info:
        assessments.start(db, actor=user, now=later)
    assert "still being graded" in info.value.message
    mine = assessments.mine(db, actor=user, now=later)
    assert not mine.can_start and mine.blocked is not None and "graded" in mine.blocked
    op = assessments.for_candidate(db, actor=operator, candidate_id=mine.candidate_id, now=T0)[0]
    free = next(i for i in op.items if i.kind == QuestionKind.free_text)
    assert free.answer_id is not None
    assessments.grade(db, actor=operator, attempt_id=view.id, grades=[Grade(free.answer_id, 0)])
    assert assessments.start(db, actor=user, now=later).status == AttemptStatus.in_progress


def test_what_grades_a_drawn_question_cannot_change(db: Session) -> None:
    _bank, rows = make_bank(db)
    operator = make_user(db, Role.operator)
    user, _ = assessment_candidate(db)
    view = assessments.start(db, actor=user, now=T0)
    free = next(
        r for r in rows if r.kind == QuestionKind.free_text and r.id in view.attempt.question_ids
    )
    for changes in (
        {"kind": QuestionKind.choice, "choices": ["a", "b"], "answer": 0},
        {"points": free.points + 1},
    ):
        with pytest.raises(Conflict) as info:
            question_banks.update_question(db, actor=operator, question_id=free.id, changes=changes)
        assert "deactivate it and add a new one" in info.value.message
    assert free.kind == QuestionKind.free_text
    # A typo in the text or the explanation may be corrected, and it may be deactivated.
    question_banks.update_question(
        db,
        actor=operator,
        question_id=free.id,
        changes={"text": free.text + " (fixed)", "explanation": "Better.", "active": False},
    )
    assert free.explanation == "Better." and free.active is False
    _answer_all_right(db, user, view)
    done = assessments.submit(db, actor=user, now=T0 + dt.timedelta(minutes=1))
    assert done.waiting_for_grading  # still gradeable by hand


def test_install_leaves_a_drawn_question_as_it_is(db: Session) -> None:
    question_banks.install(db)
    bank = db.scalar(select(AssessmentBank).where(AssessmentBank.domain == "software"))
    assert bank is not None
    q = db.scalars(select(AssessmentQuestion).where(AssessmentQuestion.bank_id == bank.id)).first()
    assert q is not None
    _user, candidate = assessment_candidate(db, domain="software")
    db.add(
        AssessmentAttempt(
            candidate_id=candidate.id,
            bank_id=bank.id,
            question_ids=[q.id],
            status=AttemptStatus.in_progress,
            started_at=T0,
            deadline_at=T0 + dt.timedelta(hours=1),
            max_score=q.points,
        )
    )
    q.points = 7
    db.flush()
    again = question_banks.install(db)
    assert again.questions_updated == 0 and q.points == 7
