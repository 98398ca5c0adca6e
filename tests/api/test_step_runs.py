"""The loop on a step through the API with a scripted target model: run (whole and streamed),
annotate spans, score the rubric, revise, diff, ideal answers, chain mode; and heartbeats."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role
from expertloop.llm.models import ModelRun
from expertloop.settings import Settings
from expertloop.types import utcnow
from expertloop.workbench import access as wb_access
from expertloop.workbench import activity, diffs
from expertloop.workbench.models import Heartbeat, StepRun
from tests.factories import World, make_user, scripted_target, staff

API = "/api/v1"
CONTEXT = "Cash in bank: 700k. Monthly burn: 50k."
ANSWER_1 = "The runway is 15 months at the current burn of 50k per month."
ANSWER_2 = "Runway: 14 months (700k cash divided by 50k monthly burn)."
NOTE = "Board note: we have 14 months of runway."
ANSWERS = {"in months": ANSWER_2, "runway": ANSWER_1, "board note": NOTE}


@pytest.fixture
def endpoint_id(db: Session, app, world: World) -> int:  # type: ignore[no-untyped-def]
    endpoint = scripted_target(db, app.state.hub, world.project_a, answers=ANSWERS)
    db.commit()
    return endpoint.id


def sse(response) -> list[tuple[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    events, name = [], ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[6:])))
    return events


def message(response) -> str:  # type: ignore[no-untyped-def]
    return response.json()["error"]["message"]  # type: ignore[no-any-return]


def new_problem_set(api, world: World) -> int:  # type: ignore[no-untyped-def]
    r = api.post(
        f"{API}/projects/{world.project_a.id}/problem-sets",
        json={"title": "Runway", "context": CONTEXT},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def add_step(api, pid: int, **fields: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = api.post(f"{API}/problem-sets/{pid}/steps", json=fields)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def latest_revision(api, step_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return api.get(f"{API}/steps/{step_id}/revisions").json()[-1]  # type: ignore[no-any-return]


def run(api, revision_id: int, endpoint_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = api.post(f"{API}/revisions/{revision_id}/runs", json={"endpoint_id": endpoint_id})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def state(api, step_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return api.get(f"{API}/steps/{step_id}").json()["state"]  # type: ignore[no-any-return]


def stored_messages(db: Session, step_run_id: int) -> list[dict[str, str]]:
    db.expire_all()
    step_run = db.get(StepRun, step_run_id)
    assert step_run is not None
    model_run = db.get(ModelRun, step_run.model_run_id)
    assert model_run is not None
    return list(model_run.messages)


def test_the_loop_from_first_run_to_submission(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, endpoint_id: int
) -> None:
    author = login_as(world.expert_a)
    pid = new_problem_set(author, world)
    s1 = add_step(
        author,
        pid,
        title="Runway",
        prompt="What is our cash runway?",
        rubric=["States the runway in months", "Shows the calculation"],
    )
    s2 = add_step(author, pid, title="Note", prompt="Write the board note.", rubric=["One line"])
    s2 = author.patch(
        f"{API}/steps/{s2['id']}", json={"version": s2["version"], "chain": True}
    ).json()
    assert s2["chain"] is True
    rev1 = latest_revision(author, s1["id"])
    assert (rev1["number"], rev1["rubric"], rev1["reason"]) == (
        1,
        ["States the runway in months", "Shows the calculation"],
        "First version",
    )

    # Chain mode needs every earlier step finished first; nothing is run or stored.
    rev_s2 = latest_revision(author, s2["id"])
    r = author.post(f"{API}/revisions/{rev_s2['id']}/runs", json={"endpoint_id": endpoint_id})
    assert r.status_code == 422
    assert message(r) == (
        "Step 1 has no passing answer or ideal answer yet; finish it first or turn chain mode off."
    )
    assert author.get(f"{API}/steps/{s2['id']}/runs").json() == []

    # Run 1 of revision 1: the context goes before the first prompt.
    sr1 = run(author, rev1["id"], endpoint_id)
    assert (sr1["revision_id"], sr1["chained"], sr1["rubric"]) == (rev1["id"], False, {})
    assert (sr1["run"]["status"], sr1["run"]["answer"]) == ("ok", ANSWER_1)
    assert sr1["run"]["messages"] == [
        {"role": "user", "content": f"Context:\n{CONTEXT}\n\nWhat is our cash runway?"}
    ]
    assert state(author, s1["id"])["label"] == "not passing"

    # Annotate a span: offsets and quote are checked.
    notes = f"{API}/revisions/{rev1['id']}/annotations"
    start = ANSWER_1.index("15 months")
    span = {"step_run_id": sr1["id"], "start": start, "end": start + 9, "severity": "major"}
    bad = [
        ({**span, "quote": "14 months", "category": "calculation_error"}, "does not match"),
        ({**span, "end": len(ANSWER_1) + 1, "category": "calculation_error"}, "outside the text"),
        ({**span, "end": start, "category": "calculation_error"}, "or empty"),
        ({**span, "end": None, "category": "calculation_error"}, "both start and end"),
        ({"step_run_id": sr1["id"], "category": "incomplete", "severity": "minor"}, "Select"),
        ({**span, "category": "ambiguity"}, "Ambiguity is not a category for an answer."),
        ({"category": "factual_error", "severity": "minor"}, "not a category for a prompt"),
        ({**span, "category": "calculation_error", "severity": "fatal"}, None),
        ({**span, "start": -1, "category": "calculation_error"}, None),
    ]
    for body, why in bad:
        r = author.post(notes, json=body)
        assert r.status_code == 422, (body, r.text)
        if why:
            assert why in message(r), (why, message(r))
    major = author.post(
        notes, json={**span, "quote": "15 months", "category": "calculation_error", "note": "14"}
    )
    assert major.status_code == 201, major.text
    assert {k: major.json()[k] for k in ("side", "start", "end", "quote", "severity")} == {
        "side": "response",
        "start": start,
        "end": start + 9,
        "quote": "15 months",
        "severity": "major",
    }
    prompt_note = author.post(
        notes, json={"category": "missing_constraint", "severity": "minor", "note": "Units?"}
    )
    assert prompt_note.status_code == 201
    assert (prompt_note.json()["side"], prompt_note.json()["step_run_id"]) == ("prompt", None)

    # The rubric: every criterion met, but a major fault still blocks passing.
    rubric = f"{API}/step-runs/{sr1['id']}/rubric"
    assert author.put(rubric, json={"criterion": 2, "met": True}).status_code == 422
    author.put(rubric, json={"criterion": 0, "met": False})
    author.put(rubric, json={"criterion": 0, "met": True})  # the last word wins
    scored = author.put(rubric, json={"criterion": 1, "met": True})
    assert scored.status_code == 200 and scored.json()["rubric"] == {"0": True, "1": True}
    assert state(author, s1["id"])["passing"] is False
    assert author.delete(f"{API}/annotations/{major.json()['id']}").status_code == 204
    minor = author.post(notes, json={**span, "category": "calculation_error", "severity": "minor"})
    assert minor.status_code == 201
    st = state(author, s1["id"])
    assert (st["passing"], st["label"], st["passing_step_run_id"]) == (True, "passing", sr1["id"])

    # Revise the prompt because of the annotations; the new revision has no passing run yet.
    step = author.get(f"{API}/steps/{s1['id']}").json()
    r = author.post(f"{API}/steps/{s1['id']}/revisions", json={"reason": "no change"})
    assert r.status_code == 422 and message(r) == "Nothing changed since the last revision."
    author.patch(
        f"{API}/steps/{s1['id']}",
        json={"version": step["version"], "draft_prompt": "What is our cash runway in months?"},
    )
    for foreign in ([999_999], [minor.json()["id"], 999_999]):
        r = author.post(f"{API}/steps/{s1['id']}/revisions", json={"motivated_by": foreign})
        assert r.status_code == 422
        assert message(r) == "The motivating annotations must belong to this step."
    motivated_by = [minor.json()["id"], prompt_note.json()["id"]]
    rev2 = author.post(
        f"{API}/steps/{s1['id']}/revisions",
        json={"reason": "Ask for months", "motivated_by": motivated_by},
    )
    assert rev2.status_code == 201, rev2.text
    rev2 = rev2.json()
    assert (rev2["number"], rev2["prompt"], rev2["motivated_by"]) == (
        2,
        "What is our cash runway in months?",
        sorted(motivated_by),
    )
    assert author.get(f"{API}/revisions/{rev1['id']}").json()["prompt"] == (
        "What is our cash runway?"
    )  # revisions are immutable
    assert state(author, s1["id"])["label"] == "not passing"
    r = author.delete(f"{API}/annotations/{minor.json()['id']}")
    assert r.status_code == 409 and "cites this annotation" in message(r)
    r = author.post(f"{API}/revisions/{rev1['id']}/runs", json={"endpoint_id": endpoint_id})
    assert r.status_code == 422 and message(r) == "Only the newest revision of a step is run."

    # Run revision 2, streamed.
    with author.client.stream(
        "POST",
        f"{API}/revisions/{rev2['id']}/runs/stream",
        json={"endpoint_id": endpoint_id},
        headers={"X-CSRF-Token": author.csrf},
    ) as response:
        assert response.status_code == 200
        events = sse(response)
    names = [name for name, _ in events]
    assert names[0] == "run" and names[-1] == "done" and set(names[1:-1]) == {"delta"}
    sr2_id = events[0][1]["step_run_id"]
    assert "".join(data["text"] for name, data in events if name == "delta") == ANSWER_2
    assert events[-1][1]["status"] == "ok"
    sr2 = author.get(f"{API}/step-runs/{sr2_id}").json()
    assert (sr2["revision_id"], sr2["run"]["answer"], sr2["run"]["id"]) == (
        rev2["id"],
        ANSWER_2,
        events[0][1]["id"],
    )

    # Diffs between the two answers and between the two prompts.
    d = author.get(f"{API}/diff", params={"before_run": sr1["id"], "after_run": sr2_id})
    assert d.status_code == 200, d.text
    ops = [tuple(op) for op in d.json()["ops"]]
    assert diffs.apply(ANSWER_1, ops) == ANSWER_2  # type: ignore[arg-type]
    assert d.json()["added"] > 0 and d.json()["removed"] > 0
    d = author.get(
        f"{API}/diff", params={"before_revision": rev1["id"], "after_revision": rev2["id"]}
    ).json()
    assert d["ops"] == [["=", "What is our cash runway"], ["+", " in months"], ["=", "?"]]
    assert (d["added"], d["removed"]) == (2, 0)
    assert author.get(f"{API}/diff", params={"before_run": sr1["id"]}).status_code == 422

    runs = author.get(f"{API}/steps/{s1['id']}/runs").json()
    assert [(r["id"], r["rubric"]) for r in runs] == [
        (sr1["id"], {"0": True, "1": True}),
        (sr2_id, {}),
    ]
    listed = author.get(f"{API}/steps/{s1['id']}/annotations").json()
    assert [a["id"] for a in listed] == sorted(motivated_by)

    # Revision 2 passes; step 2 now runs chained after step 1's passing answer.
    for criterion in (0, 1):
        author.put(f"{API}/step-runs/{sr2_id}/rubric", json={"criterion": criterion, "met": True})
    assert state(author, s1["id"])["passing_step_run_id"] == sr2_id
    chained = run(author, latest_revision(author, s2["id"])["id"], endpoint_id)
    assert (chained["chained"], chained["run"]["answer"]) == (True, NOTE)
    expected = [
        {"role": "user", "content": f"Context:\n{CONTEXT}\n\nWhat is our cash runway in months?"},
        {"role": "assistant", "content": ANSWER_2},
        {"role": "user", "content": "Write the board note."},
    ]
    assert chained["run"]["messages"] == expected
    assert stored_messages(db, chained["id"]) == expected

    # The ideal answer starts from run 2; its diff to that answer is stored.
    ideal_text = "Runway: 14 months (700k cash divided by 50k monthly burn), before any new hires."
    ideal = author.put(
        f"{API}/steps/{s1['id']}/ideal-answer",
        json={"text": ideal_text, "based_on_step_run_id": sr2_id},
    )
    assert ideal.status_code == 200, ideal.text
    ideal = ideal.json()
    assert (ideal["version"], ideal["based_on_step_run_id"], ideal["revision_id"]) == (
        1,
        sr2_id,
        rev2["id"],
    )
    assert diffs.apply(ANSWER_2, [tuple(op) for op in ideal["diff"]]) == ideal_text  # type: ignore[misc]
    assert ["+", ", before any new hires"] in ideal["diff"]
    assert author.get(f"{API}/steps/{s1['id']}/ideal-answer").json() == ideal
    # Chain mode prefers the expert's ideal answer to the model's.
    again = run(author, latest_revision(author, s2["id"])["id"], endpoint_id)
    assert again["run"]["messages"][1] == {"role": "assistant", "content": ideal_text}

    # Step 2 passes too: the problem set can be submitted.
    r = author.post(f"{API}/problem-sets/{pid}/transitions/submit", json={})
    assert r.status_code == 422 and "step 2" in message(r)
    author.put(f"{API}/step-runs/{again['id']}/rubric", json={"criterion": 0, "met": True})
    r = author.post(f"{API}/problem-sets/{pid}/transitions/submit", json={})
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    assert [s["state"]["done"] for s in r.json()["steps"]] == [True, True]


def test_ideal_answer_must_start_from_a_run_of_its_own_step(  # type: ignore[no-untyped-def]
    login_as, world: World, endpoint_id: int
) -> None:
    author = login_as(world.expert_a)
    pid = new_problem_set(author, world)
    s1 = add_step(author, pid, prompt="What is our runway?")
    s2 = add_step(author, pid, prompt="Board note?")
    sr = run(author, latest_revision(author, s1["id"])["id"], endpoint_id)
    r = author.put(
        f"{API}/steps/{s2['id']}/ideal-answer",
        json={"text": "x", "based_on_step_run_id": sr["id"]},
    )
    assert r.status_code == 422
    assert message(r) == "The ideal answer must start from a run of this step."
    # Written from scratch, the whole text is an addition.
    r = author.put(f"{API}/steps/{s2['id']}/ideal-answer", json={"text": "Two words"})
    assert r.status_code == 200 and r.json()["diff"] == [["+", "Two words"]]
    assert author.get(f"{API}/steps/{s1['id']}/ideal-answer").json() is None


def test_annotation_offsets_count_code_points(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app
) -> None:
    answer = "Marge 👍🏽 e\u0301levée — نعم 利润 12 %"
    endpoint = scripted_target(db, app.state.hub, world.project_a, answers={"marge": answer})
    db.commit()
    author = login_as(world.expert_a)
    pid = new_problem_set(author, world)
    step = add_step(author, pid, prompt="Quelle marge ?")
    rev = latest_revision(author, step["id"])
    sr = run(author, rev["id"], endpoint.id)
    assert sr["run"]["answer"] == answer
    url = f"{API}/revisions/{rev['id']}/annotations"
    for quote in ("👍🏽", "e\u0301levée", "نعم", "利润"):
        start = answer.index(quote)
        body = {
            "step_run_id": sr["id"],
            "start": start,
            "end": start + len(quote),
            "quote": quote,
            "category": "factual_error",
            "severity": "minor",
        }
        r = author.post(url, json=body)
        assert r.status_code == 201, (quote, r.text)
        assert r.json()["quote"] == quote
        # UTF-16 offsets (what a browser counts) for the emoji would not match.
        if quote == "👍🏽":
            r = author.post(url, json={**body, "end": start + 4})
            assert r.status_code == 422
    stored = author.get(f"{API}/steps/{step['id']}/annotations").json()
    assert [answer[a["start"] : a["end"]] for a in stored] == [a["quote"] for a in stored]


def test_runs_need_the_author_and_a_target_model(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app, endpoint_id: int
) -> None:
    other_org_model = scripted_target(
        db, app.state.hub, world.project_b, organisation_id=world.org_b.id
    )
    db.commit()
    author = login_as(world.expert_a)
    pid = new_problem_set(author, world)
    step = add_step(author, pid, prompt="What is our runway?", rubric=["Months"])
    rev = latest_revision(author, step["id"])
    url = f"{API}/revisions/{rev['id']}/runs"
    for body in ({"endpoint_id": other_org_model.id}, {"endpoint_id": 999_999}):
        r = author.post(url, json=body)
        assert r.status_code == 422
        assert message(r) == "This model is not one of the project's target models."
    sr = run(author, rev["id"], endpoint_id)
    for user in (world.reviewer_a, world.client_a, world.operator):
        api = login_as(user)
        r = api.post(url, json={"endpoint_id": endpoint_id})
        assert r.status_code == 403 and message(r) == "Only the author changes a problem set."
        r = api.put(f"{API}/step-runs/{sr['id']}/rubric", json={"criterion": 0, "met": True})
        assert r.status_code == 403
        r = api.post(
            f"{API}/revisions/{rev['id']}/annotations",
            json={"step_run_id": sr["id"], "start": 0, "end": 3}
            | {"category": "factual_error", "severity": "minor"},
        )
        assert r.status_code == 403
        r = api.put(f"{API}/steps/{step['id']}/ideal-answer", json={"text": "x"})
        assert r.status_code == 403
        # ...but they read everything.
        assert api.get(f"{API}/step-runs/{sr['id']}").json()["run"]["answer"] == ANSWER_1
        assert len(api.get(f"{API}/steps/{step['id']}/runs").json()) == 1
        assert api.get(f"{API}/steps/{step['id']}/annotations").status_code == 200
        d = api.get(f"{API}/diff", params={"before_run": sr["id"], "after_run": sr["id"]})
        assert d.status_code == 200 and d.json()["ops"] == [["=", ANSWER_1]]
    # An expert of the same project does not see the author's runs at all.
    colleague = make_user(db, Role.expert)
    staff(db, world.project_a, colleague)
    db.commit()
    api = login_as(colleague)
    assert api.get(f"{API}/step-runs/{sr['id']}").status_code == 404
    assert api.post(url, json={"endpoint_id": endpoint_id}).status_code == 404
    d = api.get(f"{API}/diff", params={"before_run": sr["id"], "after_run": sr["id"]})
    assert d.status_code == 404


def test_references_to_another_organisations_objects_are_refused(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app, endpoint_id: int
) -> None:
    """A's author cannot pull B's runs, annotations or steps into A's problem set."""
    b_model = scripted_target(db, app.state.hub, world.project_b, organisation_id=world.org_b.id)
    db.commit()
    b = login_as(world.expert_b)
    b_pid = b.post(
        f"{API}/projects/{world.project_b.id}/problem-sets", json={"title": "B's"}
    ).json()["id"]
    b_step = add_step(b, b_pid, prompt="B's secret prompt")
    b_sr = run(b, latest_revision(b, b_step["id"])["id"], b_model.id)
    b_note = b.post(
        f"{API}/revisions/{b_sr['revision_id']}/annotations",
        json={"category": "ambiguity", "severity": "minor"},
    ).json()

    author = login_as(world.expert_a)
    pid = new_problem_set(author, world)
    step = add_step(author, pid, prompt="What is our runway?")
    rev = latest_revision(author, step["id"])
    mine = run(author, rev["id"], endpoint_id)
    answers = [
        author.put(
            f"{API}/steps/{step['id']}/ideal-answer",
            json={"text": "x", "based_on_step_run_id": b_sr["id"]},
        ),
        author.post(
            f"{API}/revisions/{rev['id']}/annotations",
            json={"step_run_id": b_sr["id"], "start": 0, "end": 1}
            | {"category": "factual_error", "severity": "minor"},
        ),
        author.post(f"{API}/steps/{step['id']}/revisions", json={"motivated_by": [b_note["id"]]}),
        author.post(f"{API}/problem-sets/{pid}/steps", json={"parent_id": b_step["id"]}),
        author.put(f"{API}/problem-sets/{pid}/step-order", json={"step_ids": [b_step["id"]]}),
        author.get(f"{API}/diff", params={"before_run": mine["id"], "after_run": b_sr["id"]}),
    ]
    for r in answers:
        assert r.status_code in (404, 422), r.text
        assert "B's secret prompt" not in r.text and "Scripted answer" not in r.text
    assert b.get(f"{API}/steps/{b_step['id']}/ideal-answer").json() is None


