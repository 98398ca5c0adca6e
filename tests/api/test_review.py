"""Review comments, review settings and since-return through the JSON API and the step page:
who may comment, who reads, clear refusals, audit, and the pages that show them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.events import AuditLog
from expertloop.llm.models import ModelEndpoint
from expertloop.review.models import ReturnedStep, ReviewReturn
from expertloop.workbench.models import ProblemSet, Step, StepRun
from tests.factories import (
    World,
    make_problem_set,
    make_step,
    make_step_run,
    scripted_target,
)

API = "/api/v1"
ANSWER = "The runway is 14 months at a burn of 50k per month."


@pytest.fixture
def setup(db: Session, app, world: World) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A's expert has a problem set with one run step."""
    endpoint: ModelEndpoint = scripted_target(db, app.state.hub, world.project_a)
    ps: ProblemSet = make_problem_set(db, world.project_a, world.expert_a, "Cash runway")
    step: Step = make_step(db, ps, world.expert_a, prompt="How long is the runway?")
    run: StepRun = make_step_run(db, step, world.expert_a, endpoint, ANSWER)
    db.commit()
    return {"ps": ps.id, "step": step.id, "run": run.id, "revision": run.revision_id}


def test_a_reviewer_comments_the_author_reads_on_step_and_home(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, setup: dict[str, Any]
) -> None:
    reviewer = login_as(world.reviewer_a)
    url = f"{API}/steps/{setup['step']}/comments"
    r = reviewer.post(
        url, json={"body": "Which burn?", "step_run_id": setup["run"], "quote": "50k"}
    )
    assert r.status_code == 201, r.text
    made = r.json()
    at = ANSWER.index("50k")
    assert (made["target"], made["start"], made["end"], made["quote"]) == (
        "response",
        at,
        at + 3,
        "50k",
    )
    r = reviewer.post(url, json={"body": "Good step.", "step_run_id": None})
    assert r.status_code == 201 and r.json()["target"] == "step"

    author = login_as(world.expert_a)
    listed = author.get(url).json()
    assert [c["body"] for c in listed] == ["Which burn?", "Good step."]
    assert listed[0]["author_name"] == world.reviewer_a.name
    home = author.get(f"{API}/me/review-comments").json()
    assert [c["body"] for c in home] == ["Good step.", "Which burn?"]
    assert home[0]["problem_set_title"] == "Cash runway"
    page = author.get(f"/steps/{setup['step']}")
    assert page.status_code == 200
    assert "Which burn?" in page.text and 'data-testid="comment-quote">50k</mark>' in page.text
    assert "data-comment-form" not in page.text  # the author reads, does not review
    reviewer_page = reviewer.get(f"/steps/{setup['step']}")
    assert "data-comment-form" in reviewer_page.text
    db.expire_all()
    kinds = db.scalars(select(AuditLog.kind).where(AuditLog.kind == "review.comment_added")).all()
    assert len(kinds) == 2


def test_refusals_are_clear_and_nothing_is_stored(  # type: ignore[no-untyped-def]
    login_as, world: World, setup: dict[str, Any]
) -> None:
    url = f"{API}/steps/{setup['step']}/comments"
    reviewer = login_as(world.reviewer_a)
    cases = [
        ({"body": "x", "step_run_id": setup["run"], "quote": "not there"}, 422, "not in that"),
        (
            {"body": "x", "step_run_id": setup["run"], "start": 0, "end": 3, "quote": "Xyz"},
            422,
            "does not match",
        ),
        ({"body": "bad\u0000"}, 422, "control character"),
        ({"body": ""}, 422, ""),
        ({"body": "x", "revision_id": 10**9}, 422, "not a revision of this step"),
    ]
    for body, code, words in cases:
        r = reviewer.post(url, json=body)
        assert r.status_code == code, (body, r.text)
        assert "Traceback" not in r.text
        if words:
            assert words in r.json()["error"]["message"], r.text
    author = login_as(world.expert_a)
    r = author.post(url, json={"body": "self review"})
    assert r.status_code == 403 and "own problem set" in r.json()["error"]["message"]
    client = login_as(world.client_a)
    assert client.post(url, json={"body": "client"}).status_code == 403
    assert author.get(url).json() == []


