"""Pages: the candidate's assessment (start, questions with the server's countdown, answers saved
as they go, submit, the result once graded); operators' attempts of a candidate with in-place
grading of free-text answers (a partial of the candidate page, or a page of its own), the queue
of attempts waiting for grading, and the question banks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from expertloop.accounts.models import User
from expertloop.errors import ExpertLoopError, NotFound, ValidationFailed
from expertloop.experts import assessments, policies, question_banks
from expertloop.experts.models import QuestionKind
from expertloop.experts.question_banks import QuestionDraft
from expertloop.web.api.experts_assessments import keeping_expiry
from expertloop.web.deps import DB, IP, CurrentUser
from expertloop.web.errors import status_for
from expertloop.web.templating import render

router = APIRouter()


# --- The candidate ------------------------------------------------------------------------------


def _mine(
    request: Request, db: Session, user: User, *, error: str | None = None, status: int = 200
) -> Response:
    view = assessments.mine(db, actor=user)
    return render(
        request,
        "experts/assessment.html",
        {"me": view, "error": error, "saved": request.query_params.get("saved")},
        status,
    )


@router.get("/assessments")
def assessment_page(request: Request, user: CurrentUser, db: DB) -> Response:
    """The candidate's assessment: its rules, the open attempt or the result, or why not now."""
    return _mine(request, db, user)


@router.post("/assessments/start")
def assessment_start(request: Request, user: CurrentUser, db: DB, ip: IP) -> Response:
    """Start (or resume) the assessment, then show it; a refusal shows why (the cool-down)."""
    try:
        with db.begin_nested():
            assessments.start(db, actor=user, ip=ip)
    except ExpertLoopError as exc:
        if status_for(exc) == 404:
            raise
        return _mine(request, db, user, error=exc.message, status=status_for(exc))
    return RedirectResponse("/assessments", status_code=303)


def _whole(raw: str) -> bool:
    """Tell whether ``raw`` is a whole number in ASCII digits (``"²".isdigit()`` is true)."""
    raw = raw.strip()
    return raw.isascii() and raw.isdigit()


THOUSANDS = "Write the number without thousands separators (e.g. 1000 or 22.9)."


def _number(raw: str, field: str = "number") -> float | None:
    """Read a number; one decimal comma (22,86) is accepted, a thousands separator is refused as
    ambiguous: a comma with a dot, more than one comma, or a comma before exactly three digits."""
    raw = raw.strip()
    if not raw:
        return None
    if "," in raw:
        after = raw.rsplit(",", 1)[1]
        if "." in raw or raw.count(",") > 1 or (len(after) == 3 and _whole(after)):
            raise ValidationFailed(THOUSANDS, details={"field": field})
        raw = raw.replace(",", ".")
    try:
        if "_" in raw:  # float() reads 1_000
            raise ValueError(raw)
        return float(raw)
    except ValueError:
        raise ValidationFailed("Write a number (e.g. 22.9).", details={"field": field}) from None


@router.post("/assessments/answers/{question_id}")
def assessment_answer(
    request: Request,
    question_id: int,
    user: CurrentUser,
    db: DB,
    ip: IP,
    choice: Annotated[str, Form(max_length=4)] = "",
    number: Annotated[str, Form(max_length=60)] = "",
    text: Annotated[str | None, Form(max_length=20_000)] = None,
) -> Response:
    """Save one answer without JavaScript (the page's script uses the JSON route), then go back."""
    try:
        with db.begin_nested():
            keeping_expiry(
                db,
                lambda: assessments.save_answer(
                    db,
                    actor=user,
                    question_id=question_id,
                    choice=int(choice) if _whole(choice) else None,
                    number=_number(number),
                    text=text,
                    ip=ip,
                ),
            )
    except ExpertLoopError as exc:
        if status_for(exc) == 404:
            raise
        return _mine(request, db, user, error=exc.message, status=status_for(exc))
    return RedirectResponse(f"/assessments?saved={question_id}#q-{question_id}", status_code=303)


@router.post("/assessments/submit")
def assessment_submit(request: Request, user: CurrentUser, db: DB, ip: IP) -> Response:
    """Submit the open attempt; after the deadline the page says so (the attempt expired)."""
    try:
        with db.begin_nested():
            keeping_expiry(db, lambda: assessments.submit(db, actor=user, ip=ip))
    except ExpertLoopError as exc:
        if status_for(exc) == 404:
            raise
        return _mine(request, db, user, error=exc.message, status=status_for(exc))
    return RedirectResponse("/assessments", status_code=303)