def test_stale_ideal_answer_save_gets_409_with_the_winner(  # type: ignore[no-untyped-def]
    login_as, world: World
) -> None:
    tab1, tab2 = login_as(world.expert_a), login_as(world.expert_a)
    pid = new_problem_set(tab1, world)
    step = add_step(tab1, pid, prompt="Forecast growth.")
    url = f"{API}/steps/{step['id']}/ideal-answer"
    # Both tabs create it: the second create is a stale save of version 1.
    first = tab1.put(url, json={"text": "Growth 8%."})
    assert first.status_code == 200 and first.json()["version"] == 1
    r = tab2.put(url, json={"text": "Growth 9%."})
    assert r.status_code == 409
    assert r.json()["error"]["details"] == {
        "current_version": 1,
        "current": {"version": 1, "text": "Growth 8%."},
    }
    one = tab1.put(url, json={"text": "Growth 8% (tab one).", "version": 1})
    two = tab2.put(url, json={"text": "Growth 9% (tab two).", "version": 1})
    assert one.status_code == 200 and two.status_code == 409, (one.text, two.text)
    assert two.json()["error"]["details"] == {
        "current_version": 2,
        "current": {"version": 2, "text": "Growth 8% (tab one)."},
    }
    merged = tab2.put(url, json={"text": "Growth 8-9%.", "version": 2})
    assert merged.status_code == 200 and merged.json()["version"] == 3
    assert tab1.get(url).json()["text"] == "Growth 8-9%."


