"""Problem sets through the API: every status transition and every permission, optimistic
concurrency of the autosaved texts, and the project's fault taxonomy."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from expertloop import events
from expertloop.accounts.models import Role
from expertloop.projects.models import StaffRole
from expertloop.workbench.taxonomy import DEFAULT_CATEGORIES
from tests.factories import World, make_user, scripted_target, staff

API = "/api/v1"
RUNWAY = "The runway is 14 months at a burn of 50k per month."


@pytest.fixture
def endpoint_id(db: Session, app, world: World) -> int:  # type: ignore[no-untyped-def]
    """A scripted target model of project A."""
    endpoint = scripted_target(db, app.state.hub, world.project_a, answers={"runway": RUNWAY})
    db.commit()
    return endpoint.id


def create(api, project_id: int, **fields: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = api.post(
        f"{API}/projects/{project_id}/problem-sets", json={"title": "Cash runway", **fields}
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def add_step(api, ps_id: int, **fields: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = api.post(f"{API}/problem-sets/{ps_id}/steps", json=fields)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def act(api, ps_id: int, action: str, **body: Any):  # type: ignore[no-untyped-def]
    return api.post(f"{API}/problem-sets/{ps_id}/transitions/{action}", json=body)


def first_revision(api, step_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    revisions = api.get(f"{API}/steps/{step_id}/revisions").json()
    return revisions[-1]  # type: ignore[no-any-return]


def run_once(api, step_id: int, endpoint_id: int) -> None:  # type: ignore[no-untyped-def]
    """Run the step's newest revision once (an ideal answer counts only after a run)."""
    rev = first_revision(api, step_id)
    r = api.post(f"{API}/revisions/{rev['id']}/runs", json={"endpoint_id": endpoint_id})
    assert r.status_code == 201, r.text


def message(response) -> str:  # type: ignore[no-untyped-def]
    return response.json()["error"]["message"]  # type: ignore[no-any-return]


def transitions(db: Session, ps_id: int) -> list[tuple[str, str, str, int | None]]:
    """The audited transitions of a problem set, oldest first."""
    db.expire_all()
    rows = events.recent(session=db, kind="workbench.problem_set_transitioned", limit=500)
    return [
        (r.data["action"], r.data["from_status"], r.data["to_status"], r.actor_user_id)
        for r in reversed(rows)
        if r.subject_type == "problem_set" and r.subject_id == str(ps_id)
    ]