# --- Operators: a candidate's attempts and grading ----------------------------------------------


def _partial(
    request: Request,
    db: Session,
    user: User,
    candidate_id: int,
    *,
    status: int = 200,
    **extra: Any,
) -> Response:
    views = assessments.for_candidate(db, actor=user, candidate_id=candidate_id)
    # In place (htmx) the partial alone; opened as a page of its own, with the page around it.
    in_place = request.headers.get("HX-Request") == "true"
    graded = request.query_params.get("graded")
    context = {"views": views, "candidate_id": candidate_id, "graded": graded, **extra}
    return render(
        request,
        "experts/_assessments.html" if in_place else "experts/assessment_review.html",
        context,
        status,
    )


@router.get("/candidates/{candidate_id}/assessments")
def candidate_assessments(
    request: Request, candidate_id: int, user: CurrentUser, db: DB
) -> Response:
    """A candidate's attempts with answers, the key and the grading form (operators)."""
    return _partial(request, db, user, candidate_id)


def _grades_from_form(form: dict[str, str]) -> list[assessments.Grade]:
    """Read ``points_<answer id>`` and ``note_<answer id>`` fields (empty points: not graded)."""
    grades: list[assessments.Grade] = []
    for key, raw in form.items():
        if not key.startswith("points_") or not raw.strip():
            continue
        suffix = key.removeprefix("points_")
        if not _whole(suffix):
            continue
        if not _whole(raw):
            raise ValidationFailed("Give whole points (0 or more).", details={"field": key})
        answer_id = int(suffix)
        grades.append(
            assessments.Grade(answer_id, int(raw.strip()), form.get(f"note_{answer_id}", ""))
        )
    return grades


def _grade(
    request: Request, attempt_id: int, user: User, db: Session, ip: str | None, form: dict[str, str]
) -> Response:
    if not policies.can_vet(user):
        raise NotFound("Assessment not found.")
    view = assessments.get_attempt(db, actor=user, attempt_id=attempt_id)
    error = None
    try:
        with db.begin_nested():
            assessments.grade(
                db,
                actor=user,
                attempt_id=attempt_id,
                grades=_grades_from_form(form),
                feedback=form.get("feedback"),
                ip=ip,
            )
    except ExpertLoopError as exc:
        if status_for(exc) == 404:
            raise
        error = exc.message
    if request.headers.get("HX-Request") != "true" and error is None:
        return RedirectResponse(
            f"/candidates/{view.candidate_id}/assessments?graded={attempt_id}#attempt-{attempt_id}",
            status_code=303,
        )
    db.expire_all()
    return _partial(
        request,
        db,
        user,
        view.candidate_id,
        status=422 if error else 200,
        error=error,
        error_attempt=attempt_id if error else None,
        just_graded=attempt_id if error is None else None,
    )


@router.post("/assessment-attempts/{attempt_id}/grade")
async def grade_attempt(
    request: Request, attempt_id: int, user: CurrentUser, db: DB, ip: IP
) -> Response:
    """Save the grades of an attempt's free-text answers and the feedback (in place with htmx)."""
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    return await run_in_threadpool(_grade, request, attempt_id, user, db, ip, form)


@router.get("/assessments/grading")
def grading_queue_page(request: Request, user: CurrentUser, db: DB) -> Response:
    """The attempts waiting for their free-text answers to be graded (operators)."""
    rows = assessments.grading_queue(db, actor=user)
    return render(request, "experts/assessment_grading.html", {"rows": rows})


# --- Operators: question banks -----------------------------------------------------------------


@router.get("/assessment-banks")
def banks_page(request: Request, user: CurrentUser, db: DB) -> Response:
    """Every domain's question bank, with its rules and counts (operators)."""
    banks = question_banks.list_banks(db, actor=user)
    return render(request, "experts/assessment_banks.html", {"banks": banks})