def test_heartbeats_are_deduplicated_and_add_up_within_the_idle_cutoff(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, settings: Settings
) -> None:
    author = login_as(world.expert_a)
    pid = new_problem_set(author, world)
    cutoff = settings.activity_idle_cutoff_seconds
    url = f"{API}/activity/heartbeats"
    body = {"project_id": world.project_a.id, "problem_set_id": pid}

    # Earlier work, recorded at explicit times: gaps up to the cutoff count, longer ones do not.
    access = wb_access.project_access(
        session=db, actor=world.expert_a, project_id=body["project_id"]
    )
    loaded = wb_access.problem_set(session=db, actor=world.expert_a, problem_set_id=pid)
    base = utcnow() - dt.timedelta(hours=3)
    # The problem set began before that work (time before a problem set began never counts).
    loaded.problem_set.created_at = base - dt.timedelta(minutes=1)
    db.flush()
    offsets = [0, 30, 34, 60, 60 + cutoff, 60 + cutoff + cutoff + 1, 60 + 2 * cutoff + 31]
    recorded = [
        activity.record(
            session=db, access=access, loaded=loaded, now=base + dt.timedelta(seconds=s)
        )
        for s in offsets
    ]
    assert [r is not None for r in recorded] == [True, True, False, True, True, True, True]
    assert (
        activity.record(
            session=db, access=access, loaded=loaded, now=base + dt.timedelta(seconds=65)
        )
        is None
    )  # older than the newest beat: within the 5 s window (negative gap)
    db.commit()
    # 0→30, 30→60, 60→60+cutoff count; the gap of cutoff+1 does not; the last 30 s count.
    expected = 30 + 30 + cutoff + 30

    r = author.post(url, json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"recorded": True, "tracked_seconds": expected}
    r = author.post(url, json={**body, "kind": "typing"})  # within 5 s: one beat
    assert r.json() == {"recorded": False, "tracked_seconds": expected}
    db.expire_all()
    beats = db.scalars(select(Heartbeat).where(Heartbeat.user_id == world.expert_a.id)).all()
    assert len(beats) == 7
    assert {b.problem_set_id for b in beats} == {pid}

    # The project total includes this problem set; another project's beats count apart.
    r = author.post(url, json={"project_id": world.project_a.id})
    assert r.json()["recorded"] is False and r.json()["tracked_seconds"] == expected

    # Who may send heartbeats.
    assert author.post(url, json={"project_id": world.project_b.id}).status_code == 404
    assert author.post(url, json={**body, "kind": "idle"}).status_code == 422
    r = login_as(world.client_a).post(url, json={"project_id": world.project_a.id})
    assert r.status_code == 403
    r = login_as(world.reviewer_a).post(url, json=body)
    assert r.status_code == 403 and message(r) == "Time is tracked on your own problem sets."
    colleague = make_user(db, Role.expert)
    staff(db, world.project_a, colleague)
    db.commit()
    assert login_as(colleague).post(url, json=body).status_code == 404
    r = login_as(colleague).post(url, json={"project_id": world.project_a.id})
    assert r.json() == {"recorded": True, "tracked_seconds": 0}


def test_the_newest_passing_run_is_the_one_chain_mode_carries(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, endpoint_id: int
) -> None:
    author = login_as(world.expert_a)
    pid = new_problem_set(author, world)
    step = add_step(
        author, pid, title="Runway", prompt="What is our cash runway?", rubric=["In months"]
    )
    revision = latest_revision(author, step["id"])
    first, second = (run(author, revision["id"], endpoint_id) for _ in range(2))
    for step_run in (first, second):
        r = author.put(
            f"{API}/step-runs/{step_run['id']}/rubric", json={"criterion": 0, "met": True}
        )
        assert r.status_code == 200, r.text
    assert state(author, step["id"])["passing_step_run_id"] == second["id"]
    # A major fault found later on the newest run: the earlier passing run answers again.
    answer = second["run"]["answer"]
    r = author.post(
        f"{API}/revisions/{revision['id']}/annotations",
        json={"step_run_id": second["id"], "start": 0, "end": 3, "quote": answer[:3],
              "category": "factual_error", "severity": "major", "note": "Wrong figure"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert state(author, step["id"])["passing_step_run_id"] == first["id"]
