"""Domain assessments: a candidate at the assessment gate sits their domain's bank.

An attempt draws ``question_count`` of the bank's active questions at random (no duplicates) and
gets a deadline from the server (``time_limit_seconds`` from the start). Starting again while an
attempt is open resumes it; a retake is refused until ``cooldown_hours`` after the last attempt
closed. Answers are saved one at a time (a draft is replaced, never duplicated) until the
candidate submits.

The server enforces the time limit: an answer or a submission at or after ``deadline_at`` is
refused (``TimeUp``) and the attempt closes as ``expired``. The answers saved in time are kept
and graded like a submission (questions left unanswered score 0): an expired attempt is not
thrown away, the operator sees it ran out of time.

Grading: choice and numeric answers are graded when the attempt closes; free-text answers wait
for an operator (status ``submitted`` or ``expired`` with no ``graded_at``). When the last one is
graded the attempt is ``graded``: score, max score, passed (score * 100 >= pass mark * max score)
and the operator's feedback. The candidate then sees the score, pass or fail, the feedback and
per question the points and the grader's note; the correct answers and explanations only when the
attempt passed (a candidate who did not pass retakes, and the next draw overlaps the last one).
Operators always see everything. A new attempt is refused while the last one waits for grading.
Grading never moves the candidate in the pipeline: an operator decides on the candidate page.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.errors import Conflict, NotFound, ValidationFailed
from expertloop.events import emit
from expertloop.experts import events, policies, question_banks, taxonomy
from expertloop.experts.models import (
    AssessmentAnswer,
    AssessmentAttempt,
    AssessmentBank,
    AssessmentQuestion,
    AttemptStatus,
    Candidate,
    QuestionKind,
    VettingState,
)
from expertloop.text import clean
from expertloop.types import utcnow

ANSWER_MAX = 20_000
NOTE_MAX = 5_000
FEEDBACK_MAX = 5_000
# Closed attempts that still wait for an operator to grade their free-text answers.
WAITING = (AttemptStatus.submitted, AttemptStatus.expired)

T = TypeVar("T")


class TimeUp(Conflict):
    """The attempt's deadline passed: the answer or submission is refused; the attempt expired.

    The web layer commits before answering, so that the expiry is kept.
    """


def _no_attempt() -> NotFound:
    return NotFound("Assessment not found.")


# --- Grading math ------------------------------------------------------------------------------


def numeric_correct(given: float, answer: float, tolerance: float) -> bool:
    """Tell whether ``given`` is within ``tolerance`` of ``answer`` (floating error forgiven)."""
    if not math.isfinite(given):
        return False
    slack = 1e-9 * max(1.0, abs(answer))
    return abs(given - answer) <= tolerance + slack


def auto_points(question: AssessmentQuestion, answer: AssessmentAnswer | None) -> int | None:
    """Return the points of a choice or numeric answer; None for free text (an operator's)."""
    if question.kind == QuestionKind.free_text:
        if answer is None or not answer.text.strip():
            return 0  # nothing to read: no grading needed
        return None
    if answer is None or question.answer is None:
        return 0
    if question.kind == QuestionKind.choice:
        right = answer.choice is not None and answer.choice == int(question.answer)
    else:
        right = answer.number is not None and numeric_correct(
            answer.number, question.answer, question.tolerance
        )
    return question.points if right else 0


def draw(pool: Sequence[T], count: int, rng: random.Random | None = None) -> list[T]:
    """Draw ``count`` items of ``pool`` at random, each at most once (all of them if fewer)."""
    return (rng or random.SystemRandom()).sample(list(pool), max(0, min(count, len(pool))))


def passed(score: int, max_score: int, pass_percent: int) -> bool:
    """Tell whether a score passes: score * 100 >= pass mark * max score (integers, exact)."""
    return score * 100 >= pass_percent * max_score


# --- Views -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One drawn question with the candidate's answer; the grades when ``revealed``, the key
    (correct answer, tolerance, explanation) only when ``key_shown``."""

    number: int
    question_id: int
    kind: QuestionKind
    text: str
    choices: list[str]
    points: int
    answer_id: int | None
    choice: int | None
    value: float | None
    answer_text: str
    answered: bool
    # Revealed (graded, or to an operator):
    revealed: bool
    # The key (a passed attempt, or to an operator):
    key_shown: bool
    correct_choice: int | None
    correct_number: float | None
    tolerance: float | None
    explanation: str | None
    awarded: int | None
    grader_note: str | None

    @property
    def needs_grading(self) -> bool:
        """A free-text answer an operator has not graded yet."""
        return self.kind == QuestionKind.free_text and self.answered and self.awarded is None


@dataclass(frozen=True)
class AttemptView:
    """An attempt as its candidate (``revealed`` once graded, ``key_shown`` once passed) or an
    operator (always both) sees it."""

    attempt: AssessmentAttempt
    candidate_id: int
    bank_title: str
    domain: str
    pass_percent: int
    items: list[Item]
    revealed: bool
    key_shown: bool
    now: dt.datetime

    @property
    def id(self) -> int:
        return self.attempt.id

    @property
    def status(self) -> AttemptStatus:
        return self.attempt.status

    @property
    def seconds_left(self) -> int:
        """Seconds until the deadline while open; 0 once closed."""
        if self.attempt.status != AttemptStatus.in_progress:
            return 0
        return max(0, math.ceil((self.attempt.deadline_at - self.now).total_seconds()))

    @property
    def answered(self) -> int:
        return sum(1 for i in self.items if i.answered)

    @property
    def timed_out(self) -> bool:
        """Closed at the time limit rather than submitted."""
        return self.attempt.submitted_at is None and self.attempt.status != (
            AttemptStatus.in_progress
        )

    @property
    def closed_at(self) -> dt.datetime | None:
        return closed_at(self.attempt)

    @property
    def waiting_for_grading(self) -> bool:
        return self.attempt.status in WAITING and self.attempt.graded_at is None

    @property
    def to_grade(self) -> int:
        return sum(1 for i in self.items if i.needs_grading)

    @property
    def percent(self) -> float | None:
        a = self.attempt
        if a.score is None or not a.max_score:
            return None
        return round(100 * a.score / a.max_score, 1)


@dataclass(frozen=True)
class BankInfo:
    """What a candidate is told about their domain's assessment before starting."""

    title: str
    question_count: int
    time_limit_seconds: int
    cooldown_hours: int
    pass_percent: int


@dataclass(frozen=True)
class MyAssessment:
    """The candidate's assessment page: the bank's rules, their attempts, whether they may start."""

    candidate_id: int
    state: VettingState
    domain: str
    domain_label: str
    bank: BankInfo | None
    current: AttemptView | None  # the newest attempt
    earlier: list[AttemptView]
    can_start: bool
    opens_at: dt.datetime | None  # the end of the cool-down, when one is running
    blocked: str | None  # why a new attempt cannot start now (None when it can, or one is open)


def closed_at(attempt: AssessmentAttempt) -> dt.datetime | None:
    """When the attempt closed: submitted, or its deadline for an expired one."""
    if attempt.status == AttemptStatus.in_progress:
        return None
    return attempt.submitted_at or attempt.deadline_at


def _answers(session: Session, attempt_id: int) -> dict[int, AssessmentAnswer]:
    rows = session.scalars(
        select(AssessmentAnswer).where(AssessmentAnswer.attempt_id == attempt_id)
    )
    return {a.question_id: a for a in rows}


def _questions(session: Session, attempt: AssessmentAttempt) -> list[AssessmentQuestion]:
    ids = list(attempt.question_ids or [])
    rows = {
        q.id: q
        for q in session.scalars(select(AssessmentQuestion).where(AssessmentQuestion.id.in_(ids)))
    }
    return [rows[i] for i in ids if i in rows]


def _item(
    n: int,
    q: AssessmentQuestion,
    a: AssessmentAnswer | None,
    *,
    reveal: bool,
    key: bool,
    closed: bool,
) -> Item:
    answered = a is not None and (
        a.choice is not None or a.number is not None or bool(a.text.strip())
    )
    awarded: int | None = None
    if reveal:
        # Once closed, a question left unanswered is worth 0; an answer has its points (None
        # while a free-text answer waits for its grade).
        awarded = a.points if a is not None else (0 if closed else None)
    return Item(
        number=n,
        question_id=q.id,
        kind=q.kind,
        text=q.text,
        choices=list(q.choices or []),
        points=q.points,
        answer_id=a.id if a is not None else None,
        choice=a.choice if a is not None else None,
        value=a.number if a is not None else None,
        answer_text=a.text if a is not None else "",
        answered=answered,
        revealed=reveal,
        key_shown=key,
        correct_choice=(
            int(q.answer)
            if key and q.kind == QuestionKind.choice and q.answer is not None
            else None
        ),
        correct_number=q.answer if key and q.kind == QuestionKind.numeric else None,
        tolerance=q.tolerance if key and q.kind == QuestionKind.numeric else None,
        explanation=q.explanation if key else None,
        awarded=awarded,
        grader_note=(a.grader_note if a is not None else "") if reveal else None,
    )


def _view(
    session: Session,
    attempt: AssessmentAttempt,
    *,
    operator: bool,
    now: dt.datetime | None = None,
) -> AttemptView:
    bank = session.get(AssessmentBank, attempt.bank_id)
    assert bank is not None  # banks are never deleted
    graded = attempt.status == AttemptStatus.graded
    reveal = operator or graded
    # The key only to a candidate who passed: one who did not retakes, and would know the answers.
    key = operator or (graded and attempt.passed is True)
    closed = attempt.status != AttemptStatus.in_progress
    answers = _answers(session, attempt.id)
    items = [
        _item(n, q, answers.get(q.id), reveal=reveal, key=key, closed=closed)
        for n, q in enumerate(_questions(session, attempt), start=1)
    ]
    return AttemptView(
        attempt=attempt,
        candidate_id=attempt.candidate_id,
        bank_title=bank.title,
        domain=bank.domain,
        pass_percent=bank.pass_percent,
        items=items,
        revealed=reveal,
        key_shown=key,
        now=now or utcnow(),
    )


# --- Closing: submission, expiry, automatic grading ----------------------------------------------


def _close(
    session: Session,
    attempt: AssessmentAttempt,
    *,
    status: AttemptStatus,
    actor: User | None,
    now: dt.datetime,
    ip: str | None = None,
) -> None:
    """Close an open attempt as submitted or expired, grade what grades itself, and finish the
    grading when no free-text answer waits."""
    attempt.status = status
    attempt.submitted_at = now if status == AttemptStatus.submitted else None
    answers = _answers(session, attempt.id)
    questions = _questions(session, attempt)
    for q in questions:
        a = answers.get(q.id)
        points = auto_points(q, a)
        if a is not None and points is not None:
            a.points = points
    session.flush()
    answered = sum(
        1
        for a in answers.values()
        if a.choice is not None or a.number is not None or a.text.strip()
    )
    emit(
        events.AssessmentSubmitted(
            actor_user_id=actor.id if actor else None,
            organisation_id=actor.organisation_id if actor else None,
            ip=ip,
            subject_type="expert_assessment_attempt",
            subject_id=str(attempt.id),
            candidate_id=attempt.candidate_id,
            answered=answered,
            timed_out=status == AttemptStatus.expired,
        ),
        session=session,
    )
    _finish_if_graded(session, attempt, actor=actor, now=now, ip=ip)


def _finish_if_graded(
    session: Session,
    attempt: AssessmentAttempt,
    *,
    actor: User | None,
    now: dt.datetime,
    ip: str | None = None,
) -> bool:
    """Score the attempt when every answered question has its points; tell whether it did."""
    answers = _answers(session, attempt.id)
    questions = _questions(session, attempt)
    score = 0
    for q in questions:
        a = answers.get(q.id)
        points = a.points if a is not None else 0
        if points is None:
            return False  # a free-text answer waits for its grade
        score += points
    bank = session.get(AssessmentBank, attempt.bank_id)
    assert bank is not None
    attempt.score = score
    attempt.max_score = sum(q.points for q in questions)
    attempt.passed = passed(score, attempt.max_score, bank.pass_percent)
    attempt.graded_at = now
    attempt.status = AttemptStatus.graded
    session.flush()
    emit(
        events.AssessmentGraded(
            actor_user_id=actor.id if actor else None,
            organisation_id=actor.organisation_id if actor else None,
            ip=ip,
            subject_type="expert_assessment_attempt",
            subject_id=str(attempt.id),
            candidate_id=attempt.candidate_id,
            score=score,
            max_score=attempt.max_score,
            passed=attempt.passed,
        ),
        session=session,
    )
    return True


def expire_due(
    session: Session, *, candidate_id: int | None = None, now: dt.datetime | None = None
) -> int:
    """Close the open attempts whose deadline passed (of one candidate, or all); return how many."""
    now = now or utcnow()
    query = select(AssessmentAttempt).where(
        AssessmentAttempt.status == AttemptStatus.in_progress,
        AssessmentAttempt.deadline_at <= now,
    )
    if candidate_id is not None:
        query = query.where(AssessmentAttempt.candidate_id == candidate_id)
    # Locked: a request closing the same attempt meanwhile makes PostgreSQL re-check the status,
    # so an attempt is closed (and its events written) once.
    rows = list(session.scalars(query.order_by(AssessmentAttempt.id).with_for_update()))
    for attempt in rows:
        _close(session, attempt, status=AttemptStatus.expired, actor=None, now=now)
    return len(rows)


# --- The candidate's side ----------------------------------------------------------------------


def own_candidate(session: Session, actor: User, *, lock: bool = False) -> Candidate:
    """Return the actor's candidate row; ``NotFound`` for users who never went through vetting."""
    query = select(Candidate).where(Candidate.user_id == actor.id)
    candidate = session.scalar(query.with_for_update() if lock else query)
    if candidate is None:
        raise NotFound("You have no assessment.")
    return candidate


def _latest(session: Session, candidate_id: int, *, lock: bool = False) -> AssessmentAttempt | None:
    """The candidate's newest attempt; locked first by anything that may close it, as
    ``expire_due`` does, so that two closers never wait on each other's rows."""
    query = select(AssessmentAttempt).where(AssessmentAttempt.candidate_id == candidate_id)
    query = query.order_by(AssessmentAttempt.id.desc()).limit(1)
    return session.scalar(query.with_for_update() if lock else query)


def _attempts(session: Session, candidate_id: int) -> list[AssessmentAttempt]:
    query = select(AssessmentAttempt).where(AssessmentAttempt.candidate_id == candidate_id)
    return list(session.scalars(query.order_by(AssessmentAttempt.id.desc())))


def cooldown_ends(
    session: Session, candidate: Candidate, bank: AssessmentBank
) -> dt.datetime | None:
    """Return when the candidate may start again (None: no closed attempt holds them back)."""
    latest = _latest(session, candidate.id)
    if latest is None:
        return None
    closed = closed_at(latest)
    if closed is None:
        return None
    return closed + dt.timedelta(hours=bank.cooldown_hours)


def _blocked(
    session: Session, candidate: Candidate, bank: AssessmentBank | None, now: dt.datetime
) -> tuple[str | None, dt.datetime | None]:
    """Why a new attempt cannot start now, and when the cool-down ends (if it is the reason)."""
    if candidate.state != VettingState.assessment:
        return (
            "Your application is not at the assessment stage, so there is no assessment to take.",
            None,
        )
    if bank is None:
        return (
            "There is no assessment for your domain yet. An operator has been told; they may "
            "move you on to the next step instead.",
            None,
        )
    if (
        session.scalar(
            select(AssessmentQuestion.id)
            .where(AssessmentQuestion.bank_id == bank.id, AssessmentQuestion.active.is_(True))
            .limit(1)
        )
        is None
    ):
        return ("The assessment for your domain has no questions yet; try again later.", None)
    latest = _latest(session, candidate.id)
    if latest is not None and latest.status in WAITING and latest.graded_at is None:
        return (
            "Your last attempt is still being graded. You can take the assessment again once "
            "an operator has graded it and the pause after it has passed.",
            cooldown_ends(session, candidate, bank),
        )
    opens = cooldown_ends(session, candidate, bank)
    if opens is not None and now < opens:
        return (
            f"You can take the assessment again from {opens:%Y-%m-%d %H:%M} UTC "
            f"(a {bank.cooldown_hours}-hour pause after each attempt).",
            opens,
        )
    return None, None


def mine(session: Session, *, actor: User, now: dt.datetime | None = None) -> MyAssessment:
    """Return the caller's assessment page (``NotFound`` when they are not a candidate)."""
    now = now or utcnow()
    candidate = own_candidate(session, actor)
    expire_due(session, candidate_id=candidate.id, now=now)
    bank = question_banks.bank_for_domain(session, candidate.domain)
    views = [_view(session, a, operator=False, now=now) for a in _attempts(session, candidate.id)]
    current = views[0] if views else None
    is_open = current is not None and current.status == AttemptStatus.in_progress
    blocked, opens = (None, None) if is_open else _blocked(session, candidate, bank, now)
    domain = taxonomy.domains().get(candidate.domain)
    return MyAssessment(
        candidate_id=candidate.id,
        state=candidate.state,
        domain=candidate.domain,
        domain_label=domain.label if domain else candidate.domain,
        bank=BankInfo(
            title=bank.title,
            question_count=bank.question_count,
            time_limit_seconds=bank.time_limit_seconds,
            cooldown_hours=bank.cooldown_hours,
            pass_percent=bank.pass_percent,
        )
        if bank is not None
        else None,
        current=current,
        earlier=views[1:],
        can_start=not is_open and blocked is None,
        opens_at=opens,
        blocked=blocked,
    )


def start(
    session: Session,
    *,
    actor: User,
    ip: str | None = None,
    now: dt.datetime | None = None,
    rng: random.Random | None = None,
) -> AttemptView:
    """Start an attempt at the candidate's domain bank, or resume the open one."""
    now = now or utcnow()
    candidate = own_candidate(session, actor, lock=True)
    expire_due(session, candidate_id=candidate.id, now=now)
    latest = _latest(session, candidate.id)
    if latest is not None and latest.status == AttemptStatus.in_progress:
        return _view(session, latest, operator=False, now=now)
    bank = question_banks.bank_for_domain(session, candidate.domain)
    blocked, opens = _blocked(session, candidate, bank, now)
    if blocked is not None:
        details: dict[str, Any] = {"state": candidate.state.value}
        if opens is not None:
            details["opens_at"] = opens.isoformat()
        raise Conflict(blocked, details=details)
    assert bank is not None
    pool = list(
        session.execute(
            select(AssessmentQuestion.id, AssessmentQuestion.points)
            .where(AssessmentQuestion.bank_id == bank.id, AssessmentQuestion.active.is_(True))
            .order_by(AssessmentQuestion.id)
        ).all()
    )
    drawn = draw(pool, bank.question_count, rng)
    attempt = AssessmentAttempt(
        candidate_id=candidate.id,
        bank_id=bank.id,
        question_ids=[row.id for row in drawn],
        status=AttemptStatus.in_progress,
        started_at=now,
        deadline_at=now + dt.timedelta(seconds=bank.time_limit_seconds),
        max_score=sum(row.points for row in drawn),
    )
    session.add(attempt)
    session.flush()
    emit(
        events.AssessmentStarted(
            actor_user_id=actor.id,
            organisation_id=actor.organisation_id,
            ip=ip,
            subject_type="expert_assessment_attempt",
            subject_id=str(attempt.id),
            candidate_id=candidate.id,
            bank_id=bank.id,
            questions=len(drawn),
            deadline_at=attempt.deadline_at.isoformat(),
        ),
        session=session,
    )
    return _view(session, attempt, operator=False, now=now)


def _open_attempt(
    session: Session, actor: User, now: dt.datetime, ip: str | None
) -> AssessmentAttempt:
    """Return the caller's open attempt; past its deadline, close it and raise ``TimeUp``."""
    candidate = own_candidate(session, actor, lock=True)
    latest = _latest(session, candidate.id, lock=True)
    if latest is None:
        raise Conflict("You have not started the assessment.", details={"status": None})
    if latest.status == AttemptStatus.in_progress and now >= latest.deadline_at:
        _close(session, latest, status=AttemptStatus.expired, actor=actor, now=now, ip=ip)
    if latest.status == AttemptStatus.expired or (
        latest.status == AttemptStatus.graded and latest.submitted_at is None
    ):
        raise TimeUp(
            f"The time limit passed at {latest.deadline_at:%H:%M:%S} UTC, so the server accepts "
            "no more answers. The answers you saved in time are kept and graded.",
            details={"status": "expired", "deadline_at": latest.deadline_at.isoformat()},
        )
    if latest.status != AttemptStatus.in_progress:
        raise Conflict(
            "This assessment is submitted already; no answer can change now.",
            details={"status": latest.status.value},
        )
    return latest


def save_answer(
    session: Session,
    *,
    actor: User,
    question_id: int,
    choice: int | None = None,
    number: float | None = None,
    text: str | None = None,
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> AttemptView:
    """Save (or replace) the caller's answer to one drawn question of their open attempt."""
    now = now or utcnow()
    attempt = _open_attempt(session, actor, now, ip)
    if question_id not in (attempt.question_ids or []):
        raise NotFound("Question not found.")
    question = session.get(AssessmentQuestion, question_id)
    assert question is not None
    values: dict[str, Any] = {"choice": None, "number": None, "text": ""}
    if question.kind == QuestionKind.choice:
        if choice is not None and (
            isinstance(choice, bool) or not 0 <= choice < len(question.choices or [])
        ):
            raise ValidationFailed("Choose one of the choices.", details={"field": "choice"})
        values["choice"] = choice
    elif question.kind == QuestionKind.numeric:
        if number is not None and not math.isfinite(number):
            raise ValidationFailed("Write a number.", details={"field": "number"})
        values["number"] = number
    else:
        values["text"] = clean(text or "", field="Answer", max_length=ANSWER_MAX)
    row = session.scalar(
        select(AssessmentAnswer).where(
            AssessmentAnswer.attempt_id == attempt.id, AssessmentAnswer.question_id == question_id
        )
    )
    if row is None:
        row = AssessmentAnswer(
            attempt_id=attempt.id, question_id=question_id, answered_at=now, **values
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # another request saved this answer a moment before
            row = session.scalar(
                select(AssessmentAnswer).where(
                    AssessmentAnswer.attempt_id == attempt.id,
                    AssessmentAnswer.question_id == question_id,
                )
            )
            assert row is not None
    for name, value in values.items():
        setattr(row, name, value)
    row.answered_at = now
    session.flush()
    return _view(session, attempt, operator=False, now=now)


def submit(
    session: Session, *, actor: User, ip: str | None = None, now: dt.datetime | None = None
) -> AttemptView:
    """Submit the caller's open attempt (a second submission returns it unchanged)."""
    now = now or utcnow()
    candidate = own_candidate(session, actor, lock=True)
    latest = _latest(session, candidate.id, lock=True)
    if latest is not None and latest.submitted_at is not None:
        return _view(session, latest, operator=False, now=now)  # submitted already: a double click
    attempt = _open_attempt(session, actor, now, ip)
    _close(session, attempt, status=AttemptStatus.submitted, actor=actor, now=now, ip=ip)
    return _view(session, attempt, operator=False, now=now)


# --- Operators: attempts, grading, the queue ---------------------------------------------------


def _operator(actor: User) -> None:
    if not policies.can_vet(actor):
        raise NotFound("Page not found.")


def for_candidate(
    session: Session, *, actor: User, candidate_id: int, now: dt.datetime | None = None
) -> list[AttemptView]:
    """Return a candidate's attempts, newest first, with the key and the grades (operators)."""
    candidate = session.get(Candidate, candidate_id) if policies.can_vet(actor) else None
    if candidate is None:
        raise NotFound("Candidate not found.")
    now = now or utcnow()
    expire_due(session, candidate_id=candidate.id, now=now)
    return [_view(session, a, operator=True, now=now) for a in _attempts(session, candidate.id)]


def get_attempt(
    session: Session, *, actor: User, attempt_id: int, now: dt.datetime | None = None
) -> AttemptView:
    """Return one attempt: to its candidate (key hidden until graded) or an operator."""
    attempt = session.get(AssessmentAttempt, attempt_id)
    candidate = session.get(Candidate, attempt.candidate_id) if attempt is not None else None
    if attempt is None or candidate is None:
        raise _no_attempt()
    operator = policies.can_vet(actor)
    if not operator and candidate.user_id != actor.id:
        raise _no_attempt()
    now = now or utcnow()
    expire_due(session, candidate_id=candidate.id, now=now)
    return _view(session, attempt, operator=operator, now=now)


@dataclass(frozen=True)
class Grade:
    """An operator's grade of one free-text answer."""

    answer_id: int
    points: int
    note: str = ""


def grade(
    session: Session,
    *,
    actor: User,
    attempt_id: int,
    grades: list[Grade],
    feedback: str | None = None,
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> AttemptView:
    """Grade free-text answers of a closed attempt (some or all; again to correct a grade) and
    set the feedback; the attempt is scored once every answer has its points."""
    _operator(actor)
    now = now or utcnow()
    attempt = session.get(AssessmentAttempt, attempt_id, with_for_update=True)
    if attempt is None:
        raise _no_attempt()
    expire_due(session, candidate_id=attempt.candidate_id, now=now)
    if attempt.status == AttemptStatus.in_progress:
        raise Conflict(
            "The candidate is still taking this assessment; grade it once it is closed.",
            details={"status": attempt.status.value},
        )
    answers = {a.id: a for a in _answers(session, attempt.id).values()}
    questions = {q.id: q for q in _questions(session, attempt)}
    for g in grades:
        row = answers.get(g.answer_id)
        if row is None:
            raise NotFound("Answer not found.")
        q = questions.get(row.question_id)
        if q is None or q.kind != QuestionKind.free_text:
            raise ValidationFailed(
                "Only free-text answers are graded by hand; the others grade themselves.",
                details={"field": "answer_id", "answer_id": g.answer_id},
            )
        if isinstance(g.points, bool) or not 0 <= g.points <= q.points:
            raise ValidationFailed(
                f"Give from 0 to {q.points} points for this answer.",
                details={"field": "points", "answer_id": g.answer_id, "max": q.points},
            )
        row.points = g.points
        row.grader_note = clean(g.note, field="Note", max_length=NOTE_MAX).strip()
        row.graded_by_id = actor.id
    if feedback is not None:
        attempt.feedback = clean(feedback, field="Feedback", max_length=FEEDBACK_MAX).strip()
    session.flush()
    # Scored once every answer has its points; a corrected grade scores a graded attempt again.
    _finish_if_graded(session, attempt, actor=actor, now=now, ip=ip)
    return _view(session, attempt, operator=True, now=now)


def grade_answer(
    session: Session,
    *,
    actor: User,
    answer_id: int,
    points: int,
    note: str = "",
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> AttemptView:
    """Grade one free-text answer (operators); see ``grade``."""
    _operator(actor)
    row = session.get(AssessmentAnswer, answer_id)
    if row is None:
        raise NotFound("Answer not found.")
    return grade(
        session,
        actor=actor,
        attempt_id=row.attempt_id,
        grades=[Grade(answer_id, points, note)],
        ip=ip,
        now=now,
    )


@dataclass(frozen=True)
class QueueRow:
    """A closed attempt waiting for an operator to grade its free-text answers."""

    attempt_id: int
    candidate_id: int
    candidate_name: str
    candidate_email: str
    bank_title: str
    closed_at: dt.datetime
    timed_out: bool
    to_grade: int


def grading_queue(
    session: Session, *, actor: User, now: dt.datetime | None = None, limit: int = 100
) -> list[QueueRow]:
    """Return the attempts waiting for grading, the longest waiting first (operators)."""
    _operator(actor)
    expire_due(session, now=now)
    rows = session.execute(
        select(AssessmentAttempt, Candidate, AssessmentBank)
        .join(Candidate, Candidate.id == AssessmentAttempt.candidate_id)
        .join(AssessmentBank, AssessmentBank.id == AssessmentAttempt.bank_id)
        .where(
            AssessmentAttempt.status.in_(WAITING),
            AssessmentAttempt.graded_at.is_(None),
        )
        .order_by(AssessmentAttempt.id)
        .limit(limit)
    ).all()
    out: list[QueueRow] = []
    for attempt, candidate, bank in rows:
        view = _view(session, attempt, operator=True, now=now)
        closed = closed_at(attempt)
        assert closed is not None
        out.append(
            QueueRow(
                attempt_id=attempt.id,
                candidate_id=candidate.id,
                candidate_name=candidate.name,
                candidate_email=candidate.email,
                bank_title=bank.title,
                closed_at=closed,
                timed_out=view.timed_out,
                to_grade=view.to_grade,
            )
        )
    out.sort(key=lambda r: r.closed_at)
    return out