def _bank_page(
    request: Request,
    db: Session,
    user: User,
    bank_id: int,
    *,
    error: str | None = None,
    error_question: int | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    view = question_banks.get_bank(db, actor=user, bank_id=bank_id)
    return render(
        request,
        "experts/assessment_bank.html",
        {
            "view": view,
            "kinds": [k.value for k in QuestionKind],
            "error": error,
            "error_question": error_question,
            "form": form or {},
            "saved": request.query_params.get("saved"),
        },
        status,
    )


@router.get("/assessment-banks/{bank_id}")
def bank_page(request: Request, bank_id: int, user: CurrentUser, db: DB) -> Response:
    """A bank's questions with their keys, a form to add one and to edit each (operators)."""
    return _bank_page(request, db, user, bank_id)


def _draft_from_form(
    kind: str, text: str, choices: str, answer: str, tolerance: str, points: str, explanation: str
) -> QuestionDraft:
    try:
        q_kind = QuestionKind(kind)
    except ValueError:
        raise ValidationFailed("Choose the kind of question.", details={"field": "kind"}) from None
    lines = [c.strip() for c in choices.splitlines() if c.strip()]
    value: float | None = None
    if q_kind == QuestionKind.choice:
        # The form numbers choices from 1, as the candidate sees them.
        if not _whole(answer):
            raise ValidationFailed(
                "Give the number of the correct choice.", details={"field": "answer"}
            )
        value = float(int(answer) - 1)
    elif q_kind == QuestionKind.numeric:
        value = _number(answer, "answer")
    tol = _number(tolerance, "tolerance") if tolerance.strip() else 0.0
    if not _whole(points):
        raise ValidationFailed("Points must be a whole number.", details={"field": "points"})
    return QuestionDraft(
        kind=q_kind,
        text=text,
        choices=lines,
        answer=value,
        tolerance=tol or 0.0,
        points=int(points),
        explanation=explanation,
    )


QuestionForm = Annotated[str, Form(max_length=20_000)]


@router.post("/assessment-banks/{bank_id}/questions")
def bank_add_question(
    request: Request,
    bank_id: int,
    user: CurrentUser,
    db: DB,
    ip: IP,
    kind: Annotated[str, Form(max_length=20)] = "",
    text: QuestionForm = "",
    choices: QuestionForm = "",
    answer: Annotated[str, Form(max_length=60)] = "",
    tolerance: Annotated[str, Form(max_length=60)] = "",
    points: Annotated[str, Form(max_length=4)] = "1",
    explanation: QuestionForm = "",
) -> Response:
    """Add a question; a refusal keeps what was typed, with the reason."""
    question_banks.get_bank(db, actor=user, bank_id=bank_id)  # operators only (404 otherwise)
    try:
        draft = _draft_from_form(kind, text, choices, answer, tolerance, points, explanation)
        with db.begin_nested():
            row = question_banks.add_question(db, actor=user, bank_id=bank_id, draft=draft, ip=ip)
    except ExpertLoopError as exc:
        form = {
            "kind": kind, "text": text, "choices": choices, "answer": answer,
            "tolerance": tolerance, "points": points, "explanation": explanation,
        }  # fmt: skip
        return _bank_page(
            request, db, user, bank_id, error=exc.message, form=form, status=status_for(exc)
        )
    return RedirectResponse(f"/assessment-banks/{bank_id}?saved={row.id}#q-{row.id}", 303)


@router.post("/assessment-questions/{question_id}")
def question_save(
    request: Request,
    question_id: int,
    user: CurrentUser,
    db: DB,
    ip: IP,
    action: Annotated[str, Form(max_length=20)] = "save",
    kind: Annotated[str, Form(max_length=20)] = "",
    text: QuestionForm = "",
    choices: QuestionForm = "",
    answer: Annotated[str, Form(max_length=60)] = "",
    tolerance: Annotated[str, Form(max_length=60)] = "",
    points: Annotated[str, Form(max_length=4)] = "1",
    explanation: QuestionForm = "",
) -> Response:
    """Edit a question, or take it out of (or back into) the draws."""
    row = question_banks.get_question(db, actor=user, question_id=question_id)
    bank_id = row.bank_id
    try:
        if action in ("activate", "deactivate"):
            changes: dict[str, Any] = {"active": action == "activate"}
        else:
            draft = _draft_from_form(kind, text, choices, answer, tolerance, points, explanation)
            changes = {
                name: getattr(draft, name)
                for name in ("kind", "text", "choices", "answer", "tolerance", "points")
            }
            changes["explanation"] = draft.explanation
        with db.begin_nested():
            question_banks.update_question(
                db, actor=user, question_id=question_id, changes=changes, ip=ip
            )
    except ExpertLoopError as exc:
        db.expire_all()
        return _bank_page(
            request,
            db,
            user,
            bank_id,
            error=exc.message,
            error_question=question_id,
            status=status_for(exc),
        )
    return RedirectResponse(f"/assessment-banks/{bank_id}?saved={question_id}#q-{question_id}", 303)
