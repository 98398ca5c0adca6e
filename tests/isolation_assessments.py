"""Isolation cases for the domain assessments, and the builders the assessment tests share.

B's side: a candidate (not one of A's users) at the assessment gate whose attempt is submitted
and waits for an operator to grade its free-text answer, on a bank of B's own domain. Outsiders
(A's client, expert and reviewer) get 404 on every bank, attempt, answer and grading route, see
none of it, and change nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
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
from expertloop.types import utcnow
from tests.factories import World
from tests.isolation import Probe, b_side, b_state, isolation_case
from tests.isolation_interviews import make_candidate

_seq = itertools.count(1)

# A small bank: two choice, one numeric, one free text (6 points in all).
QUESTIONS: list[dict[str, Any]] = [
    {
        "kind": QuestionKind.choice,
        "text": "Which organ pumps blood?",
        "choices": ["Liver", "Heart", "Lung"],
        "answer": 1,
        "explanation": "The heart pumps blood round the body.",
    },
    {
        "kind": QuestionKind.choice,
        "text": "Which vessel carries blood away from the heart?",
        "choices": ["Artery", "Vein"],
        "answer": 0,
        "explanation": "Arteries carry blood away from the heart.",
    },
    {
        "kind": QuestionKind.numeric,
        "text": "What is 70 / 1.75², to one decimal?",
        "answer": 22.9,
        "tolerance": 0.1,
        "points": 2,
        "explanation": "70 / 3.0625 = 22.86, about 22.9.",
    },
    {
        "kind": QuestionKind.free_text,
        "text": "Explain sensitivity to a patient.",
        "points": 2,
        "explanation": "How often the test finds the disease in people who have it.",
    },
]


def make_bank(
    db: Session,
    *,
    domain: str = "medicine",
    questions: list[dict[str, Any]] | None = None,
    question_count: int | None = None,
    time_limit_seconds: int = 600,
    cooldown_hours: int = 24,
    pass_percent: int = 50,
    title: str | None = None,
) -> tuple[AssessmentBank, list[AssessmentQuestion]]:
    """Create (or replace the questions of) a domain's bank; return it and its questions."""
    specs = questions if questions is not None else QUESTIONS
    bank = db.scalar(select(AssessmentBank).where(AssessmentBank.domain == domain))
    if bank is None:
        bank = AssessmentBank(domain=domain, title=title or f"{domain.title()} test bank")
        db.add(bank)
    bank.time_limit_seconds = time_limit_seconds
    bank.question_count = question_count if question_count is not None else len(specs)
    bank.cooldown_hours = cooldown_hours
    bank.pass_percent = pass_percent
    db.flush()
    rows = []
    for spec in specs:
        row = AssessmentQuestion(
            bank_id=bank.id,
            kind=spec["kind"],
            text=spec["text"],
            choices=list(spec.get("choices", [])),
            answer=spec.get("answer"),
            tolerance=spec.get("tolerance", 0.0),
            points=spec.get("points", 1),
            explanation=spec.get("explanation", ""),
            active=spec.get("active", True),
        )
        db.add(row)
        rows.append(row)
    db.flush()
    return bank, rows


def assessment_candidate(db: Session, *, domain: str = "medicine") -> tuple[User, Candidate]:
    """An expert user who applied and stands at the assessment gate."""
    return make_candidate(db, state=VettingState.assessment, domain=domain)