def test_every_transition_through_review_and_back(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, endpoint_id: int
) -> None:
    author, reviewer = login_as(world.expert_a), login_as(world.reviewer_a)
    ps = create(author, world.project_a.id, context="Cash 700k; burn 50k a month.")
    pid = ps["id"]
    assert (ps["status"], ps["actions"], ps["can_edit"]) == ("draft", ["start", "submit"], True)

    r = act(author, pid, "submit")
    assert r.status_code == 422 and message(r) == "Add at least one step before submitting."
    r = act(author, pid, "start")
    assert r.status_code == 200 and r.json()["status"] == "in_progress"
    r = act(author, pid, "start")
    assert r.status_code == 409
    assert message(r) == "A problem set that is in progress cannot be started."
    assert r.json()["error"]["details"] == {"status": "in_progress"}

    s1 = add_step(author, pid, prompt="What is our runway?", rubric=["Months", "Shows burn"])
    s2 = add_step(author, pid, prompt="Draft the board note.", rubric=["Two lines"])
    r = act(author, pid, "submit")
    assert r.status_code == 422
    assert "step 1 (revision 1 has not been run), step 2 (revision 1 has not been run)" in (
        message(r)
    )
    assert r.json()["error"]["details"]["unfinished"] == [
        "step 1 (revision 1 has not been run)",
        "step 2 (revision 1 has not been run)",
    ]

    # Step 1 passes: a run whose every criterion is met.
    rev1 = first_revision(author, s1["id"])
    run = author.post(f"{API}/revisions/{rev1['id']}/runs", json={"endpoint_id": endpoint_id})
    assert run.status_code == 201, run.text
    sr = run.json()["id"]
    for criterion in (0, 1):
        scored = author.put(f"{API}/step-runs/{sr}/rubric", json={"criterion": criterion, "met": 1})
        assert scored.status_code == 200, scored.text
    states = [s["state"] for s in author.get(f"{API}/problem-sets/{pid}").json()["steps"]]
    assert [(s["number"], s["passing"], s["label"]) for s in states] == [
        ("1", True, "passing"),
        ("2", False, "not passing"),
    ]
    r = act(author, pid, "submit")
    assert r.status_code == 422 and "step 2" in message(r) and "step 1" not in message(r)

    # Step 2 is done with an ideal answer instead, once its final revision was run.
    r = author.put(f"{API}/steps/{s2['id']}/ideal-answer", json={"text": "Runway: 14 months."})
    assert r.status_code == 200, r.text
    r = act(author, pid, "submit")
    assert r.status_code == 422 and "step 2 (revision 1 has not been run)" in message(r)
    run_once(author, s2["id"], endpoint_id)
    current = author.get(f"{API}/problem-sets/{pid}").json()
    r = act(author, pid, "submit", version=current["version"] - 1)
    assert (
        r.status_code == 409
        and r.json()["error"]["details"]["current_version"] == (current["version"])
    )
    r = act(author, pid, "submit", version=current["version"])
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["status"], out["actions"], out["can_edit"]) == ("submitted", [], False)
    assert out["submitted_at"] is not None

    # Submitted: the author can change nothing, nor review their own work.
    _assert_author_locked_out(author, pid, s1["id"], rev1["id"], sr, endpoint_id, "submitted")
    r = act(author, pid, "start_review")
    assert r.status_code == 403
    assert message(r) == "Only operators and the project's reviewers review problem sets."

    view = reviewer.get(f"{API}/problem-sets/{pid}").json()
    assert view["actions"] == ["start_review", "accept", "return"] and view["can_edit"] is False
    assert act(reviewer, pid, "submit").status_code == 403  # author only
    r = act(reviewer, pid, "start_review")
    assert r.status_code == 200 and r.json()["status"] == "in_review"
    assert r.json()["actions"] == ["accept", "return"]
    r = act(reviewer, pid, "start_review")
    assert r.status_code == 409
    assert message(r) == "A problem set that is in review cannot be taken into review."
    _assert_author_locked_out(author, pid, s1["id"], rev1["id"], sr, endpoint_id, "in review")

    for blank in ("", "   "):
        r = act(reviewer, pid, "return", comment=blank)
        assert r.status_code == 422
        assert message(r) == "Say what to change when returning a problem set."
    r = act(reviewer, pid, "return", comment="Step 2 needs the figures.")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["review_comment"]) == (
        "returned",
        "Step 2 needs the figures.",
    )

    # The author sees the comment and resubmits.
    seen = author.get(f"{API}/problem-sets/{pid}").json()
    assert seen["review_comment"] == "Step 2 needs the figures."
    assert (seen["actions"], seen["can_edit"]) == (["submit"], True)
    assert act(author, pid, "start").status_code == 409  # returned is not a draft
    r = act(author, pid, "submit")
    assert r.status_code == 200 and r.json()["status"] == "submitted"

    r = act(reviewer, pid, "accept", comment="Clear and complete.")
    assert r.status_code == 200, r.text
    done = r.json()
    assert (done["status"], done["review_comment"], done["actions"]) == (
        "accepted",
        "Clear and complete.",
        [],
    )
    assert done["accepted_at"] is not None
    _assert_author_locked_out(author, pid, s1["id"], rev1["id"], sr, endpoint_id, "accepted")
    for who, action in ((reviewer, "accept"), (reviewer, "return"), (author, "submit")):
        r = act(who, pid, action, comment="again")
        assert r.status_code == 409, (action, r.text)
        assert message(r).startswith("A problem set that is accepted cannot be")

    # Each transition, and only the ones that happened, is in the audit log.
    e, rv = world.expert_a.id, world.reviewer_a.id
    assert transitions(db, pid) == [
        ("start", "draft", "in_progress", e),
        ("submit", "in_progress", "submitted", e),
        ("start_review", "submitted", "in_review", rv),
        ("return", "in_review", "returned", rv),
        ("submit", "returned", "submitted", e),
        ("accept", "submitted", "accepted", rv),
    ]
    db.expire_all()
    returned = next(
        r
        for r in events.recent(session=db, kind="workbench.problem_set_transitioned")
        if r.data["action"] == "return" and r.subject_id == str(pid)
    )
    assert returned.data["comment"] == "Step 2 needs the figures."
    assert returned.organisation_id == world.org_a.id