def test_clients_read_comments_only_when_the_project_allows(  # type: ignore[no-untyped-def]
    login_as, world: World, setup: dict[str, Any]
) -> None:
    login_as(world.reviewer_a).post(
        f"{API}/steps/{setup['step']}/comments", json={"body": "Visible to the client?"}
    )
    client = login_as(world.client_a)
    settings_url = f"{API}/projects/{world.project_a.id}/review-settings"
    assert client.get(settings_url).json() == {
        "project_id": world.project_a.id,
        "clients_see_comments": False,
    }
    assert client.get(f"{API}/steps/{setup['step']}/comments").status_code == 403
    page = client.get(f"/steps/{setup['step']}")
    assert page.status_code == 200 and "Visible to the client?" not in page.text
    assert client.get(f"/steps/{setup['step']}/comments").status_code == 404
    # The reviewer and the expert do not decide what the client sees.
    for who in (world.reviewer_a, world.expert_a):
        r = login_as(who).put(settings_url, json={"clients_see_comments": True})
        assert r.status_code == 403
    r = client.put(settings_url, json={"clients_see_comments": True})
    assert r.status_code == 200 and r.json()["clients_see_comments"] is True
    assert len(client.get(f"{API}/steps/{setup['step']}/comments").json()) == 1
    assert "Visible to the client?" in client.get(f"/steps/{setup['step']}").text


def test_the_page_form_adds_in_place_and_keeps_the_text_on_refusal(  # type: ignore[no-untyped-def]
    login_as, world: World, setup: dict[str, Any]
) -> None:
    reviewer = login_as(world.reviewer_a)
    url = f"/steps/{setup['step']}/comments"
    hx = {"HX-Request": "true"}
    r = reviewer.post(
        url,
        data={"body": "Typed <b>text</b>", "target": f"run:{setup['run']}", "quote": "absent"},
        headers=hx,
    )
    assert r.status_code == 422
    assert "not in that answer" in r.text
    assert "Typed &lt;b&gt;text&lt;/b&gt;" in r.text and "<b>text</b>" not in r.text
    r = reviewer.post(
        url,
        data={"body": "Month count?", "target": f"run:{setup['run']}", "quote": "14"},
        headers=hx,
    )
    assert r.status_code == 200 and "Comment added." in r.text
    assert 'id="review-comments"' in r.text and "Month count?" in r.text
    r = reviewer.post(url, data={"body": "x", "target": "run:abc"}, headers=hx)
    assert r.status_code == 422 and "Choose what the comment is on" in r.text
    # Without htmx the form posts and comes back to the comment on the step page.
    r = reviewer.post(url, data={"body": "Plain post"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/steps/{setup['step']}#")


def test_since_return_shows_the_reviewer_what_changed(  # type: ignore[no-untyped-def]
    login_as, world: World, setup: dict[str, Any]
) -> None:
    author, reviewer = login_as(world.expert_a), login_as(world.reviewer_a)
    step, ps = setup["step"], setup["ps"]
    ideal = f"{API}/steps/{step}/ideal-answer"
    assert author.put(ideal, json={"text": "Runway: 14 months."}).status_code in (200, 201)
    act = f"{API}/problem-sets/{ps}/transitions"
    assert author.post(f"{act}/submit", json={}).status_code == 200
    r = reviewer.post(f"{act}/return", json={"comment": "Say which burn rate."})
    assert r.status_code == 200, r.text
    since = f"{API}/problem-sets/{ps}/since-return"
    assert reviewer.get(since).status_code == 404  # not resubmitted yet
    version = author.get(ideal).json()["version"]
    r = author.put(ideal, json={"text": "Runway: 14 months at 50k a month.", "version": version})
    assert r.status_code == 200, r.text
    assert author.post(f"{act}/submit", json={}).status_code == 200
    body = reviewer.get(since).json()
    (only,) = body["steps"]
    assert only["kind"] == "changed" and only["ideal_changed"] and not only["prompt_changed"]
    assert ["+", " at 50k a month"] in only["ideal_diff"]
    assert body["comment"] == "Say which burn rate."
    assert author.get(since).status_code == 404  # for reviewers
    page = reviewer.get(f"/problem-sets/{ps}")
    assert 'data-testid="since-return"' in page.text and "<ins> at 50k a month</ins>" in page.text
    assert 'data-testid="since-return"' not in author.get(f"/problem-sets/{ps}").text


def test_a_return_from_the_page_records_the_steps_too(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, setup: dict[str, Any]
) -> None:
    author, reviewer = login_as(world.expert_a), login_as(world.reviewer_a)
    ps = setup["ps"]
    author.put(f"{API}/steps/{setup['step']}/ideal-answer", json={"text": "Then."})
    assert author.post(f"{API}/problem-sets/{ps}/transitions/submit", json={}).status_code == 200
    r = reviewer.post(
        f"/problem-sets/{ps}/actions/return",
        data={"comment": "From the page."},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    db.expire_all()
    (ret,) = db.scalars(select(ReviewReturn).where(ReviewReturn.problem_set_id == ps)).all()
    assert ret.comment == "From the page."
    (then,) = db.scalars(select(ReturnedStep).where(ReturnedStep.return_id == ret.id)).all()
    assert (then.step_id, then.ideal_text, then.revision_number) == (setup["step"], "Then.", 1)
