"""JSON API: domain assessments. The candidate's own attempt under ``/me/assessment`` (start or
resume, save answers, submit, read the result); operators' attempts of a candidate, grading of
free-text answers and the queue; question banks and their questions (operators).

An answer or a submission after the deadline is refused with 409 and the attempt is closed as
expired: the handler commits that closure before answering, so it is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter
from sqlalchemy.orm import Session

from expertloop.experts import assessments, question_banks
from expertloop.experts.question_banks import BankRules, QuestionDraft
from expertloop.experts.schemas import (
    AssessmentAnswerIn,
    AttemptGradesIn,
    AttemptOut,
    BankDetailOut,
    BankIn,
    BankOut,
    BankPatchIn,
    BankQuestionIn,
    BankQuestionOut,
    BankQuestionPatchIn,
    GradeIn,
    GradingQueueRowOut,
    InstallOut,
    MyAssessmentOut,
)
from expertloop.web.api.common import ERRORS, ErrorOut
from expertloop.web.deps import DB, IP, CurrentUser

router = APIRouter(tags=["experts"], responses=ERRORS)

T = TypeVar("T")

TIME_UP: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "After the deadline (the attempt expired)"}
}


def keeping_expiry(db: Session, call: Callable[[], T]) -> T:
    """Run ``call``; when it refuses because time is up, commit the expiry, then refuse."""
    try:
        return call()
    except assessments.TimeUp:
        db.commit()
        raise


# --- The candidate's own assessment -------------------------------------------------------------


@router.get("/me/assessment", response_model=MyAssessmentOut)
def my_assessment(user: CurrentUser, db: DB) -> MyAssessmentOut:
    """Your assessment: the bank's rules, your attempts, and whether you may start one."""
    return MyAssessmentOut.from_view(assessments.mine(db, actor=user))


@router.post(
    "/me/assessment/start",
    response_model=AttemptOut,
    responses={409: {"model": ErrorOut, "description": "Not at the gate, or cooling down"}},
)
def start_assessment(user: CurrentUser, db: DB, ip: IP) -> AttemptOut:
    """Start an attempt (the questions are drawn and the deadline set by the server), or resume
    the open one. During the cool-down after an attempt: 409 with ``details.opens_at``."""
    return AttemptOut.from_view(assessments.start(db, actor=user, ip=ip))


@router.put("/me/assessment/answers/{question_id}", response_model=AttemptOut, responses=TIME_UP)
def save_answer(
    question_id: int, body: AssessmentAnswerIn, user: CurrentUser, db: DB, ip: IP
) -> AttemptOut:
    """Save your answer to one question of the open attempt (again: replaces the draft)."""
    view = keeping_expiry(
        db,
        lambda: assessments.save_answer(
            db,
            actor=user,
            question_id=question_id,
            choice=body.choice,
            number=body.number,
            text=body.text,
            ip=ip,
        ),
    )
    return AttemptOut.from_view(view)


@router.post("/me/assessment/submit", response_model=AttemptOut, responses=TIME_UP)
def submit_assessment(user: CurrentUser, db: DB, ip: IP) -> AttemptOut:
    """Submit the open attempt: choice and numeric answers are graded at once, free text by an
    operator; the result (with the key) shows once every answer is graded."""
    view = keeping_expiry(db, lambda: assessments.submit(db, actor=user, ip=ip))
    return AttemptOut.from_view(view)


@router.get("/assessment-attempts/{attempt_id}", response_model=AttemptOut)
def get_attempt(attempt_id: int, user: CurrentUser, db: DB) -> AttemptOut:
    """One attempt: its candidate (the key only once graded) or an operator."""
    return AttemptOut.from_view(assessments.get_attempt(db, actor=user, attempt_id=attempt_id))


# --- Operators: attempts and grading ------------------------------------------------------------


@router.get("/candidates/{candidate_id}/assessments", response_model=list[AttemptOut])
def candidate_assessments(candidate_id: int, user: CurrentUser, db: DB) -> list[AttemptOut]:
    """A candidate's attempts, newest first, with the key and the grades (operators)."""
    views = assessments.for_candidate(db, actor=user, candidate_id=candidate_id)
    return [AttemptOut.from_view(v) for v in views]


@router.post("/assessment-attempts/{attempt_id}/grades", response_model=AttemptOut)
def grade_attempt(
    attempt_id: int, body: AttemptGradesIn, user: CurrentUser, db: DB, ip: IP
) -> AttemptOut:
    """Grade free-text answers of a closed attempt and set the candidate's feedback; the attempt
    is scored once every answer has its points (operators)."""
    view = assessments.grade(
        db,
        actor=user,
        attempt_id=attempt_id,
        grades=[assessments.Grade(g.answer_id, g.points, g.note) for g in body.grades],
        feedback=body.feedback,
        ip=ip,
    )
    return AttemptOut.from_view(view)


