"""User text at the edge, API and page forms alike: \\r\\n stored as \\n, control characters and
lone surrogates refused with a message naming the field (PostgreSQL refuses NUL outright),
over-long text refused in words; and a prompt over the model's context window ends as a run
whose stored reason says so."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role
from expertloop.llm import endpoints as endpoints_uc
from expertloop.projects import targets
from expertloop.workbench.models import ProblemSet, Step
from tests.factories import World, make_problem_set, make_user, scripted_target

API = "/api/v1"


def new_problem_set(api, world: World, **fields: Any) -> int:  # type: ignore[no-untyped-def]
    body = {"title": "Runway", **fields}
    r = api.post(f"{API}/projects/{world.project_a.id}/problem-sets", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def error(response) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return response.json()["error"]  # type: ignore[no-any-return]


def test_api_stores_crlf_and_lone_cr_as_lf(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    author = login_as(world.expert_a)
    pid = new_problem_set(author, world, statement="Line one\r\nLine two\rLine three")
    r = author.post(
        f"{API}/problem-sets/{pid}/steps",
        json={
            "title": "First",
            "prompt": "Cash: 700k\r\nBurn: 50k\r\nRunway?",
            "rubric": ["a\r\nb"],
        },
    )
    assert r.status_code == 201, r.text
    step = r.json()
    assert step["draft_prompt"] == "Cash: 700k\nBurn: 50k\nRunway?"
    assert step["draft_rubric"] == ["a\nb"]
    revision = author.get(f"{API}/steps/{step['id']}/revisions").json()[-1]
    assert revision["prompt"] == "Cash: 700k\nBurn: 50k\nRunway?"
    db.expire_all()
    ps = db.get(ProblemSet, pid)
    assert ps is not None and ps.statement == "Line one\nLine two\nLine three"
    # A span after the first line break is accepted: offsets count the stored text.
    start = revision["prompt"].index("Burn")
    r = author.post(
        f"{API}/revisions/{revision['id']}/annotations",
        json={
            "start": start,
            "end": start + 4,
            "quote": "Burn",
            "category": "ambiguity",
            "severity": "minor",
            "note": "Per month?\r\nSay so.",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["note"] == "Per month?\nSay so."


def test_nul_is_refused_with_the_field_named(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    author = login_as(world.expert_a)
    r = author.post(
        f"{API}/projects/{world.project_a.id}/problem-sets", json={"title": "Bad\x00title"}
    )
    assert r.status_code == 422
    err = error(r)
    assert err["code"] == "invalid_request"
    assert err["message"] == (
        "Title contains a control character (U+0000) at character 4; remove it and try again."
    )
    (problem,) = err["details"]["problems"]
    assert problem["loc"] == ["body", "title"]
    assert problem["type"] == "control_character"
    assert (problem["code_point"], problem["position"]) == ("U+0000", 4)
    pid = new_problem_set(author, world)
    r = author.post(f"{API}/problem-sets/{pid}/steps", json={"rubric": ["ok", "bad\x1b[0m"]})
    assert r.status_code == 422
    assert error(r)["message"].startswith("Rubric item 2 contains a control character (U+001B)")
    # Nothing reached the database (PostgreSQL would have refused the NUL with a 500).
    db.expire_all()
    assert db.query(Step).filter(Step.problem_set_id == pid).count() == 0


def test_a_lone_surrogate_in_json_is_refused(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    author = login_as(world.expert_a)
    body = b'{"title": "Half \\ud800 a pair"}'
    r = author.post(
        f"{API}/projects/{world.project_a.id}/problem-sets",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert error(r)["message"] == (
        "Title contains an unpaired surrogate (U+D800) at character 6; remove it and try again."
    )


def test_over_long_text_is_refused_in_words(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    author = login_as(world.expert_a)
    pid = new_problem_set(author, world)
    step = author.post(f"{API}/problem-sets/{pid}/steps", json={"prompt": "Q?"}).json()
    revision = author.get(f"{API}/steps/{step['id']}/revisions").json()[-1]
    r = author.post(
        f"{API}/revisions/{revision['id']}/annotations",
        json={"category": "ambiguity", "severity": "minor", "note": "x" * 10_321},
    )
    assert r.status_code == 422
    err = error(r)
    assert err["message"] == "Note is too long: 10,321 characters, at most 10,000."
    (problem,) = err["details"]["problems"]
    assert problem["loc"] == ["body", "note"]
    assert (problem["length"], problem["max_length"]) == (10_321, 10_000)
    # An optional field reports its limit the same way.
    r = author.patch(
        f"{API}/steps/{step['id']}", json={"version": step["version"], "title": "t" * 301}
    )
    assert error(r)["message"] == "Title is too long: 301 characters, at most 300."
    # \r\n counts once: 5,000 characters with Windows line ends fit a 5,000 limit.
    reason = ("x" * 9 + "\r\n") * 500
    r = author.patch(
        f"{API}/steps/{step['id']}", json={"version": step["version"], "draft_prompt": "Q, again?"}
    )
    assert r.status_code == 200, r.text
    r = author.post(f"{API}/steps/{step['id']}/revisions", json={"reason": reason})
    assert r.status_code == 201, r.text
    assert r.json()["reason"] == reason.replace("\r\n", "\n").strip()
    r = author.post(f"{API}/projects/{world.project_a.id}/problem-sets", json={"title": ""})
    assert error(r)["message"] == "Title must not be empty."
    r = author.post(f"{API}/problem-sets/{pid}/steps", json={"rubric": ["c"] * 51})
    assert error(r)["message"] == "Rubric has too many items: 51, at most 50."
    r = author.post(f"{API}/revisions/{revision['id']}/runs", json={"endpoint_id": "x"})
    assert error(r)["message"].startswith("Endpoint id: Input should be a valid integer")


def test_one_line_fields_refuse_line_breaks(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    author = login_as(world.expert_a)
    r = author.post(
        f"{API}/projects/{world.project_a.id}/problem-sets", json={"title": "Two\nlines"}
    )
    assert r.status_code == 422
    assert error(r)["message"] == "Title must be a single line; remove the line break."


def test_page_form_stores_crlf_as_lf(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    ps = make_problem_set(db, world.project_a, world.expert_a, "Forms")
    db.commit()
    author = login_as(world.expert_a)
    r = author.post(
        f"/problem-sets/{ps.id}/steps",
        data={
            "title": "From the page",
            "prompt": "First line\r\nSecond line\r\n",
            "rubric": "One\r\nTwo",
            "reference": "Ref\r\nerence",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    step_id = int(r.headers["location"].rsplit("/", 1)[1])
    db.expire_all()
    step = db.get(Step, step_id)
    assert step is not None
    assert step.draft_prompt == "First line\nSecond line\n"
    assert step.draft_rubric == ["One", "Two"]
    assert step.draft_reference == "Ref\nerence"
    revision = author.get(f"{API}/steps/{step_id}/revisions").json()[-1]
    assert revision["prompt"] == "First line\nSecond line\n"


def test_page_forms_refuse_control_characters_and_keep_the_text(
    login_as, world: World, db: Session
) -> None:  # type: ignore[no-untyped-def]
    ps = make_problem_set(db, world.project_a, world.expert_a, "Forms")
    db.commit()
    author = login_as(world.expert_a)
    r = author.post(
        f"/problem-sets/{ps.id}/steps",
        data={"title": "Kept title", "prompt": "Nul\x00here", "rubric": "Kept criterion"},
        follow_redirects=False,
    )
    assert r.status_code == 422
    assert "Prompt contains a control character (U+0000) at character 4" in r.text
    assert "Kept title" in r.text and "Kept criterion" in r.text
    r = author.post(
        f"/problem-sets/{ps.id}/steps",
        data={"title": "Kept title", "prompt": "p" * 100_001},
        follow_redirects=False,
    )
    assert r.status_code == 422
    assert "Prompt is too long: 100,001 characters, at most 100,000." in r.text
    r = author.post(
        f"/projects/{world.project_a.id}/problem-sets",
        data={"title": "Bad\x07bell", "statement": "Kept statement"},
        follow_redirects=False,
    )
    assert r.status_code == 422
    assert "Title contains a control character (U+0007) at character 4" in r.text
    assert "Kept statement" in r.text


def test_other_page_forms_use_the_same_rule(client, login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    operator = login_as(world.operator)
    r = operator.post(
        "/projects/new",
        data={"name": "Clean", "description": "Has\x00nul", "organisation_id": world.org_a.id},
        follow_redirects=False,
    )
    assert r.status_code == 422
    assert "Description contains a control character (U+0000) at character 4" in r.text
    r = operator.post(
        "/projects/new",
        data={"name": "Line ends", "description": "One\r\nTwo", "organisation_id": world.org_a.id},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    project = operator.get(f"{API}/projects/{r.headers['location'].rsplit('/', 1)[1]}").json()
    assert project["description"] == "One\nTwo"
    # A form field whose limit the framework checks gets the same words on the error page.
    r = operator.post("/account/tokens", data={"name": "n" * 101}, follow_redirects=False)
    assert r.status_code == 422
    assert "Name is too long: 101 characters, at most 100." in r.text
    assert "String should have" not in r.text


@pytest.mark.parametrize("provider", ["local"])
def test_a_prompt_over_the_context_window_is_a_failed_run_that_says_so(  # type: ignore[no-untyped-def]
    provider: str, login_as, app, world: World, db: Session
) -> None:
    operator = make_user(db, Role.operator)
    endpoint = endpoints_uc.add_endpoint(
        session=db,
        actor=operator,
        box=app.state.hub.box,
        policy=app.state.hub.runtime.policy,
        name="SmolLM2 (local)",
        provider=provider,
        model_id="SmolLM2-135M-Instruct",
    )
    targets.set_targets(
        session=db, actor=operator, project=world.project_a, endpoint_ids=[endpoint.id]
    )
    db.commit()
    author = login_as(world.expert_a)
    pid = new_problem_set(author, world)
    # About 12,000 tokens: three times the local model's 4,096-token window.
    prompt = "Forecast the budget line by line. " * 2000
    step = author.post(f"{API}/problem-sets/{pid}/steps", json={"prompt": prompt}).json()
    revision = author.get(f"{API}/steps/{step['id']}/revisions").json()[-1]
    r = author.post(f"{API}/revisions/{revision['id']}/runs", json={"endpoint_id": endpoint.id})
    assert r.status_code == 201, r.text
    run = r.json()["run"]
    assert run["status"] == "failed"
    assert re.fullmatch(
        r"The prompt is longer than the model's context window: [\d,]+ tokens, "
        r"the model allows 4,096\.",
        run["error_reason"],
    ), run["error_reason"]
    tokens = int(run["error_reason"].split(": ")[1].split(" ")[0].replace(",", ""))
    assert tokens > 4096
    stored = author.get(f"{API}/runs/{run['id']}").json()
    assert stored["error_reason"] == run["error_reason"]


def test_a_scripted_target_still_runs_a_normal_prompt(
    login_as, app, world: World, db: Session
) -> None:  # type: ignore[no-untyped-def]
    endpoint = scripted_target(db, app.state.hub, world.project_a, answers={"Q": "A."})
    db.commit()
    author = login_as(world.expert_a)
    pid = new_problem_set(author, world)
    step = author.post(f"{API}/problem-sets/{pid}/steps", json={"prompt": "Q\r\n?"}).json()
    revision = author.get(f"{API}/steps/{step['id']}/revisions").json()[-1]
    r = author.post(f"{API}/revisions/{revision['id']}/runs", json={"endpoint_id": endpoint.id})
    assert r.status_code == 201 and r.json()["run"]["status"] == "ok"
    assert r.json()["run"]["messages"][-1]["content"] == "Q\n?"


def test_malformed_json_is_said_plainly(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    author = login_as(world.expert_a)
    r = author.post(
        f"{API}/projects/{world.project_a.id}/problem-sets",
        content=b'{"title": ',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert error(r)["message"] == "The request body is not valid JSON."
    r = author.post(f"{API}/projects/{world.project_a.id}/problem-sets", json={})
    assert error(r)["message"] == "Title is required."


def test_review_comments_follow_the_same_rule(  # type: ignore[no-untyped-def]
    login_as, app, world: World, db: Session
) -> None:
    from tests.factories import make_step, make_step_run

    endpoint = scripted_target(db, app.state.hub, world.project_a)
    ps = make_problem_set(db, world.project_a, world.expert_a, "Cash runway")
    step = make_step(db, ps, world.expert_a, prompt="How long is the runway?")
    make_step_run(db, step, world.expert_a, endpoint, "Fourteen months.")
    db.commit()
    reviewer = login_as(world.reviewer_a)
    url = f"{API}/steps/{step.id}/comments"
    r = reviewer.post(url, json={"body": "Which\x00burn?"})
    assert r.status_code == 422
    assert error(r)["message"].startswith("Comment contains a control character (U+0000)")
    r = reviewer.post(url, json={"body": "Which burn?\r\nSay it."})
    assert r.status_code == 201, r.text
    assert r.json()["body"] == "Which burn?\nSay it."
    r = reviewer.post(f"/steps/{step.id}/comments", data={"body": "Page\r\nform"})
    assert r.status_code in (200, 303), r.text
    bodies = [c["body"] for c in reviewer.get(url).json()]
    assert bodies[-1] == "Page\nform"
