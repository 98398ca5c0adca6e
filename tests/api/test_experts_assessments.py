"""Domain assessments through the JSON API and the pages: a candidate takes one (resume, draft
answers, submit), the server refuses answers after the deadline and retakes in the cool-down,
nothing of the key reaches the candidate before grading, an operator grades the free text, and
operators keep the banks."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from expertloop.errors import ValidationFailed
from expertloop.experts.models import (
    AssessmentAnswer,
    AssessmentAttempt,
    AssessmentBank,
    AssessmentQuestion,
    AttemptStatus,
)
from expertloop.types import utcnow
from expertloop.web.pages import experts_assessments as pages
from tests.factories import World
from tests.isolation_assessments import QUESTIONS, assessment_candidate, make_bank

SECRETS = [str(q["explanation"]) for q in QUESTIONS]


def _right(item: dict[str, Any], db: Session) -> dict[str, Any]:
    q = db.get(AssessmentQuestion, item["question_id"])
    assert q is not None
    if q.kind.value == "choice":
        return {"choice": int(q.answer or 0)}
    if q.kind.value == "numeric":
        return {"number": 22.86}
    return {"text": "Sensitivity: how often the test finds the disease in those who have it."}


def _no_key(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    body_keys = re.findall(
        r'"(correct_choice|correct_number|explanation|awarded)":\s*([^,}]+)', text
    )
    assert all(value.strip() == "null" for _k, value in body_keys), body_keys


def _backdate_deadline(db: Session, attempt_id: int) -> None:
    db.execute(
        update(AssessmentAttempt)
        .where(AssessmentAttempt.id == attempt_id)
        .values(deadline_at=utcnow() - dt.timedelta(seconds=1))
    )
    db.commit()


def test_candidate_takes_the_assessment_and_the_operator_grades_it(
    login_as, db: Session, world: World
) -> None:  # type: ignore[no-untyped-def]
    make_bank(db, pass_percent=70)
    user, candidate = assessment_candidate(db)
    db.commit()
    me = login_as(user)
    op = login_as(world.operator)

    before = me.get("/api/v1/me/assessment")
    assert before.status_code == 200, before.text
    assert before.json()["can_start"] is True and before.json()["current"] is None
    assert before.json()["bank"]["question_count"] == 4

    started = me.post("/api/v1/me/assessment/start")
    assert started.status_code == 200, started.text
    attempt = started.json()
    assert attempt["status"] == "in_progress" and len(attempt["items"]) == 4
    assert 590 <= attempt["seconds_left"] <= 600
    _no_key(started.text)
    # Starting again (a reload, a second tab) resumes the same attempt.
    assert me.post("/api/v1/me/assessment/start").json()["id"] == attempt["id"]

    for item in attempt["items"]:
        url = f"/api/v1/me/assessment/answers/{item['question_id']}"
        saved = me.put(url, json=_right(item, db))
        assert saved.status_code == 200, saved.text
        _no_key(saved.text)
        again = me.put(url, json=_right(item, db))  # idempotent
        assert again.status_code == 200
    assert db.scalar(select(func.count()).select_from(AssessmentAnswer)) == 4
    assert me.put("/api/v1/me/assessment/answers/999999", json={"text": "x"}).status_code == 404

    submitted = me.post("/api/v1/me/assessment/submit")
    assert submitted.status_code == 200, submitted.text
    body = submitted.json()
    assert body["status"] == "submitted" and body["waiting_for_grading"] is True
    assert body["score"] is None
    _no_key(submitted.text)
    page = me.get("/assessments")
    assert page.status_code == 200 and 'data-testid="waiting"' in page.text
    _no_key(page.text)
    assert me.post("/api/v1/me/assessment/submit").json()["id"] == body["id"]  # double click

    # The operator sees the key and grades the written answer.
    queue = op.get("/api/v1/assessments/grading").json()
    assert [r["attempt_id"] for r in queue] == [body["id"]] and queue[0]["to_grade"] == 1
    attempts = op.get(f"/api/v1/candidates/{candidate.id}/assessments").json()
    assert attempts[0]["items"][0]["revealed"] is True
    free = next(i for i in attempts[0]["items"] if i["kind"] == "free_text")
    assert free["explanation"] == QUESTIONS[3]["explanation"]
    too_many = op.post(f"/api/v1/assessment-answers/{free['answer_id']}/grade", json={"points": 3})
    assert too_many.status_code == 422
    assert (
        me.post(
            f"/api/v1/assessment-answers/{free['answer_id']}/grade", json={"points": 2}
        ).status_code
        == 404
    )
    graded = op.post(
        f"/api/v1/assessment-attempts/{body['id']}/grades",
        json={
            "grades": [{"answer_id": free["answer_id"], "points": 2, "note": "Clear."}],
            "feedback": "Well done.",
        },
    )
    assert graded.status_code == 200, graded.text
    assert graded.json()["status"] == "graded" and graded.json()["score"] == 6
    assert op.get("/api/v1/assessments/grading").json() == []

    mine = me.get("/api/v1/me/assessment").json()["current"]
    assert mine["score"] == 6 and mine["max_score"] == 6 and mine["passed"] is True
    assert mine["feedback"] == "Well done."
    assert {i["explanation"] for i in mine["items"]} == set(SECRETS)
    shown = me.get("/assessments").text
    assert "6 of 6 points" in shown and "Well done." in shown and "Clear." in shown
    # Grading moved nothing in the pipeline.
    assert op.get(f"/api/v1/candidates/{candidate.id}").json()["candidate"]["state"] == (
        "assessment"
    )
    # The retake waits for the cool-down.
    refused = me.post("/api/v1/me/assessment/start")
    assert refused.status_code == 409
    assert "opens_at" in refused.json()["error"]["details"]


def test_answers_after_the_time_limit_are_refused_by_the_server(
    login_as, db: Session, world: World
) -> None:  # type: ignore[no-untyped-def]
    _bank, rows = make_bank(db)
    user, _candidate = assessment_candidate(db)
    db.commit()
    me = login_as(user)
    attempt = me.post("/api/v1/me/assessment/start").json()
    choice_q = next(q for q in rows if q.text == "Which organ pumps blood?")
    free_q = next(q for q in rows if q.kind.value == "free_text")
    assert (
        me.put(f"/api/v1/me/assessment/answers/{choice_q.id}", json={"choice": 1}).status_code
        == 200
    )
    assert (
        me.put(f"/api/v1/me/assessment/answers/{free_q.id}", json={"text": "In time"}).status_code
        == 200
    )
    _backdate_deadline(db, attempt["id"])

    late = me.put(f"/api/v1/me/assessment/answers/{free_q.id}", json={"text": "Too late"})
    assert late.status_code == 409, late.text
    assert late.json()["error"]["details"]["status"] == "expired"
    db.expire_all()
    row = db.get(AssessmentAttempt, attempt["id"])
    assert row is not None and row.status == AttemptStatus.expired  # the expiry was kept
    answer = db.scalar(select(AssessmentAnswer).where(AssessmentAnswer.question_id == free_q.id))
    assert answer is not None and answer.text == "In time"
    assert me.post("/api/v1/me/assessment/submit").status_code == 409
    page_late = me.post(
        f"/assessments/answers/{free_q.id}", data={"text": "late", "csrf_token": me.csrf}
    )
    assert page_late.status_code == 409 and "time limit passed" in page_late.text
    mine = me.get("/api/v1/me/assessment").json()
    assert mine["current"]["timed_out"] is True and mine["current"]["waiting_for_grading"]
    assert mine["can_start"] is False and mine["opens_at"] is not None


def test_an_expired_attempt_is_closed_on_submit_and_cooldown_blocks_the_page(
    login_as, db: Session, world: World
) -> None:  # type: ignore[no-untyped-def]
    only_choice = [q for q in QUESTIONS if q["kind"].value == "choice"]
    make_bank(db, questions=only_choice, cooldown_hours=48)
    user, _candidate = assessment_candidate(db)
    db.commit()
    me = login_as(user)
    attempt = me.post("/api/v1/me/assessment/start").json()
    _backdate_deadline(db, attempt["id"])
    assert me.post("/api/v1/me/assessment/submit").status_code == 409
    db.expire_all()
    row = db.get(AssessmentAttempt, attempt["id"])
    assert row is not None and row.status == AttemptStatus.graded and row.score == 0
    page = me.get("/assessments")
    assert 'data-testid="blocked"' in page.text and "48-hour pause" in page.text
    refused = me.post("/assessments/start", data={"csrf_token": me.csrf})
    assert refused.status_code == 409 and "again from" in refused.text


def test_others_get_404_and_non_candidates_have_no_assessment(
    login_as, db: Session, world: World
) -> None:  # type: ignore[no-untyped-def]
    make_bank(db)
    user, candidate = assessment_candidate(db)
    db.commit()
    me = login_as(user)
    attempt = me.post("/api/v1/me/assessment/start").json()
    other, _ = assessment_candidate(db)
    db.commit()
    them = login_as(other)
    assert them.get(f"/api/v1/assessment-attempts/{attempt['id']}").status_code == 404
    assert me.get(f"/api/v1/assessment-attempts/{attempt['id']}").status_code == 200
    for who in (world.client_a, world.expert_a, world.reviewer_a):
        api = login_as(who)
        assert api.get("/api/v1/me/assessment").status_code == 404
        assert api.get(f"/api/v1/candidates/{candidate.id}/assessments").status_code == 404
        assert api.get("/assessments").status_code == 404
        assert api.get("/api/v1/assessment-banks").status_code == 404


def test_operators_keep_the_banks(login_as, db: Session, world: World) -> None:  # type: ignore[no-untyped-def]
    op = login_as(world.operator)
    installed = op.post("/api/v1/assessment-banks/install")
    assert installed.status_code == 200 and installed.json()["banks_created"] >= 4
    assert op.post("/api/v1/assessment-banks/install").json()["questions_created"] == 0
    banks = op.get("/api/v1/assessment-banks").json()
    medicine = next(b for b in banks if b["domain"] == "medicine")
    assert medicine["active_questions"] >= 8 and medicine["by_kind"]["free_text"] >= 1
    detail = op.get(f"/api/v1/assessment-banks/{medicine['id']}").json()
    assert len(detail["questions"]) == medicine["total_questions"]
    added = op.post(
        f"/api/v1/assessment-banks/{medicine['id']}/questions",
        json={
            "kind": "numeric",
            "text": "Normal adult resting heart rate upper bound?",
            "answer": 100,
            "tolerance": 0,
        },
    )
    assert added.status_code == 201, added.text
    qid = added.json()["id"]
    bad = op.post(
        f"/api/v1/assessment-banks/{medicine['id']}/questions",
        json={"kind": "choice", "text": "One choice only", "choices": ["a"], "answer": 0},
    )
    assert bad.status_code == 422
    off = op.patch(f"/api/v1/assessment-questions/{qid}", json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    rules = op.patch(f"/api/v1/assessment-banks/{medicine['id']}", json={"question_count": 4})
    assert rules.status_code == 200 and rules.json()["question_count"] == 4
    created = op.post("/api/v1/assessment-banks", json={"domain": "physics", "title": "Physics"})
    assert created.status_code == 201
    assert (
        op.post("/api/v1/assessment-banks", json={"domain": "physics", "title": "X"}).status_code
        == 409
    )
    # The pages.
    assert "Medicine" in op.get("/assessment-banks").text
    page = op.get(f"/assessment-banks/{medicine['id']}")
    assert page.status_code == 200 and "Normal adult resting heart rate" in page.text
    form = {
        "csrf_token": op.csrf, "kind": "choice", "text": "Which is a beta blocker?",
        "choices": "Amlodipine\nBisoprolol\nRamipril", "answer": "2", "points": "1",
        "explanation": "Bisoprolol is a cardioselective beta blocker.",
    }  # fmt: skip
    made = op.post(f"/assessment-banks/{medicine['id']}/questions", data=form)
    assert made.status_code == 200 and "Question saved" in made.text  # after the redirect
    row = db.scalar(
        select(AssessmentQuestion).where(AssessmentQuestion.text == "Which is a beta blocker?")
    )
    assert row is not None and row.answer == 1.0 and row.choices[1] == "Bisoprolol"
    refused = op.post(f"/assessment-banks/{medicine['id']}/questions", data={**form, "answer": "9"})
    assert refused.status_code == 422 and "Which is a beta blocker?" in refused.text
    toggled = op.post(
        f"/assessment-questions/{row.id}", data={"csrf_token": op.csrf, "action": "deactivate"}
    )
    assert toggled.status_code == 200
    db.expire_all()
    assert db.get(AssessmentQuestion, row.id).active is False  # type: ignore[union-attr]
    assert db.scalar(select(func.count()).select_from(AssessmentBank)) >= 5


def test_operator_grades_in_place_on_the_candidate_page(
    login_as, db: Session, world: World
) -> None:  # type: ignore[no-untyped-def]
    make_bank(db)
    user, candidate = assessment_candidate(db)
    db.commit()
    me = login_as(user)
    attempt = me.post("/api/v1/me/assessment/start").json()
    for item in attempt["items"]:
        me.put(f"/api/v1/me/assessment/answers/{item['question_id']}", json=_right(item, db))
    me.post("/api/v1/me/assessment/submit")
    op = login_as(world.operator)
    whole = op.get(f"/candidates/{candidate.id}/assessments")
    assert (
        whole.status_code == 200
        and "<html" in whole.text
        and "Sensitivity: how often" in whole.text
    )
    partial = op.get(f"/candidates/{candidate.id}/assessments", headers={"HX-Request": "true"})
    assert partial.status_code == 200 and "<html" not in partial.text
    answer_id = re.search(r'name="points_(\d+)"', partial.text)
    assert answer_id is not None
    bad = op.post(
        f"/assessment-attempts/{attempt['id']}/grade",
        data={"csrf_token": op.csrf, f"points_{answer_id.group(1)}": "7"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 422 and "from 0 to 2" in bad.text
    done = op.post(
        f"/assessment-attempts/{attempt['id']}/grade",
        data={
            "csrf_token": op.csrf,
            f"points_{answer_id.group(1)}": "1",
            f"note_{answer_id.group(1)}": "No example given.",
            "feedback": "Good facts.",
        },
        headers={"HX-Request": "true"},
    )
    assert done.status_code == 200 and "<html" not in done.text
    assert "5 of 6" in done.text and 'data-testid="grade-saved"' in done.text
    assert "5 of 6 points" in me.get("/assessments").text
    assert op.get("/assessments/grading").status_code == 200


def test_the_page_works_without_javascript(login_as, db: Session, world: World) -> None:  # type: ignore[no-untyped-def]
    _bank, rows = make_bank(db)
    user, _candidate = assessment_candidate(db)
    db.commit()
    me = login_as(user)
    page = me.get("/assessments")
    assert page.status_code == 200 and 'data-testid="start-assessment"' in page.text
    started = me.post("/assessments/start", data={"csrf_token": me.csrf})
    assert started.status_code == 200 and 'data-testid="timer"' in started.text
    assert 'data-testid="question"' in started.text
    _no_key(started.text)
    by_text = {q.text: q for q in rows}
    answers = {
        "Which organ pumps blood?": {"choice": "1"},
        "Which vessel carries blood away from the heart?": {"choice": "1"},  # wrong: Vein
        "What is 70 / 1.75², to one decimal?": {"number": "22,9"},  # a decimal comma
        "Explain sensitivity to a patient.": {"text": "How often it finds the disease."},
    }
    for text, form in answers.items():
        q = by_text[text]
        saved = me.post(f"/assessments/answers/{q.id}", data={"csrf_token": me.csrf, **form})
        assert saved.status_code == 200, saved.text
        assert f"saved={q.id}#q-{q.id}" in str(saved.url)
    bad = me.post(
        f"/assessments/answers/{by_text['What is 70 / 1.75², to one decimal?'].id}",
        data={"csrf_token": me.csrf, "number": "about twenty"},
    )
    assert bad.status_code == 422 and "Write a number" in bad.text
    done = me.post("/assessments/submit", data={"csrf_token": me.csrf})
    assert done.status_code == 200 and 'data-testid="waiting"' in done.text
    attempt = db.scalar(select(AssessmentAttempt).order_by(AssessmentAttempt.id.desc()))
    assert attempt is not None and attempt.status == AttemptStatus.submitted
    points = {
        a.question_id: a.points
        for a in db.scalars(
            select(AssessmentAnswer).where(AssessmentAnswer.attempt_id == attempt.id)
        )
    }
    assert points == {
        by_text["Which organ pumps blood?"].id: 1,
        by_text["Which vessel carries blood away from the heart?"].id: 0,
        by_text["What is 70 / 1.75², to one decimal?"].id: 2,
        by_text["Explain sensitivity to a patient."].id: None,
    }


def test_a_failed_attempt_reveals_no_key_or_explanation(
    login_as, db: Session, world: World
) -> None:  # type: ignore[no-untyped-def]
    make_bank(db, pass_percent=70)
    user, candidate = assessment_candidate(db)
    db.commit()
    me = login_as(user)
    op = login_as(world.operator)
    assert me.post("/api/v1/me/assessment/start").status_code == 200
    done = me.post("/api/v1/me/assessment/submit")  # empty: graded at once, 0 points
    assert done.status_code == 200 and done.json()["status"] == "graded"
    assert done.json()["passed"] is False
    for text in (done.text, me.get("/api/v1/me/assessment").text):
        for secret in SECRETS:
            assert secret not in text
        keys = re.findall(
            r'"(correct_choice|correct_number|tolerance|explanation)":\s*([^,}]+)', text
        )
        assert keys and all(v.strip() == "null" for _k, v in keys), keys
    items = me.get("/api/v1/me/assessment").json()["current"]["items"]
    assert all(i["revealed"] is True and i["awarded"] == 0 for i in items)
    page = me.get("/assessments").text
    assert "0 of 6 points" in page and 'data-testid="key-withheld"' in page
    for secret in SECRETS:
        assert secret not in page
    # The operator sees the key.
    attempts = op.get(f"/api/v1/candidates/{candidate.id}/assessments").json()
    assert {i["explanation"] for i in attempts[0]["items"]} == set(SECRETS)


def test_numbers_with_thousands_separators_and_unicode_digits_are_refused_cleanly() -> None:
    assert pages._number("22,86") == 22.86 and pages._number(" 22.9 ") == 22.9
    assert pages._number("-0,5") == -0.5 and pages._number("") is None
    for raw in ("1,000", "1,000.5", "1.000,5", "1,000,000", "12,345"):
        with pytest.raises(ValidationFailed) as info:
            pages._number(raw)
        assert "without thousands separators" in info.value.message, raw
    for raw in ("²", "1_000", "about twenty"):
        with pytest.raises(ValidationFailed) as info:
            pages._number(raw)
        assert "Write a number" in info.value.message, raw
    with pytest.raises(ValidationFailed):
        pages._grades_from_form({"points_1": "²"})
    assert pages._grades_from_form({"points_²": "1"}) == []
    for answer, points in (("²", "1"), ("1", "²")):
        with pytest.raises(ValidationFailed):
            pages._draft_from_form("choice", "Which?", "a\nb", answer, "", points, "")


def test_the_answer_form_refuses_1_000_and_survives_unicode_digits(
    login_as, db: Session, world: World
) -> None:  # type: ignore[no-untyped-def]
    _bank, rows = make_bank(db)
    user, _ = assessment_candidate(db)
    db.commit()
    me = login_as(user)
    me.post("/assessments/start", data={"csrf_token": me.csrf})
    numeric = next(q for q in rows if q.kind.value == "numeric")
    choice = next(q for q in rows if q.kind.value == "choice")
    bad = me.post(
        f"/assessments/answers/{numeric.id}", data={"csrf_token": me.csrf, "number": "1,000"}
    )
    assert bad.status_code == 422 and "without thousands separators" in bad.text
    odd = me.post(f"/assessments/answers/{choice.id}", data={"csrf_token": me.csrf, "choice": "²"})
    assert odd.status_code == 200
