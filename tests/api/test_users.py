"""Users and organisations API: operators manage, others see only what they may."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.events import AuditLog
from tests.factories import World


def test_operator_creates_users_and_organisations(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    ops = login_as(world.operator)
    org = ops.post("/api/v1/organisations", json={"name": "Initech AI", "kind": "client"})
    assert org.status_code == 201
    org_id = org.json()["id"]
    user = ops.post(
        "/api/v1/users",
        json={
            "organisation_id": org_id,
            "email": "Pat@Initech.example.com",
            "name": "Pat",
            "role": "client",
            "password": "long-enough-pass",
        },
    )
    assert user.status_code == 201, user.text
    assert user.json()["email"] == "pat@initech.example.com"
    assert "password" not in user.text and "hash" not in user.text
    dup = ops.post(
        "/api/v1/users",
        json={
            "organisation_id": org_id,
            "email": "pat@initech.example.com",
            "name": "Pat 2",
            "role": "client",
            "password": "long-enough-pass",
        },
    )
    assert dup.status_code == 409
    wrong_role = ops.post(
        "/api/v1/users",
        json={
            "organisation_id": org_id,
            "email": "e@initech.example.com",
            "name": "E",
            "role": "expert",
            "password": "long-enough-pass",
        },
    )
    assert wrong_role.status_code == 422
    bad_email = ops.post(
        "/api/v1/users",
        json={
            "organisation_id": org_id,
            "email": "not-an-email",
            "name": "E",
            "role": "client",
            "password": "long-enough-pass",
        },
    )
    assert bad_email.status_code == 422


def test_non_operators_cannot_manage_users(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    api = login_as(world.client_a)
    assert api.patch(f"/api/v1/users/{world.client_a.id}", json={}).status_code == 403
    org = api.post("/api/v1/organisations", json={"name": "Op", "kind": "operator"})
    assert org.status_code in (403, 422)
    r = api.post(
        "/api/v1/users",
        json={
            "organisation_id": world.org_a.id,
            "email": "new@a.example.com",
            "name": "N",
            "role": "client",
            "password": "long-enough-pass",
        },
    )
    assert r.status_code == 403
    assert api.post("/api/v1/organisations", json={"name": "Mine"}).status_code == 403
    assert (
        api.patch(f"/api/v1/users/{world.client_a.id}", json={"role": "client"}).status_code == 403
    )


def test_user_visibility(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    expert = login_as(world.expert_a)
    assert expert.get(f"/api/v1/users/{world.expert_a.id}").status_code == 200
    # Expert personal data: operators and the expert alone.
    assert expert.get(f"/api/v1/users/{world.expert_b.id}").status_code == 404
    assert login_as(world.client_a).get(f"/api/v1/users/{world.expert_a.id}").status_code == 404
    assert [u["id"] for u in expert.get("/api/v1/users").json()["items"]] == [world.expert_a.id]
    client_view = login_as(world.client_a).get("/api/v1/users").json()["items"]
    assert {u["organisation_id"] for u in client_view} == {world.org_a.id}
    ops_view = login_as(world.operator).get("/api/v1/users?role=expert").json()
    assert {world.expert_a.id, world.expert_b.id} <= {u["id"] for u in ops_view["items"]}
    assert all(u["role"] == "expert" for u in ops_view["items"])


def test_role_change_and_deactivation_are_audited(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    ops = login_as(world.operator)
    target = login_as(world.expert_a)
    r = ops.patch(f"/api/v1/users/{world.expert_a.id}", json={"role": "reviewer"})
    assert r.status_code == 200 and r.json()["role"] == "reviewer"
    r = ops.patch(f"/api/v1/users/{world.expert_a.id}", json={"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert target.get("/api/v1/auth/me").status_code == 401
    db.expire_all()
    rows = list(db.scalars(select(AuditLog).where(AuditLog.subject_id == str(world.expert_a.id))))
    kinds = [r.kind for r in rows]
    assert "accounts.role_changed" in kinds and "accounts.user_deactivated" in kinds
    change = next(r for r in rows if r.kind == "accounts.role_changed")
    assert change.data == {"old_role": "expert", "new_role": "reviewer"}
    assert change.actor_user_id == world.operator.id
    # Operators cannot lock themselves out or change their own role.
    own_role = ops.patch(f"/api/v1/users/{world.operator.id}", json={"role": "expert"})
    assert own_role.status_code == 422
    assert (
        ops.patch(f"/api/v1/users/{world.operator.id}", json={"is_active": False}).status_code
        == 422
    )


def test_organisation_visibility(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    api = login_as(world.client_a)
    assert [o["id"] for o in api.get("/api/v1/organisations").json()] == [world.org_a.id]
    assert api.get(f"/api/v1/organisations/{world.org_a.id}").status_code == 200
    ops_orgs = {o["id"] for o in login_as(world.operator).get("/api/v1/organisations").json()}
    assert {world.org_a.id, world.org_b.id} <= ops_orgs


def test_audit_log_is_for_operators(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    ops = login_as(world.operator)
    events = ops.get("/api/v1/audit?kind=auth.login_succeeded").json()
    assert events and all(e["kind"] == "auth.login_succeeded" for e in events)
    older = ops.get(f"/api/v1/audit?before_id={events[0]['id']}&limit=5").json()
    assert all(e["id"] < events[0]["id"] for e in older)
    assert login_as(world.client_a).get("/api/v1/audit").status_code == 403
    assert login_as(world.expert_a).get("/api/v1/audit").status_code == 403
