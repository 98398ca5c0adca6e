"""The model-led interview through the API and pages, on a scripted interviewer model."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.experts import interview_guides
from expertloop.experts.models import Interview, InterviewTurn, VettingState
from expertloop.llm.models import ModelEndpoint, ModelRun
from tests.factories import World
from tests.isolation_interviews import interview_model, make_candidate


def _guide(db: Session, app: Any, question_count: int = 2, **options: Any) -> int:
    endpoint = interview_model(db, app.state.hub, **options)
    interview_guides.ensure_default(db).question_count = question_count
    db.commit()
    return endpoint.id


def _events(text: str) -> list[tuple[str, Any]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = block.split("\n")
        name = lines[0].removeprefix("event: ")
        out.append((name, json.loads(lines[1].removeprefix("data: "))))
    return out


def test_candidate_takes_the_whole_interview_and_operator_reads_the_suggestion(
    login_as, db: Session, app, world: World
) -> None:  # type: ignore[no-untyped-def]
    _guide(db, app)
    user, candidate = make_candidate(db)
    db.commit()
    me = login_as(user)

    started = me.post("/api/v1/interviews")
    assert started.status_code == 201, started.text
    iid = started.json()["id"]
    assert started.json()["next_action"] == "question"
    # Starting again (a reload, a second tab) resumes the same interview.
    assert me.post("/api/v1/interviews").json()["id"] == iid

    stream = me.post(f"/api/v1/interviews/{iid}/questions/stream", json={})
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = _events(stream.text)
    assert events[0] == ("question", {"seq": 1, "model_run_id": events[0][1]["model_run_id"]})
    assert [n for n, _ in events[1:-1]] == ["delta"] * (len(events) - 2)
    done = events[-1][1]
    assert done["error"] is None and done["turn"]["seq"] == 1
    streamed = "".join(d["text"] for n, d in events if n == "delta")
    assert streamed == done["turn"]["text"]
    assert done["interview"]["next_action"] == "answer"

    # Asking again while the question waits sends the same question (no second turn, no run).
    runs_before = db.scalar(select(func.count()).select_from(ModelRun))
    again = me.post(f"/api/v1/interviews/{iid}/questions").json()
    assert again["turn"]["seq"] == 1 and again["turn"]["text"] == done["turn"]["text"]
    assert db.scalar(select(func.count()).select_from(ModelRun)) == runs_before

    # Only the waiting question may be answered; an empty answer is refused.
    assert (
        me.post(
            f"/api/v1/interviews/{iid}/answers", json={"question_seq": 3, "text": "x"}
        ).status_code
        == 409
    )
    assert (
        me.post(
            f"/api/v1/interviews/{iid}/answers", json={"question_seq": 1, "text": ""}
        ).status_code
        == 422
    )
    first = me.post(
        f"/api/v1/interviews/{iid}/answers",
        json={"question_seq": 1, "text": "I would stress-test the covenant headroom."},
    )
    assert first.status_code == 200, first.text
    assert first.json()["answered"] == 1 and first.json()["next_action"] == "question"

    second_q = me.post(f"/api/v1/interviews/{iid}/questions").json()
    # The question follows the previous answer (the scripted model echoes the last user turn).
    assert "covenant headroom" in second_q["turn"]["text"]
    assert second_q["turn"]["seq"] == 3
    last = me.post(
        f"/api/v1/interviews/{iid}/answers",
        json={"question_seq": 3, "text": "Refinance early;\r\nthe spread is widening."},
    ).json()
    assert last["status"] == "completed" and last["next_action"] == "done"
    assert last["turns"][-1]["text"] == "Refinance early;\nthe spread is widening."
    # The candidate sees the transcript, never a score or provenance.
    assert "suggested_score" not in last and "provenance" not in json.dumps(last)

    scored = me.post(f"/api/v1/interviews/{iid}/scoring")
    assert scored.status_code == 200
    assert "suggested_score" not in scored.json()
    # The candidate cannot ask twice (no second model run).
    runs_before = db.scalar(select(func.count()).select_from(ModelRun))
    me.post(f"/api/v1/interviews/{iid}/scoring")
    assert db.scalar(select(func.count()).select_from(ModelRun)) == runs_before

    op = login_as(world.operator)
    view = op.get(f"/api/v1/interviews/{iid}").json()
    assert view["suggested_score"] == 4.1  # (4*4 + 5*3 + 3*2 + 4*1) / 10
    assert view["scoring_status"] == "ok"
    assert view["notice"].startswith("Suggested by Interviewer") and "you decide" in view["notice"]
    assert {c["key"]: c["score"] for c in view["criteria"]} == {
        "knowledge": 4,
        "reasoning": 5,
        "clarity": 3,
        "candour": 4,
    }
    assert view["scoring_raw"].startswith("{")
    assert view["scoring_provenance"]["model_run_id"]
    assert [t["role"] for t in view["turns"]] == ["interviewer", "candidate"] * 2
    assert view["turns"][0]["provenance"]["model_id"] == "scripted-interviewer"
    assert op.get(f"/api/v1/candidates/{candidate.id}/interviews").json()[0]["id"] == iid

    partial = op.get(f"/candidates/{candidate.id}/interview", headers={"HX-Request": "true"})
    assert partial.status_code == 200 and "<html" not in partial.text
    assert "4.1 / 5" in partial.text and "you decide" in partial.text
    assert "covenant headroom" in partial.text
    page = op.get(f"/candidates/{candidate.id}/interview")  # opened on its own: a whole page
    assert "<html" in page.text and "4.1 / 5" in page.text


def test_the_prompt_follows_domain_profile_and_previous_answers(login_as, db: Session, app) -> None:  # type: ignore[no-untyped-def]
    _guide(db, app, question_count=3)
    user, _candidate = make_candidate(db)
    db.commit()
    me = login_as(user)
    iid = me.post("/api/v1/interviews").json()["id"]
    me.post(f"/api/v1/interviews/{iid}/questions")
    me.post(
        f"/api/v1/interviews/{iid}/answers",
        json={"question_seq": 1, "text": "Working-capital forecasting for 200 stores."},
    )
    me.post(f"/api/v1/interviews/{iid}/questions")
    run = db.scalars(select(ModelRun).order_by(ModelRun.id.desc())).first()
    assert run is not None
    system = run.messages[0]["content"]
    assert "Domain: Finance" in system and "Corporate finance" in system
    assert "Head of FP&A" in system and "Twelve years in corporate finance" in system
    assert "This is question 2 of 3." in system
    assert "+44 20" not in json.dumps(run.messages)  # no contact data reaches the model
    assert run.messages[-1] == {
        "role": "user",
        "content": "Working-capital forecasting for 200 stores.",
    }
    assert run.user_id == user.id and run.project_id is None


def test_model_failure_shows_its_reason_and_a_retry_adds_one_turn(
    login_as, db: Session, app
) -> None:  # type: ignore[no-untyped-def]
    endpoint_id = _guide(db, app)
    user, _candidate = make_candidate(db)
    db.commit()
    me = login_as(user)
    iid = me.post("/api/v1/interviews").json()["id"]
    # The model breaks: its endpoint's key cannot be decrypted.
    endpoint = db.get(ModelEndpoint, endpoint_id)
    assert endpoint is not None
    endpoint.api_key_encrypted = "not-a-valid-token"
    db.commit()
    failed = _events(me.post(f"/api/v1/interviews/{iid}/questions/stream").text)[-1][1]
    assert failed["turn"] is None and failed["error"]
    assert db.scalar(select(func.count()).select_from(InterviewTurn)) == 0
    endpoint.api_key_encrypted = None
    db.commit()
    ok = me.post(f"/api/v1/interviews/{iid}/questions").json()
    assert ok["error"] is None and ok["turn"]["seq"] == 1
    assert me.post(f"/api/v1/interviews/{iid}/questions").json()["turn"]["seq"] == 1
    turns = db.scalars(select(InterviewTurn).where(InterviewTurn.interview_id == iid)).all()
    assert len(turns) == 1


def test_malformed_scoring_gives_no_score_with_the_reason(
    login_as, db: Session, app, world: World
) -> None:  # type: ignore[no-untyped-def]
    _guide(db, app, question_count=1, answers={"Score the interview": "I'd say 4 out of 5, {oops"})
    user, candidate = make_candidate(db)
    db.commit()
    me = login_as(user)
    iid = me.post("/api/v1/interviews").json()["id"]
    me.post(f"/api/v1/interviews/{iid}/questions")
    me.post(f"/api/v1/interviews/{iid}/answers", json={"question_seq": 1, "text": "An answer."})
    assert me.post(f"/api/v1/interviews/{iid}/scoring").status_code == 200
    op = login_as(world.operator)
    view = op.get(f"/api/v1/interviews/{iid}").json()
    assert view["suggested_score"] is None and view["scoring_status"] == "unreadable"
    assert view["scoring_error"] == "the model's scoring could not be read"
    assert view["scoring_raw"] == "I'd say 4 out of 5, {oops"
    page = op.get(f"/candidates/{candidate.id}/interview").text
    assert "the model&#39;s scoring could not be read" in page
    # The operator asks again (here the same model, same answer): a new run, still no crash.
    again = op.post(f"/candidates/{candidate.id}/interview/scoring", headers={"HX-Request": "true"})
    assert again.status_code == 200 and "Ask the model again" in again.text


def test_only_the_candidate_at_the_interview_stage_answers(
    login_as, db: Session, app, world: World
) -> None:  # type: ignore[no-untyped-def]
    _guide(db, app)
    user, candidate = make_candidate(db)
    early, _c = make_candidate(db, state=VettingState.assessment)
    db.commit()
    me = login_as(user)
    iid = me.post("/api/v1/interviews").json()["id"]
    me.post(f"/api/v1/interviews/{iid}/questions")
    answer = {"question_seq": 1, "text": "Mine."}
    # Another candidate, another expert, a client: 404; the operator reads but does not answer.
    for other in (login_as(early), login_as(world.expert_a), login_as(world.client_a)):
        assert other.post(f"/api/v1/interviews/{iid}/answers", json=answer).status_code == 404
        assert other.get(f"/api/v1/interviews/{iid}").status_code == 404
        assert other.get(f"/candidates/{candidate.id}/interview").status_code == 404
    op = login_as(world.operator)
    assert op.post(f"/api/v1/interviews/{iid}/answers", json=answer).status_code == 403
    assert op.post(f"/api/v1/interviews/{iid}/questions").status_code == 403
    # A candidate not at the interview stage cannot start one.
    refused = login_as(early).post("/api/v1/interviews")
    assert refused.status_code == 409 and "not at the interview stage" in refused.text
    # Once the operator moves the candidate on, the half-done interview takes no more answers.
    candidate.state = VettingState.paused
    db.commit()
    assert me.post(f"/api/v1/interviews/{iid}/answers", json=answer).status_code == 409
    # Someone who never applied has no interview page.
    assert login_as(world.expert_a).get("/interviews").status_code == 404


def test_guide_edit_makes_a_new_version_and_old_interviews_keep_theirs(
    login_as, db: Session, app, world: World
) -> None:  # type: ignore[no-untyped-def]
    endpoint_id = _guide(db, app)
    user, _candidate = make_candidate(db)
    db.commit()
    me = login_as(user)
    iid = me.post("/api/v1/interviews").json()["id"]
    op = login_as(world.operator)
    listing = op.get("/api/v1/interview-guides").json()
    v1 = listing["items"][0]
    assert listing["total"] == 1 and v1["version"] == 1
    body = {
        "base_version": 1,
        "system_prompt": "Interview like a bank's credit committee.",
        "scoring_prompt": v1["scoring_prompt"],
        "rubric": [{"key": "credit", "title": "Credit judgement", "weight": 2}],
        "question_count": 3,
        "endpoint_id": endpoint_id,
    }
    saved = op.post("/api/v1/interview-guides", json=body)
    assert saved.status_code == 201, saved.text
    assert saved.json()["version"] == 2
    # A stale edit (from version 1 again) is refused with the current version.
    stale = op.post("/api/v1/interview-guides", json=body)
    assert stale.status_code == 409 and stale.json()["error"]["details"]["version"] == 2
    # The interview begun on version 1 keeps it (and its two questions).
    assert me.get(f"/api/v1/interviews/{iid}").json()["guide_version"] == 1
    assert me.get(f"/api/v1/interviews/{iid}").json()["question_count"] == 2
    me.post(f"/api/v1/interviews/{iid}/questions")
    run = db.scalars(select(ModelRun).order_by(ModelRun.id.desc())).first()
    assert run is not None and "credit committee" not in run.messages[0]["content"]
    # A new candidate's interview starts on version 2.
    other, _c = make_candidate(db)
    db.commit()
    assert login_as(other).post("/api/v1/interviews").json()["guide_version"] == 2
    # Experts and clients cannot read or edit guides.
    for outsider in (me, login_as(world.client_a)):
        assert outsider.get("/api/v1/interview-guides").status_code == 404
        assert outsider.post("/api/v1/interview-guides", json=body).status_code == 404
        assert outsider.get("/interview-guides").status_code == 404


def test_guide_page_saves_a_version_and_keeps_a_refused_draft(
    login_as, db: Session, app, world: World
) -> None:  # type: ignore[no-untyped-def]
    endpoint_id = _guide(db, app)
    op = login_as(world.operator)
    page = op.get("/interview-guides")
    assert page.status_code == 200 and "Save as version 2" in page.text
    assert "knowledge | Domain knowledge | 4 |" in page.text
    form = {
        "csrf_token": op.csrf,
        "base_version": "1",
        "system_prompt": "Ask about audits.",
        "scoring_prompt": "Score it.",
        "rubric": "audit | Audit depth | 3 | Knows the standards\nbad line",
        "question_count": "4",
        "endpoint_id": str(endpoint_id),
    }
    refused = op.post("/interview-guides", data=form)
    assert refused.status_code == 422 and "Rubric line 2" in refused.text
    assert "Ask about audits." in refused.text  # what was typed is kept
    form["rubric"] = "audit | Audit depth | 3 | Knows the standards"
    saved = op.post("/interview-guides", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    guide = interview_guides.current(db)
    db.refresh(guide)  # type: ignore[arg-type]
    assert guide is not None and guide.version == 2 and guide.question_count == 4
    assert guide.rubric == [
        {"key": "audit", "title": "Audit depth", "description": "Knows the standards", "weight": 3}
    ]
    old = op.get(f"/interview-guides/{guide.id - 1}")
    assert old.status_code == 200 and "Domain knowledge" in old.text


def test_interview_cannot_start_without_an_interviewer_model(login_as, db: Session) -> None:  # type: ignore[no-untyped-def]
    interview_guides.ensure_default(db).endpoint_id = None
    user, _candidate = make_candidate(db)
    db.commit()
    refused = login_as(user).post("/api/v1/interviews")
    assert refused.status_code == 409 and "no interviewer model" in refused.text
    assert db.scalar(select(func.count()).select_from(Interview)) == 0


def test_candidate_page_shows_start_then_the_interview(login_as, db: Session, app) -> None:  # type: ignore[no-untyped-def]
    _guide(db, app)
    user, _candidate = make_candidate(db)
    waiting, _c = make_candidate(db, state=VettingState.applied)
    db.commit()
    me = login_as(user)
    page = me.get("/interviews")
    assert page.status_code == 200 and "Start the interview" in page.text
    started = me.post("/interviews", data={"csrf_token": me.csrf}, follow_redirects=False)
    assert started.status_code == 303
    page = me.get("/interviews").text
    assert 'data-next="question"' in page and "/static/js/interview.js" in page
    other = login_as(waiting).get("/interviews")
    assert other.status_code == 200 and "Start the interview" not in other.text
    assert "An operator reviews your profile" in other.text
