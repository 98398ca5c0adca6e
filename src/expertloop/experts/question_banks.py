"""Question banks of the domain assessments: one bank per taxonomy domain, with its rules (time
limit, questions drawn, cool-down, pass mark) and its questions (multiple choice, numeric with a
tolerance, free text graded by an operator).

The shipped banks live in ``experts/banks/*.json``; ``install`` puts them in the database and is
idempotent: a bank is found by its domain (its rules are set only when it is created, so an
operator's changes stay), a question by its bank and text (its content is brought up to date, its
``active`` flag is left as an operator set it; a question any attempt drew is left as it is).
Operators list banks and add, edit or deactivate questions; a question is never deleted, because
attempts keep pointing at it. Once an attempt drew a question, what grades it (kind, choices,
answer, tolerance, points) is fixed: changing it is refused (deactivate it and add a new one);
its text and explanation may still be corrected.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.errors import Conflict, NotFound, ValidationFailed
from expertloop.events import emit
from expertloop.experts import events, policies, taxonomy
from expertloop.experts.models import (
    AssessmentAttempt,
    AssessmentBank,
    AssessmentQuestion,
    QuestionKind,
)
from expertloop.text import clean

BANK_DIR = Path(__file__).parent / "banks"

TEXT_MAX = 5_000
CHOICE_MAX = 500
MAX_CHOICES = 8
MAX_POINTS = 100
TIME_LIMIT_RANGE = (60, 4 * 3600)
QUESTION_COUNT_RANGE = (1, 100)
COOLDOWN_RANGE = (0, 365 * 24)


def _not_found() -> NotFound:
    return NotFound("Question bank not found.")


# --- Validation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionDraft:
    """A question as an operator (or a shipped file) writes it, before it is checked."""

    kind: QuestionKind
    text: str
    choices: list[str] = field(default_factory=list)
    answer: float | None = None
    tolerance: float = 0.0
    points: int = 1
    explanation: str = ""
    active: bool = True


@dataclass(frozen=True)
class BankRules:
    """A bank's title and rules."""

    title: str
    time_limit_seconds: int = 1800
    question_count: int = 5
    cooldown_hours: int = 72
    pass_percent: int = 70


def _invalid(message: str, name: str) -> ValidationFailed:
    return ValidationFailed(message, details={"field": name})


def check_question(draft: QuestionDraft) -> QuestionDraft:
    """Return the draft cleaned, or raise ``ValidationFailed`` naming the field at fault."""
    text = clean(draft.text, field="Question", max_length=TEXT_MAX).strip()
    if not text:
        raise _invalid("Write the question.", "text")
    explanation = clean(draft.explanation, field="Explanation", max_length=TEXT_MAX).strip()
    if isinstance(draft.points, bool) or not 1 <= int(draft.points) <= MAX_POINTS:
        raise _invalid(f"Points must be a whole number from 1 to {MAX_POINTS}.", "points")
    choices: list[str] = []
    answer: float | None = None
    tolerance = 0.0
    if draft.kind == QuestionKind.choice:
        choices = [
            clean(c, field="Choice", max_length=CHOICE_MAX, one_line=True).strip()
            for c in draft.choices
        ]
        choices = [c for c in choices if c]
        if not 2 <= len(choices) <= MAX_CHOICES:
            raise _invalid(f"Give from 2 to {MAX_CHOICES} choices.", "choices")
        if len(set(choices)) != len(choices):
            raise _invalid("Two choices say the same thing.", "choices")
        if (
            draft.answer is None
            or not float(draft.answer).is_integer()
            or not 0 <= int(draft.answer) < len(choices)
        ):
            raise _invalid("Say which choice is correct (its number in the list).", "answer")
        answer = float(int(draft.answer))
    elif draft.kind == QuestionKind.numeric:
        if draft.answer is None or not math.isfinite(float(draft.answer)):
            raise _invalid("Give the correct number.", "answer")
        if not math.isfinite(float(draft.tolerance)) or float(draft.tolerance) < 0:
            raise _invalid("The tolerance must be zero or more.", "tolerance")
        answer = float(draft.answer)
        tolerance = float(draft.tolerance)
    return replace(
        draft,
        text=text,
        choices=choices,
        answer=answer,
        tolerance=tolerance,
        points=int(draft.points),
        explanation=explanation,
    )