@b_side
def _b_assessment(db: Session, app: Any, world: World, ids: dict[str, Any]) -> dict[str, Any]:
    """B's candidate submitted an attempt whose free-text answer waits for grading."""
    bank, questions = make_bank(
        db,
        domain="law",
        title="B's law bank",
        questions=[
            {
                "kind": QuestionKind.choice,
                "text": "B's confidential choice question",
                "choices": ["yes", "no"],
                "answer": 0,
            },
            {"kind": QuestionKind.free_text, "text": "B's confidential free-text question"},
        ],
    )
    _user, candidate = assessment_candidate(db, domain="law")
    now = utcnow()
    attempt = AssessmentAttempt(
        candidate_id=candidate.id,
        bank_id=bank.id,
        question_ids=[q.id for q in questions],
        status=AttemptStatus.submitted,
        started_at=now - dt.timedelta(minutes=5),
        deadline_at=now + dt.timedelta(minutes=5),
        submitted_at=now,
        max_score=2,
    )
    db.add(attempt)
    db.flush()
    answer = AssessmentAnswer(
        attempt_id=attempt.id,
        question_id=questions[1].id,
        text="B's confidential assessment answer",
    )
    db.add(AssessmentAnswer(attempt_id=attempt.id, question_id=questions[0].id, choice=0, points=1))
    db.add(answer)
    db.commit()
    return {
        "b_assess_candidate_id": candidate.id,
        "b_attempt_id": attempt.id,
        "b_answer_id": answer.id,
        "b_bank_id": bank.id,
        "b_question_id": questions[1].id,
    }


@b_state("assessments")
def _assessments(db: Session, world: World) -> Any:
    attempts = db.scalars(select(AssessmentAttempt).order_by(AssessmentAttempt.id)).all()
    answers = db.scalars(select(AssessmentAnswer).order_by(AssessmentAnswer.id)).all()
    banks = db.scalars(select(AssessmentBank).order_by(AssessmentBank.id)).all()
    questions = db.scalars(select(AssessmentQuestion).order_by(AssessmentQuestion.id)).all()
    return (
        [(a.id, a.status, a.score, a.feedback, a.graded_at, a.question_ids) for a in attempts],
        [(a.id, a.points, a.text, a.grader_note, a.choice) for a in answers],
        [(b.id, b.title, b.question_count, b.time_limit_seconds, b.pass_percent) for b in banks],
        [(q.id, q.text, q.active, q.answer, q.points) for q in questions],
    )


@isolation_case("assessments")
def _assessment_probes(w: World) -> list[Probe]:
    grade = {"points": 1, "note": "hijacked"}
    grades = {"grades": [{"answer_id": "{b_answer_id}", "points": 1}], "feedback": "hijacked"}
    question = {"kind": "free_text", "text": "planted question"}
    rules = {"title": "hijacked", "question_count": 1}
    return [
        Probe("GET", "/api/v1/me/assessment"),
        Probe("POST", "/api/v1/me/assessment/start"),
        Probe("PUT", "/api/v1/me/assessment/answers/{b_question_id}", {"text": "planted"}),
        Probe("POST", "/api/v1/me/assessment/submit"),
        Probe("GET", "/api/v1/assessment-attempts/{b_attempt_id}"),
        Probe("POST", "/api/v1/assessment-attempts/{b_attempt_id}/grades", grades),
        Probe("POST", "/api/v1/assessment-answers/{b_answer_id}/grade", grade),
        Probe("GET", "/api/v1/candidates/{b_assess_candidate_id}/assessments"),
        Probe("GET", "/api/v1/assessments/grading"),
        Probe("GET", "/api/v1/assessment-banks"),
        Probe("POST", "/api/v1/assessment-banks", {**rules, "domain": "software"}),
        Probe("POST", "/api/v1/assessment-banks/install"),
        Probe("GET", "/api/v1/assessment-banks/{b_bank_id}"),
        Probe("PATCH", "/api/v1/assessment-banks/{b_bank_id}", rules),
        Probe("POST", "/api/v1/assessment-banks/{b_bank_id}/questions", question),
        Probe("PATCH", "/api/v1/assessment-questions/{b_question_id}", {"active": False}),
        Probe("GET", "/assessments"),
        Probe("POST", "/assessments/start"),
        Probe("POST", "/assessments/answers/{b_question_id}"),
        Probe("POST", "/assessments/submit"),
        Probe("GET", "/candidates/{b_assess_candidate_id}/assessments"),
        Probe("POST", "/assessment-attempts/{b_attempt_id}/grade"),
        Probe("GET", "/assessments/grading"),
        Probe("GET", "/assessment-banks"),
        Probe("GET", "/assessment-banks/{b_bank_id}"),
        Probe("POST", "/assessment-banks/{b_bank_id}/questions"),
        Probe("POST", "/assessment-questions/{b_question_id}"),
    ]