def _assert_author_locked_out(  # type: ignore[no-untyped-def]
    author, pid: int, step_id: int, revision_id: int, step_run_id: int, endpoint_id: int, state: str
) -> None:
    """Every change the author could make is refused with 403 and a clear message."""
    ps = author.get(f"{API}/problem-sets/{pid}").json()
    step = author.get(f"{API}/steps/{step_id}").json()
    attempts = [
        ("PATCH", f"/problem-sets/{pid}", {"version": ps["version"], "title": "Changed"}),
        ("POST", f"/problem-sets/{pid}/steps", {"prompt": "One more"}),
        ("PUT", f"/problem-sets/{pid}/step-order", {"step_ids": [s["id"] for s in ps["steps"]]}),
        ("PATCH", f"/steps/{step_id}", {"version": step["version"], "draft_prompt": "Changed"}),
        ("DELETE", f"/steps/{step_id}", None),
        ("POST", f"/steps/{step_id}/revisions", {"reason": "x"}),
        ("POST", f"/revisions/{revision_id}/runs", {"endpoint_id": endpoint_id}),
        ("POST", f"/revisions/{revision_id}/runs/stream", {"endpoint_id": endpoint_id}),
        ("PUT", f"/step-runs/{step_run_id}/rubric", {"criterion": 0, "met": False}),
        (
            "POST",
            f"/revisions/{revision_id}/annotations",
            {"step_run_id": step_run_id, "start": 0, "end": 3, "category": "incomplete"}
            | {"severity": "minor"},
        ),
        (
            "POST",
            f"/revisions/{revision_id}/annotations",
            {"category": "ambiguity"} | {"severity": "minor"},
        ),
        ("PUT", f"/steps/{step_id}/ideal-answer", {"text": "Changed", "version": 1}),
    ]
    for method, url, body in attempts:
        r = author.request(method, API + url, json=body)
        assert r.status_code == 403, (method, url, r.status_code, r.text)
        assert message(r) == f"The problem set is {state}; its author cannot change it now."
    after = author.get(f"{API}/problem-sets/{pid}").json()
    assert after["title"] == ps["title"] and after["version"] == ps["version"]
    assert len(author.get(f"{API}/steps/{step_id}/runs").json()) == 1