def check_rules(rules: BankRules) -> BankRules:
    """Return the rules cleaned, or raise ``ValidationFailed``."""
    title = clean(rules.title, field="Title", max_length=200, one_line=True).strip()
    if not title:
        raise _invalid("Give the bank a title.", "title")
    for name, (low, high) in (
        ("time_limit_seconds", TIME_LIMIT_RANGE),
        ("question_count", QUESTION_COUNT_RANGE),
        ("cooldown_hours", COOLDOWN_RANGE),
        ("pass_percent", (1, 100)),
    ):
        value = getattr(rules, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _invalid(f"{name.replace('_', ' ').capitalize()}: from {low} to {high}.", name)
    return replace(rules, title=title)


# --- The shipped banks -------------------------------------------------------------------------


@dataclass(frozen=True)
class BankFile:
    """A bank as shipped: its domain, rules and questions."""

    domain: str
    rules: BankRules
    questions: list[QuestionDraft]


def read_bank_file(path: Path) -> BankFile:
    """Read and check one bank file (``ValidationFailed`` names the file and question)."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    domain = str(data["domain"])
    taxonomy.check(domain)
    rules = check_rules(
        BankRules(
            title=str(data["title"]),
            time_limit_seconds=int(data.get("time_limit_seconds", 1800)),
            question_count=int(data.get("question_count", 5)),
            cooldown_hours=int(data.get("cooldown_hours", 72)),
            pass_percent=int(data.get("pass_percent", 70)),
        )
    )
    questions: list[QuestionDraft] = []
    for n, q in enumerate(data["questions"], start=1):
        try:
            questions.append(
                check_question(
                    QuestionDraft(
                        kind=QuestionKind(q["kind"]),
                        text=str(q["text"]),
                        choices=[str(c) for c in q.get("choices", [])],
                        answer=q.get("answer"),
                        tolerance=float(q.get("tolerance", 0.0)),
                        points=int(q.get("points", 1)),
                        explanation=str(q.get("explanation", "")),
                    )
                )
            )
        except ValidationFailed as exc:
            raise ValidationFailed(
                f"{path.name}, question {n}: {exc.message}", details=exc.details
            ) from exc
    return BankFile(domain=domain, rules=rules, questions=questions)


def shipped(directory: Path | None = None) -> list[BankFile]:
    """Return the shipped banks (or those of ``directory``), by domain."""
    files = sorted((directory or BANK_DIR).glob("*.json"))
    return sorted((read_bank_file(p) for p in files), key=lambda b: b.domain)


@dataclass(frozen=True)
class InstallReport:
    """What ``install`` did."""

    banks_created: int
    questions_created: int
    questions_updated: int
    banks: list[str]


_CONTENT = ("kind", "choices", "answer", "tolerance", "points", "explanation")
# What grades a question: fixed once an attempt drew it.
_GRADING = ("kind", "choices", "answer", "tolerance", "points")


def drawn_ids(session: Session, bank_id: int) -> set[int]:
    """The ids of the bank's questions that any attempt drew."""
    rows = session.scalars(
        select(AssessmentAttempt.question_ids).where(AssessmentAttempt.bank_id == bank_id)
    )
    return {int(i) for ids in rows for i in (ids or [])}


def install(session: Session, *, directory: Path | None = None) -> InstallReport:
    """Put the shipped banks in the database (idempotent; see the module's docstring)."""
    banks_created = created = updated = 0
    names: list[str] = []
    for spec in shipped(directory):
        bank = session.scalar(select(AssessmentBank).where(AssessmentBank.domain == spec.domain))
        if bank is None:
            bank = AssessmentBank(domain=spec.domain, **_rules_columns(spec.rules))
            session.add(bank)
            session.flush()
            banks_created += 1
        names.append(spec.domain)
        drawn = drawn_ids(session, bank.id)
        existing = {
            q.text: q
            for q in session.scalars(
                select(AssessmentQuestion).where(AssessmentQuestion.bank_id == bank.id)
            )
        }
        for draft in spec.questions:
            row = existing.get(draft.text)
            if row is None:
                session.add(_new_question(bank.id, draft))
                created += 1
                continue
            if row.id in drawn:
                continue  # attempts are graded against it: left as it is
            if any(getattr(row, name) != getattr(draft, name) for name in _CONTENT):
                for name in _CONTENT:
                    setattr(row, name, getattr(draft, name))
                updated += 1
    session.flush()
    return InstallReport(banks_created, created, updated, names)


def _rules_columns(rules: BankRules) -> dict[str, Any]:
    return {
        "title": rules.title,
        "time_limit_seconds": rules.time_limit_seconds,
        "question_count": rules.question_count,
        "cooldown_hours": rules.cooldown_hours,
        "pass_percent": rules.pass_percent,
    }


def _new_question(bank_id: int, draft: QuestionDraft) -> AssessmentQuestion:
    return AssessmentQuestion(
        bank_id=bank_id,
        kind=draft.kind,
        text=draft.text,
        choices=list(draft.choices),
        answer=draft.answer,
        tolerance=draft.tolerance,
        points=draft.points,
        explanation=draft.explanation,
        active=draft.active,
    )


# --- Reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BankSummary:
    """A bank with its question counts (active and all, per kind among the active)."""

    bank: AssessmentBank
    domain_label: str
    active: int
    total: int
    by_kind: dict[str, int]

    @property
    def ready(self) -> bool:
        """Whether a candidate can sit it (it has active questions)."""
        return self.active > 0


@dataclass(frozen=True)
class BankView:
    """A bank with all its questions (answers included: operators only)."""

    summary: BankSummary
    questions: list[AssessmentQuestion]


def _summary(session: Session, bank: AssessmentBank) -> BankSummary:
    rows = session.execute(
        select(AssessmentQuestion.kind, AssessmentQuestion.active).where(
            AssessmentQuestion.bank_id == bank.id
        )
    ).all()
    kinds = Counter(kind.value for kind, active in rows if active)
    domain = taxonomy.domains().get(bank.domain)
    return BankSummary(
        bank=bank,
        domain_label=domain.label if domain else bank.domain,
        active=sum(kinds.values()),
        total=len(rows),
        by_kind={k.value: kinds.get(k.value, 0) for k in QuestionKind},
    )


def list_banks(session: Session, *, actor: User) -> list[BankSummary]:
    """Return every bank by domain, with its counts (operators only)."""
    if not policies.can_vet(actor):
        raise NotFound("Page not found.")
    banks = session.scalars(select(AssessmentBank).order_by(AssessmentBank.domain))
    return [_summary(session, b) for b in banks]


def _bank(session: Session, actor: User, bank_id: int) -> AssessmentBank:
    bank = session.get(AssessmentBank, bank_id) if policies.can_vet(actor) else None
    if bank is None:
        raise _not_found()
    return bank


def get_bank(session: Session, *, actor: User, bank_id: int) -> BankView:
    """Return a bank and its questions, active first (operators only)."""
    bank = _bank(session, actor, bank_id)
    questions = session.scalars(
        select(AssessmentQuestion)
        .where(AssessmentQuestion.bank_id == bank.id)
        .order_by(AssessmentQuestion.active.desc(), AssessmentQuestion.id)
    )
    return BankView(summary=_summary(session, bank), questions=list(questions))


def bank_for_domain(session: Session, domain: str) -> AssessmentBank | None:
    """Return the bank of a domain, if there is one."""
    if not domain:
        return None
    return session.scalar(select(AssessmentBank).where(AssessmentBank.domain == domain))


# --- Operators' changes ------------------------------------------------------------------------


def create_bank(
    session: Session, *, actor: User, domain: str, rules: BankRules, ip: str | None = None
) -> AssessmentBank:
    """Create an empty bank for a taxonomy domain (one per domain)."""
    if not policies.can_vet(actor):
        raise NotFound("Page not found.")
    taxonomy.check(domain)
    rules = check_rules(rules)
    if bank_for_domain(session, domain) is not None:
        raise Conflict("This domain has a question bank already.", details={"domain": domain})
    bank = AssessmentBank(domain=domain, **_rules_columns(rules))
    session.add(bank)
    session.flush()
    _emit_bank(session, actor, bank, ip)
    return bank


def update_bank(
    session: Session, *, actor: User, bank_id: int, rules: BankRules, ip: str | None = None
) -> AssessmentBank:
    """Change a bank's title and rules (attempts under way keep their deadline)."""
    bank = _bank(session, actor, bank_id)
    for name, value in _rules_columns(check_rules(rules)).items():
        setattr(bank, name, value)
    session.flush()
    _emit_bank(session, actor, bank, ip)
    return bank


def rules_of(bank: AssessmentBank) -> BankRules:
    """Return a bank's rules (to change some of them)."""
    return BankRules(
        title=bank.title,
        time_limit_seconds=bank.time_limit_seconds,
        question_count=bank.question_count,
        cooldown_hours=bank.cooldown_hours,
        pass_percent=bank.pass_percent,
    )


def _emit_bank(session: Session, actor: User, bank: AssessmentBank, ip: str | None) -> None:
    emit(
        events.AssessmentBankSaved(
            actor_user_id=actor.id,
            organisation_id=actor.organisation_id,
            ip=ip,
            subject_type="expert_assessment_bank",
            subject_id=str(bank.id),
            domain=bank.domain,
            question_count=bank.question_count,
            time_limit_seconds=bank.time_limit_seconds,
        ),
        session=session,
    )


def _unique_text(session: Session, bank_id: int, text: str, own_id: int | None) -> None:
    clash = session.scalar(
        select(AssessmentQuestion.id).where(
            AssessmentQuestion.bank_id == bank_id, AssessmentQuestion.text == text
        )
    )
    if clash is not None and clash != own_id:
        raise Conflict(
            "This bank has a question with the same text already.",
            details={"question_id": clash},
        )


def add_question(
    session: Session, *, actor: User, bank_id: int, draft: QuestionDraft, ip: str | None = None
) -> AssessmentQuestion:
    """Add a question to a bank."""
    bank = _bank(session, actor, bank_id)
    draft = check_question(draft)
    _unique_text(session, bank.id, draft.text, None)
    row = _new_question(bank.id, draft)
    session.add(row)
    session.flush()
    _emit_question(session, actor, row, ip)
    return row


def draft_of(question: AssessmentQuestion) -> QuestionDraft:
    """Return a question as a draft (to change some of it)."""
    return QuestionDraft(
        kind=question.kind,
        text=question.text,
        choices=list(question.choices or []),
        answer=question.answer,
        tolerance=question.tolerance,
        points=question.points,
        explanation=question.explanation,
        active=question.active,
    )


def get_question(session: Session, *, actor: User, question_id: int) -> AssessmentQuestion:
    """Return a question with its answer (operators only)."""
    row = session.get(AssessmentQuestion, question_id) if policies.can_vet(actor) else None
    if row is None:
        raise NotFound("Question not found.")
    return row


def update_question(
    session: Session,
    *,
    actor: User,
    question_id: int,
    changes: dict[str, Any],
    ip: str | None = None,
) -> AssessmentQuestion:
    """Change a question (any of the draft's fields; ``active`` False takes it out of new draws).

    Once an attempt drew it, a change of what grades it (kind, choices, answer, tolerance,
    points) is refused (``Conflict``); the text and explanation may still be corrected.
    """
    row = get_question(session, actor=actor, question_id=question_id)
    unknown = set(changes) - set(QuestionDraft.__dataclass_fields__)
    if unknown:
        raise ValidationFailed("Unknown field.", details={"field": sorted(unknown)[0]})
    draft = check_question(replace(draft_of(row), **changes))
    grading = [n for n in _GRADING if getattr(draft, n) != getattr(draft_of(row), n)]
    if grading and row.id in drawn_ids(session, row.bank_id):
        raise Conflict(
            "Attempts drew this question, so what grades it (its kind, choices, answer, "
            "tolerance or points) cannot change: deactivate it and add a new one.",
            details={"question_id": row.id, "field": grading[0]},
        )
    _unique_text(session, row.bank_id, draft.text, row.id)
    for name in ("text", *_CONTENT, "active"):
        setattr(row, name, getattr(draft, name))
    session.flush()
    _emit_question(session, actor, row, ip)
    return row


def _emit_question(session: Session, actor: User, row: AssessmentQuestion, ip: str | None) -> None:
    emit(
        events.AssessmentQuestionSaved(
            actor_user_id=actor.id,
            organisation_id=actor.organisation_id,
            ip=ip,
            subject_type="expert_assessment_question",
            subject_id=str(row.id),
            bank_id=row.bank_id,
            question_kind=row.kind.value,
            active=row.active,
        ),
        session=session,
    )