@router.post("/assessment-answers/{answer_id}/grade", response_model=AttemptOut)
def grade_answer(answer_id: int, body: GradeIn, user: CurrentUser, db: DB, ip: IP) -> AttemptOut:
    """Grade one free-text answer (operators)."""
    view = assessments.grade_answer(
        db, actor=user, answer_id=answer_id, points=body.points, note=body.note, ip=ip
    )
    return AttemptOut.from_view(view)


@router.get("/assessments/grading", response_model=list[GradingQueueRowOut])
def grading_queue(user: CurrentUser, db: DB) -> list[assessments.QueueRow]:
    """Closed attempts waiting for their free-text answers to be graded, longest first."""
    return assessments.grading_queue(db, actor=user)


# --- Operators: question banks ------------------------------------------------------------------


@router.get("/assessment-banks", response_model=list[BankOut])
def list_banks(user: CurrentUser, db: DB) -> list[BankOut]:
    """Every domain's question bank with its rules and question counts (operators)."""
    return [BankOut.from_summary(s) for s in question_banks.list_banks(db, actor=user)]


@router.post("/assessment-banks", response_model=BankOut, status_code=201)
def create_bank(body: BankIn, user: CurrentUser, db: DB, ip: IP) -> BankOut:
    """Create an empty bank for a taxonomy domain (409 when the domain has one)."""
    rules = BankRules(**body.model_dump(exclude={"domain"}))
    bank = question_banks.create_bank(db, actor=user, domain=body.domain, rules=rules, ip=ip)
    return BankOut.from_summary(question_banks.get_bank(db, actor=user, bank_id=bank.id).summary)


@router.post("/assessment-banks/install", response_model=InstallOut)
def install_banks(user: CurrentUser, db: DB) -> InstallOut:
    """Install the shipped banks (idempotent; operators' changes are kept)."""
    question_banks.list_banks(db, actor=user)  # operators only (404 for anyone else)
    report = question_banks.install(db)
    return InstallOut.model_validate(report, from_attributes=True)


@router.get("/assessment-banks/{bank_id}", response_model=BankDetailOut)
def get_bank(bank_id: int, user: CurrentUser, db: DB) -> BankDetailOut:
    """A bank and all its questions with their answer keys, active first (operators)."""
    view = question_banks.get_bank(db, actor=user, bank_id=bank_id)
    return BankDetailOut(
        bank=BankOut.from_summary(view.summary),
        questions=[BankQuestionOut.model_validate(q) for q in view.questions],
    )


@router.patch("/assessment-banks/{bank_id}", response_model=BankOut)
def update_bank(bank_id: int, body: BankPatchIn, user: CurrentUser, db: DB, ip: IP) -> BankOut:
    """Change a bank's title and rules (operators)."""
    current = question_banks.get_bank(db, actor=user, bank_id=bank_id).summary.bank
    rules = question_banks.rules_of(current)
    changes = body.model_dump(exclude_none=True)
    question_banks.update_bank(
        db,
        actor=user,
        bank_id=bank_id,
        rules=BankRules(**{**rules.__dict__, **changes}),
        ip=ip,
    )
    return BankOut.from_summary(question_banks.get_bank(db, actor=user, bank_id=bank_id).summary)


@router.post(
    "/assessment-banks/{bank_id}/questions", response_model=BankQuestionOut, status_code=201
)
def add_question(
    bank_id: int, body: BankQuestionIn, user: CurrentUser, db: DB, ip: IP
) -> BankQuestionOut:
    """Add a question to a bank (operators)."""
    row = question_banks.add_question(
        db, actor=user, bank_id=bank_id, draft=QuestionDraft(**body.model_dump()), ip=ip
    )
    return BankQuestionOut.model_validate(row)


@router.patch("/assessment-questions/{question_id}", response_model=BankQuestionOut)
def update_question(
    question_id: int, body: BankQuestionPatchIn, user: CurrentUser, db: DB, ip: IP
) -> BankQuestionOut:
    """Change a question; ``active: false`` takes it out of new draws (operators)."""
    # An explicit null clears the answer (free text has none); elsewhere null is no change.
    given = body.model_dump(exclude_unset=True)
    changes = {k: v for k, v in given.items() if v is not None or k == "answer"}
    row = question_banks.update_question(
        db, actor=user, question_id=question_id, changes=changes, ip=ip
    )
    return BankQuestionOut.model_validate(row)