def test_work_moves_draft_and_returned_into_progress_with_an_audit_event(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, endpoint_id: int
) -> None:
    author, reviewer = login_as(world.expert_a), login_as(world.reviewer_a)
    pid = create(author, world.project_a.id)["id"]
    step = add_step(author, pid, prompt="Forecast growth.")
    run_once(author, step["id"], endpoint_id)
    ps = author.get(f"{API}/problem-sets/{pid}").json()
    assert ps["status"] == "in_progress"
    assert author.put(f"{API}/steps/{step['id']}/ideal-answer", json={"text": "8%"}).is_success
    assert act(author, pid, "submit").status_code == 200
    assert act(reviewer, pid, "return", comment="Explain the 8%.").status_code == 200
    ps = author.get(f"{API}/problem-sets/{pid}").json()
    r = author.patch(
        f"{API}/problem-sets/{pid}", json={"version": ps["version"], "statement": "Why 8%?"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["statement"]) == ("in_progress", "Why 8%?")
    assert r.json()["review_comment"] == "Explain the 8%."  # kept for the author to read
    assert act(author, pid, "submit").status_code == 200
    assert [t[:3] for t in transitions(db, pid)] == [
        ("start", "draft", "in_progress"),
        ("submit", "in_progress", "submitted"),
        ("return", "submitted", "returned"),
        ("resume", "returned", "in_progress"),
        ("submit", "in_progress", "submitted"),
    ]


def test_unknown_action_and_missing_problem_set(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    author = login_as(world.expert_a)
    pid = create(author, world.project_a.id)["id"]
    assert act(author, pid, "publish").status_code == 422
    assert act(author, 999_999, "start").status_code == 404
    assert author.get(f"{API}/problem-sets/999999").status_code == 404


def test_create_and_validate(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    author = login_as(world.expert_a)
    ps = create(author, world.project_a.id, statement="S", persona="executive")
    assert (ps["author_id"], ps["persona"], ps["domain"], ps["version"]) == (
        world.expert_a.id,
        "executive",
        "finance",  # the project's domain by default
        1,
    )
    url = f"{API}/projects/{world.project_a.id}/problem-sets"
    assert author.post(url, json={"title": ""}).status_code == 422
    assert author.post(url, json={"title": "   "}).status_code == 422
    assert author.post(url, json={"title": "x", "persona": "ceo"}).status_code == 422
    r = author.patch(f"{API}/problem-sets/{ps['id']}", json={"version": 1, "title": " "})
    assert r.status_code == 422 and message(r) == "The problem set needs a title."


def test_who_sees_and_who_changes_a_problem_set(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session
) -> None:
    colleague = make_user(db, Role.expert)  # another expert on the same project
    staff(db, world.project_a, colleague)
    unstaffed_reviewer = make_user(db, Role.reviewer)  # a reviewer of another project
    other_project_reviewer = make_user(db, Role.reviewer)
    staff(db, world.project_b, other_project_reviewer)
    reviewer_as_expert = make_user(db, Role.reviewer)  # staffed, but not as a reviewer
    staff(db, world.project_a, reviewer_as_expert, StaffRole.expert)
    db.commit()
    author = login_as(world.expert_a)
    ps = create(author, world.project_a.id, title="Author's own")
    pid = ps["id"]
    step = add_step(author, pid, prompt="Estimate churn.", rubric=["A number"])
    rev = first_revision(author, step["id"])
    lst = f"{API}/projects/{world.project_a.id}/problem-sets"

    # Hidden (404): other experts of the project, reviewers not staffed as reviewers on it,
    # and everyone of organisation B.
    for user in (
        colleague,
        reviewer_as_expert,
        unstaffed_reviewer,
        other_project_reviewer,
        world.client_b,
        world.expert_b,
    ):
        api = login_as(user)
        for method, url, body in (
            ("GET", f"/problem-sets/{pid}", None),
            ("PATCH", f"/problem-sets/{pid}", {"version": 1, "title": "x"}),
            ("POST", f"/problem-sets/{pid}/transitions/accept", {}),
            ("POST", f"/problem-sets/{pid}/transitions/return", {"comment": "x"}),
            ("POST", f"/problem-sets/{pid}/steps", {"prompt": "x"}),
            ("GET", f"/steps/{step['id']}", None),
            ("GET", f"/steps/{step['id']}/revisions", None),
            ("GET", f"/revisions/{rev['id']}", None),
            ("GET", f"/steps/{step['id']}/ideal-answer", None),
        ):
            r = api.request(method, API + url, json=body)
            assert r.status_code == 404, (user.email, method, url, r.text)
            assert "Author's own" not in r.text and "Estimate churn" not in r.text
        listed = api.get(lst)
        if user in (colleague, reviewer_as_expert):
            assert listed.status_code == 200 and listed.json()["items"] == []
        else:
            assert listed.status_code == 404

    # The colleague writes their own problem set, which the author does not see either.
    mine = create(login_as(colleague), world.project_a.id, title="Colleague's")
    assert author.get(f"{API}/problem-sets/{mine['id']}").status_code == 404
    assert [p["title"] for p in author.get(lst).json()["items"]] == ["Author's own"]

    # Read-only viewers: the owning client, the staffed reviewer, the operator.
    for user in (world.client_a, world.reviewer_a, world.operator):
        api = login_as(user)
        view = api.get(f"{API}/problem-sets/{pid}")
        assert view.status_code == 200 and view.json()["can_edit"] is False
        assert {p["title"] for p in api.get(lst).json()["items"]} == {"Author's own", "Colleague's"}
        assert api.get(f"{API}/steps/{step['id']}").status_code == 200
        assert api.get(f"{API}/revisions/{rev['id']}").json()["prompt"] == "Estimate churn."
        for method, url, body in (
            ("PATCH", f"/problem-sets/{pid}", {"version": view.json()["version"], "title": "x"}),
            ("POST", f"/problem-sets/{pid}/steps", {"prompt": "x"}),
            ("PATCH", f"/steps/{step['id']}", {"version": step["version"], "title": "x"}),
            ("POST", f"/problem-sets/{pid}/transitions/start", {}),
            ("POST", f"/problem-sets/{pid}/transitions/submit", {}),
        ):
            r = api.request(method, API + url, json=body)
            assert r.status_code == 403, (user.email, method, url, r.text)
        # Reviewing needs a submitted problem set; the client never reviews.
        r = act(api, pid, "accept")
        if user == world.client_a:
            assert r.status_code == 403
            assert message(r) == "Only operators and the project's reviewers review problem sets."
        else:
            assert r.status_code == 409
    assert author.get(f"{API}/problem-sets/{pid}").json()["title"] == "Author's own"

    # Who may start a problem set: staffed users and operators; not the client.
    r = login_as(world.client_a).post(lst, json={"title": "x"})
    assert r.status_code == 403
    assert message(r) == "Only the experts staffed on the project write problem sets."
    assert login_as(world.operator).post(lst, json={"title": "Ops"}).status_code == 201
    assert login_as(world.reviewer_a).post(lst, json={"title": "Rev"}).status_code == 201
    assert login_as(world.expert_b).post(lst, json={"title": "x"}).status_code == 404


def test_operator_and_staffed_reviewer_review(login_as, world: World, endpoint_id: int) -> None:  # type: ignore[no-untyped-def]
    author = login_as(world.expert_a)
    operator = login_as(world.operator)
    ids = []
    for _ in range(2):
        pid = create(author, world.project_a.id)["id"]
        step = add_step(author, pid, prompt="Q?")
        run_once(author, step["id"], endpoint_id)
        author.put(f"{API}/steps/{step['id']}/ideal-answer", json={"text": "A."})
        assert act(author, pid, "submit").status_code == 200
        ids.append(pid)
    assert operator.get(f"{API}/problem-sets/{ids[0]}").json()["actions"] == [
        "start_review",
        "accept",
        "return",
    ]
    assert act(operator, ids[0], "accept").json()["status"] == "accepted"
    assert act(operator, ids[1], "return", comment="More.").json()["status"] == "returned"
    # The owning client reads the outcome but cannot review.
    client = login_as(world.client_a)
    assert client.get(f"{API}/problem-sets/{ids[1]}").json()["review_comment"] == "More."
    assert act(client, ids[1], "return", comment="x").status_code == 403
    listed = client.get(f"{API}/projects/{world.project_a.id}/problem-sets?status=accepted")
    assert [p["id"] for p in listed.json()["items"]] == [ids[0]]
    assert listed.json()["total"] == 1


def test_stale_problem_set_save_gets_409_with_the_winner(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    tab1, tab2 = login_as(world.expert_a), login_as(world.expert_a)
    ps = create(tab1, world.project_a.id, statement="Original")
    url = f"{API}/problem-sets/{ps['id']}"
    first = tab1.patch(url, json={"version": ps["version"], "statement": "Tab one's text"})
    second = tab2.patch(url, json={"version": ps["version"], "statement": "Tab two's text"})
    assert first.status_code == 200 and second.status_code == 409, (first.text, second.text)
    winner = first.json()
    assert winner["version"] == ps["version"] + 1
    details = second.json()["error"]["details"]
    assert details["current_version"] == winner["version"]
    assert details["current"]["statement"] == "Tab one's text"
    assert details["current"]["title"] == "Cash runway"
    # Nothing lost: the loser merges onto the current version and saves.
    merged = "Tab one's text\nTab two's text"
    again = tab2.patch(url, json={"version": details["current_version"], "statement": merged})
    assert again.status_code == 200 and again.json()["statement"] == merged
    assert tab1.get(url).json()["statement"] == merged


def test_stale_step_draft_save_gets_409_with_the_winner(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    tab1, tab2 = login_as(world.expert_a), login_as(world.expert_a)
    pid = create(tab1, world.project_a.id)["id"]
    step = add_step(tab1, pid, prompt="First prompt", rubric=["One"])
    url = f"{API}/steps/{step['id']}"
    first = tab1.patch(
        url,
        json={"version": step["version"], "draft_prompt": "Tab one", "draft_rubric": ["A", " "]},
    )
    second = tab2.patch(url, json={"version": step["version"], "draft_prompt": "Tab two"})
    assert first.status_code == 200 and second.status_code == 409, (first.text, second.text)
    assert first.json()["draft_rubric"] == ["A"]  # empty criteria dropped
    details = second.json()["error"]["details"]
    assert details["current_version"] == first.json()["version"] == step["version"] + 1
    assert details["current"]["draft_prompt"] == "Tab one"
    assert details["current"]["draft_rubric"] == ["A"]
    again = tab2.patch(url, json={"version": details["current_version"], "draft_prompt": "Both"})
    assert again.status_code == 200 and again.json()["draft_prompt"] == "Both"
    assert again.json()["draft_rubric"] == ["A"]  # the fields not sent are kept


def test_steps_outline_reorder_and_delete(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app
) -> None:
    author = login_as(world.expert_a)
    pid = create(author, world.project_a.id)["id"]
    other_pid = create(author, world.project_a.id)["id"]
    a = add_step(author, pid, title="A", prompt="a?")
    b = add_step(author, pid, title="B")
    a1 = add_step(author, pid, title="A.1", parent_id=a["id"])
    r = author.post(f"{API}/problem-sets/{pid}/steps", json={"parent_id": a1["id"]})
    assert r.status_code == 422 and message(r) == "Sub-steps go one level deep."
    r = author.post(f"{API}/problem-sets/{other_pid}/steps", json={"parent_id": a["id"]})
    assert r.status_code == 422 and message(r) == "The parent step is not in this problem set."
    # A step without a prompt has no revision yet; one with a prompt has revision 1.
    assert author.get(f"{API}/steps/{b['id']}/revisions").json() == []
    assert [r["number"] for r in author.get(f"{API}/steps/{a['id']}/revisions").json()] == [1]

    def outline() -> list[tuple[str, str, str]]:
        steps = author.get(f"{API}/problem-sets/{pid}").json()["steps"]
        return [(s["state"]["number"], s["title"], s["state"]["label"]) for s in steps]

    assert outline() == [
        ("1", "A", "not passing"),
        ("1.1", "A.1", "no prompt yet"),
        ("2", "B", "no prompt yet"),
    ]
    order = f"{API}/problem-sets/{pid}/step-order"
    assert author.put(order, json={"step_ids": [b["id"], a["id"]]}).status_code == 204
    assert [n for n, _t, _l in outline()] == ["1", "2", "2.1"]
    assert [t for _n, t, _l in outline()] == ["B", "A", "A.1"]
    for bad in ([a["id"], a1["id"]], [a["id"]], [a["id"], a["id"]], [a["id"], 999_999]):
        assert author.put(order, json={"step_ids": bad}).status_code == 422, bad

    # A step with sub-steps or with runs stays; an unrun leaf goes.
    r = author.delete(f"{API}/steps/{a['id']}")
    assert r.status_code == 409 and message(r) == "Delete or move the sub-steps first."
    assert author.delete(f"{API}/steps/{a1['id']}").status_code == 204
    endpoint = scripted_target(db, app.state.hub, world.project_a)
    db.commit()
    rev = first_revision(author, a["id"])
    run = author.post(f"{API}/revisions/{rev['id']}/runs", json={"endpoint_id": endpoint.id})
    assert run.status_code == 201
    r = author.delete(f"{API}/steps/{a['id']}")
    assert r.status_code == 409 and "has runs" in message(r)
    assert author.delete(f"{API}/steps/{b['id']}").status_code == 204
    assert author.get(f"{API}/steps/{b['id']}").status_code == 404
    assert [t for _n, t, _l in outline()] == ["A"]


def test_taxonomy_defaults_versions_and_permissions(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    url = f"{API}/projects/{world.project_a.id}/taxonomy"
    expert, client = login_as(world.expert_a), login_as(world.client_a)
    defaults = expert.get(url)
    assert defaults.status_code == 200
    assert defaults.json()["version"] == 0
    keys = [c["key"] for c in defaults.json()["categories"]]
    assert keys == [c["key"] for c in DEFAULT_CATEGORIES] and len(keys) == 11
    assert {c["side"] for c in defaults.json()["categories"]} == {"response", "prompt"}
    assert all(c["description"] for c in defaults.json()["categories"])

    mine = [
        {"key": "wrong_tax_rule", "label": "Wrong tax rule", "side": "response"},
        {"key": "ambiguity", "label": "Ambiguity", "side": "prompt", "description": "Unclear."},
    ]
    for who in (world.expert_a, world.reviewer_a):
        r = login_as(who).put(url, json={"version": 0, "categories": mine})
        assert r.status_code == 403
        assert message(r) == "Only the project's client and operators edit its taxonomy."
    r = client.put(url, json={"version": 0, "categories": mine})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1
    assert [c["key"] for c in expert.get(url).json()["categories"]] == [
        "wrong_tax_rule",
        "ambiguity",
    ]
    stale = login_as(world.operator).put(url, json={"version": 0, "categories": mine[:1]})
    assert stale.status_code == 409 and stale.json()["error"]["details"] == {"current_version": 1}
    r = login_as(world.operator).put(url, json={"version": 1, "categories": mine[:1]})
    assert r.status_code == 200 and r.json()["version"] == 2
    for bad in (
        [],
        [{"key": "Bad Key", "label": "x", "side": "response"}],
        [
            {"key": "a", "label": "x", "side": "response"},
            {"key": "a", "label": "y", "side": "prompt"},
        ],
        [{"key": "a", "label": "x", "side": "elsewhere"}],
    ):
        assert client.put(url, json={"version": 2, "categories": bad}).status_code == 422, bad
    # The taxonomy of B's project is untouched, and still the defaults.
    assert (
        login_as(world.client_b)
        .get(f"{API}/projects/{world.project_b.id}/taxonomy")
        .json()["version"]
        == 0
    )
    db.expire_all()
    audited = events.recent(session=db, kind="workbench.taxonomy_changed")
    assert [(e.actor_user_id, e.data["version"]) for e in reversed(audited)] == [
        (world.client_a.id, 1),
        (world.operator.id, 2),
    ]


def test_annotations_follow_the_project_taxonomy(  # type: ignore[no-untyped-def]
    login_as, world: World, endpoint_id: int
) -> None:
    author = login_as(world.expert_a)
    pid = create(author, world.project_a.id)["id"]
    step = add_step(author, pid, prompt="What is our runway?")
    rev = first_revision(author, step["id"])
    sr = author.post(f"{API}/revisions/{rev['id']}/runs", json={"endpoint_id": endpoint_id}).json()
    url = f"{API}/revisions/{rev['id']}/annotations"
    span = {"step_run_id": sr["id"], "start": 4, "end": 10, "severity": "minor"}
    r = author.post(url, json={**span, "category": "no_such_category"})
    assert (
        r.status_code == 422
        and message(r) == "Unknown category 'no_such_category' for this project."
    )
    r = author.post(url, json={**span, "category": "factual_error"})
    assert r.status_code == 201 and r.json()["taxonomy_version"] == 0
    put = login_as(world.client_a).put(
        f"{API}/projects/{world.project_a.id}/taxonomy",
        json={
            "version": 0,
            "categories": [{"key": "stale_figure", "label": "Stale figure", "side": "response"}],
        },
    )
    assert put.status_code == 200
    r = author.post(url, json={**span, "category": "factual_error"})
    assert r.status_code == 422  # no longer a category of this project
    r = author.post(url, json={**span, "category": "stale_figure"})
    assert r.status_code == 201 and r.json()["taxonomy_version"] == 1
    # No prompt-side category is left, so a prompt note cannot be filed.
    r = author.post(url, json={"category": "stale_figure", "severity": "minor"})
    assert r.status_code == 422 and message(r) == "Stale figure is not a category for a prompt."


def test_nobody_reviews_their_own_problem_set(login_as, world, db) -> None:  # type: ignore[no-untyped-def]
    from expertloop.projects.models import StaffRole
    from tests.factories import make_problem_set, staff

    reviewer = world.reviewer_a  # a reviewer on A; also staffed as reviewer on B here
    staff(db, world.project_b, reviewer, StaffRole.reviewer)
    ps = make_problem_set(db, world.project_b, reviewer, "Own work")
    db.commit()
    api = login_as(reviewer)
    # Submitting needs passing steps; the refusal to self-review comes first for review actions.
    detail = api.get(f"/api/v1/problem-sets/{ps.id}").json()
    assert "accept" not in detail["actions"] and "return" not in detail["actions"]
    from expertloop.workbench.models import ProblemSet, Status

    row = db.get(ProblemSet, ps.id)
    assert row is not None
    row.status = Status.submitted
    db.commit()
    detail = api.get(f"/api/v1/problem-sets/{ps.id}").json()
    assert detail["actions"] == []
    refused = api.post(f"/api/v1/problem-sets/{ps.id}/transitions/accept", json={})
    assert refused.status_code == 403
    assert "their own" in refused.json()["error"]["message"]


def test_refused_page_forms_keep_what_was_typed(login_as, world, db) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import make_problem_set

    ps = make_problem_set(db, world.project_a, world.expert_a, "Forms")
    db.commit()
    author = login_as(world.expert_a)
    too_long = "x" * 100_001
    r = author.post(
        f"/problem-sets/{ps.id}/steps",
        data={"title": "My careful title", "prompt": too_long, "rubric": "Criterion one"},
        follow_redirects=False,
    )
    assert r.status_code == 422
    assert "My careful title" in r.text and "Criterion one" in r.text
    assert "at most 100000 characters" in r.text or "100,000" in r.text
    assert "Traceback" not in r.text
    # A reviewer's return without a comment is refused; the page explains, nothing is lost.
    r = login_as(world.operator).post(
        f"/problem-sets/{ps.id}/actions/return", data={"comment": "  "}, follow_redirects=False
    )
    assert r.status_code in (409, 422)
    assert 'data-testid="action-error"' in r.text
