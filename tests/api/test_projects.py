"""Projects API: creation, visibility, editing with versions, staffing."""

from __future__ import annotations

from sqlalchemy.orm import Session

from expertloop.accounts.models import Role
from tests.factories import World, make_org, make_user


def test_client_creates_project_in_own_organisation(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    api = login_as(world.client_a)
    r = api.post(
        "/api/v1/projects",
        json={"name": "Tax assistant eval", "domain": "law", "guidelines": "# Hi"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["organisation_id"] == world.org_a.id
    assert r.json()["version"] == 1
    listed = api.get("/api/v1/projects").json()
    assert {p["name"] for p in listed["items"]} == {"Tax assistant eval", world.project_a.name}
    assert listed["total"] == 2


def test_client_cannot_create_in_another_organisation(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    api = login_as(world.client_a)
    r = api.post("/api/v1/projects", json={"name": "x", "organisation_id": world.org_b.id})
    assert r.status_code == 404


def test_operator_creates_for_a_client_but_not_for_operator_org(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    api = login_as(world.operator)
    r = api.post("/api/v1/projects", json={"name": "Ops-made", "organisation_id": world.org_b.id})
    assert r.status_code == 201
    r = api.post(
        "/api/v1/projects", json={"name": "x", "organisation_id": world.operator.organisation_id}
    )
    assert r.status_code == 422


def test_experts_cannot_create_projects(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    r = login_as(world.expert_a).post("/api/v1/projects", json={"name": "x"})
    assert r.status_code == 404


def test_visibility_by_role_and_staffing(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    def names(user) -> set[str]:  # type: ignore[no-untyped-def]
        return {p["name"] for p in login_as(user).get("/api/v1/projects").json()["items"]}

    assert names(world.operator) >= {world.project_a.name, world.project_b.name}
    assert names(world.client_a) == {world.project_a.name}
    assert names(world.expert_a) == {world.project_a.name}
    assert names(world.reviewer_a) == {world.project_a.name}
    assert names(world.expert_b) == {world.project_b.name}
    loner = make_user(db, Role.expert)
    db.commit()
    assert names(loner) == set()
    assert login_as(loner).get(f"/api/v1/projects/{world.project_a.id}").status_code == 404


def test_edit_with_version_and_stale_save_conflict(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    api = login_as(world.client_a)
    url = f"/api/v1/projects/{world.project_a.id}"
    first = api.patch(url, json={"version": 1, "guidelines": "# Version two"})
    assert first.status_code == 200
    assert first.json()["version"] == 2
    assert first.json()["guidelines"] == "# Version two"
    # A second tab still holding version 1 gets 409 with the current version, no overwrite.
    stale = api.patch(url, json={"version": 1, "guidelines": "# Lost?"})
    assert stale.status_code == 409
    assert stale.json()["error"]["details"]["current_version"] == 2
    assert api.get(url).json()["guidelines"] == "# Version two"


def test_experts_and_other_clients_cannot_edit(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/projects/{world.project_a.id}"
    assert login_as(world.expert_a).patch(url, json={"version": 1, "name": "x"}).status_code == 403
    assert login_as(world.client_b).patch(url, json={"version": 1, "name": "x"}).status_code == 404


def test_empty_name_is_refused(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    api = login_as(world.client_a)
    url = f"/api/v1/projects/{world.project_a.id}"
    assert api.patch(url, json={"version": 1, "name": "   "}).status_code == 422
    assert api.post("/api/v1/projects", json={"name": "  "}).status_code == 422


def test_staffing_by_operator(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    newcomer = make_user(db, Role.expert)
    db.commit()
    url = f"/api/v1/projects/{world.project_b.id}/staff"
    expert_api = login_as(newcomer)
    assert expert_api.get(f"/api/v1/projects/{world.project_b.id}").status_code == 404

    ops = login_as(world.operator)
    r = ops.post(url, json={"user_id": newcomer.id, "role": "expert"})
    assert r.status_code == 201
    assert ops.post(url, json={"user_id": newcomer.id, "role": "expert"}).status_code == 409
    assert expert_api.get(f"/api/v1/projects/{world.project_b.id}").status_code == 200
    staff_ids = {s["user_id"] for s in ops.get(url).json()}
    assert newcomer.id in staff_ids

    assert ops.delete(f"{url}/{newcomer.id}").status_code == 204
    assert expert_api.get(f"/api/v1/projects/{world.project_b.id}").status_code == 404


def test_staffing_rules(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/projects/{world.project_a.id}/staff"
    # Only operators staff.
    assert (
        login_as(world.client_a)
        .post(url, json={"user_id": world.expert_b.id, "role": "expert"})
        .status_code
        == 403
    )
    ops = login_as(world.operator)
    # A client user or an expert as reviewer cannot be staffed.
    assert ops.post(url, json={"user_id": world.client_b.id, "role": "expert"}).status_code == 422
    assert ops.post(url, json={"user_id": world.expert_b.id, "role": "reviewer"}).status_code == 422
    assert ops.post(url, json={"user_id": 999999, "role": "expert"}).status_code == 404


def test_project_list_paginates(login_as, db: Session) -> None:  # type: ignore[no-untyped-def]
    org = make_org(db)
    client_user = make_user(db, Role.client, org)
    db.commit()
    api = login_as(client_user)
    for i in range(5):
        assert api.post("/api/v1/projects", json={"name": f"P{i}"}).status_code == 201
    page = api.get("/api/v1/projects?limit=2&offset=2").json()
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 2
    assert [p["name"] for p in page["items"]] == ["P2", "P1"]
    assert api.get("/api/v1/projects?limit=0").status_code == 422


def test_operator_makes_a_staffed_reviewer_the_lead(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/projects/{world.project_a.id}/staff/{world.reviewer_a.id}"
    ops = login_as(world.operator)
    changed = ops.patch(url, json={"role": "lead"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "lead"
    assert ops.patch(url, json={"role": "lead"}).json()["role"] == "lead"  # a retry: no change
    events = ops.get("/api/v1/audit", params={"kind": "projects.staff_role_changed"}).json()
    rows = events["items"] if isinstance(events, dict) else events
    changes = [e for e in rows if e["kind"] == "projects.staff_role_changed"]
    assert len(changes) == 1
    assert (changes[0]["data"]["from_role"], changes[0]["data"]["to_role"]) == ("reviewer", "lead")
    # Only reviewers lead; only operators change roles; nobody changes a staffing that is not.
    expert_url = f"/api/v1/projects/{world.project_a.id}/staff/{world.expert_a.id}"
    assert ops.patch(expert_url, json={"role": "lead"}).status_code == 422
    assert login_as(world.client_a).patch(url, json={"role": "reviewer"}).status_code == 403
    not_staffed = f"/api/v1/projects/{world.project_a.id}/staff/{world.expert_b.id}"
    assert ops.patch(not_staffed, json={"role": "expert"}).status_code == 404
    assert ops.patch(url, json={"role": "boss"}).status_code == 422
