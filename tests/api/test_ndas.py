"""Project NDAs over HTTP: the gate on every project route, acceptance, new versions, the
expert's invitations and the public summary."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role
from expertloop.projects.models import NdaAcceptance
from tests.api.test_isolation import B_SECRETS, _b_side, _fill
from tests.factories import World, make_user, staff
from tests.isolation import B_SIDE, CASES

# The routes a pending expert may reach: the NDA itself (reading and accepting it).
NDA_ROUTES = {
    ("GET", "/api/v1/projects/{p}/nda"),
    ("POST", "/api/v1/projects/{p}/nda/accept"),
    ("GET", "/projects/{p}/nda"),
    ("POST", "/projects/{p}/nda/accept"),
}


def _summary(owner, project_id: int) -> None:  # type: ignore[no-untyped-def]
    version = owner.get(f"/api/v1/projects/{project_id}").json()["version"]
    response = owner.patch(
        f"/api/v1/projects/{project_id}",
        json={
            "version": version,
            "description": "B's confidential description",
            "public_summary": "Grade answers on corporate finance.",
            "expected_hours_per_week": 12,
            "hourly_rate_cents": 8500,
            "rate_currency": "EUR",
        },
    )
    assert response.status_code == 200, response.text


def _probe_all(api, world: World, ids: dict[str, Any]) -> list[str]:  # type: ignore[no-untyped-def]
    """Send every registered probe; return the ones that did not answer 404."""
    p = world.project_b.id
    nda_urls = {(m, u.format(p=p)) for m, u in NDA_ROUTES}
    wrong: list[str] = []
    for case in sorted(CASES):
        for probe in CASES[case](world):
            url = probe.url.format(**ids)
            if (probe.method, url) in nda_urls:
                continue
            response = api.request(probe.method, url, json=_fill(probe.json, ids))
            if response.status_code != 404:
                wrong.append(f"{case}: {probe.method} {url} -> {response.status_code}")
            for secret in B_SECRETS:
                assert secret not in response.text, (probe, secret)
    return wrong


def test_pending_expert_gets_404_on_every_route_until_accepting(
    login_as, world: World, db: Session, app
) -> None:  # type: ignore[no-untyped-def]
    owner = login_as(world.client_b)
    ids: dict[str, Any] = {
        "b_token_id": owner.post("/api/v1/tokens", json={"name": "b's token"}).json()["id"]
    }
    ids.update(_b_side(db, app, world))
    for build in B_SIDE:
        ids.update(build(db, app, world, ids))
    newcomer = make_user(db, Role.expert)
    staff(db, world.project_b, newcomer)
    db.commit()
    p = world.project_b.id
    published = owner.put(f"/api/v1/projects/{p}/nda", json={"text": "Keep **B's** work secret."})
    assert published.status_code == 200, published.text
    version = published.json()["version"]

    api = login_as(newcomer)
    assert _probe_all(api, world, ids) == []
    assert api.get("/api/v1/projects").json()["total"] == 0

    # What the newcomer may see: the NDA and the public summary, nothing more.
    state = api.get(f"/api/v1/projects/{p}/nda").json()
    assert state["pending"] and not state["accepted"] and state["nda"]["version"] == version
    assert state["acceptances"] is None

    accepted = api.post(
        f"/api/v1/projects/{p}/nda/accept",
        json={"version": version},
        headers={"User-Agent": "NdaTest/2.0"},
    )
    assert accepted.status_code == 200, accepted.text
    # The project's problem sets open: the newcomer lists them and starts one.
    sets = api.get(f"/api/v1/projects/{p}/problem-sets")
    assert sets.status_code == 200, sets.text
    mine = api.post(f"/api/v1/projects/{p}/problem-sets", json={"title": "Newcomer's set"})
    assert mine.status_code == 201, mine.text
    own = f"/api/v1/problem-sets/{mine.json()['id']}"
    assert api.get(own).status_code == 200
    assert api.get(f"/projects/{p}").status_code == 200
    assert api.get("/api/v1/projects").json()["total"] == 1

    # A new version closes the project again until it is accepted.
    again = owner.put(f"/api/v1/projects/{p}/nda", json={"text": "Version two: keep it secret."})
    assert again.json()["version"] == version + 1
    assert api.get(f"/api/v1/projects/{p}/problem-sets").status_code == 404
    assert api.get(own).status_code == 404
    assert api.get(f"/projects/{p}").status_code == 404
    stale = api.post(f"/api/v1/projects/{p}/nda/accept", json={"version": version})
    assert stale.status_code == 409
    assert stale.json()["error"]["details"]["current_version"] == version + 1
    ok = api.post(f"/api/v1/projects/{p}/nda/accept", json={"version": version + 1})
    assert ok.status_code == 200
    assert api.get(f"/api/v1/projects/{p}/problem-sets").status_code == 200
    assert api.get(own).status_code == 200


def test_acceptance_records_who_when_which_version_and_where(
    login_as, world: World, db: Session
) -> None:  # type: ignore[no-untyped-def]
    w = world
    p = w.project_a.id
    client = login_as(w.client_a)
    version = client.put(f"/api/v1/projects/{p}/nda", json={"text": "A's NDA"}).json()["version"]
    expert = login_as(w.expert_a)
    response = expert.post(
        f"/api/v1/projects/{p}/nda/accept",
        json={"version": version},
        headers={"User-Agent": "NdaTest/2.0"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user_id"] == w.expert_a.id and body["version"] == version
    assert body["ip_address"] == "testclient" and body["user_agent"] == "NdaTest/2.0"
    assert body["accepted_at"]
    db.expire_all()
    row = db.scalar(select(NdaAcceptance).where(NdaAcceptance.user_id == w.expert_a.id))
    assert row is not None and row.nda_id == body["nda_id"]
    # Only operators read the records; a client gets 403 on its own project.
    assert client.get(f"/api/v1/projects/{p}/nda/acceptances").status_code == 403
    operator = login_as(w.operator)
    page = operator.get(f"/api/v1/projects/{p}/nda/acceptances").json()
    assert page["total"] == 1 and page["items"][0]["user_agent"] == "NdaTest/2.0"
    assert operator.get(f"/api/v1/projects/{p}/nda").json()["acceptances"] == 1
    # The audit log says so.
    audit = operator.get("/api/v1/audit?limit=5")
    if audit.status_code == 200:
        assert "projects.nda_accepted" in audit.text


def test_who_may_publish(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    p = world.project_a.id
    assert (
        login_as(world.expert_a).put(f"/api/v1/projects/{p}/nda", json={"text": "x"}).status_code
        == 403
    )
    assert (
        login_as(world.client_b).put(f"/api/v1/projects/{p}/nda", json={"text": "x"}).status_code
        == 404
    )
    client = login_as(world.client_a)
    assert client.put(f"/api/v1/projects/{p}/nda", json={"text": ""}).status_code == 422
    assert client.put(f"/api/v1/projects/{p}/nda", json={"text": "a\x07b"}).status_code == 422
    first = client.put(f"/api/v1/projects/{p}/nda", json={"text": "Same text"}).json()
    retry = client.put(f"/api/v1/projects/{p}/nda", json={"text": "Same text"}).json()
    assert first["id"] == retry["id"] and first["version"] == 1
    op = login_as(world.operator).put(f"/api/v1/projects/{p}/nda", json={"text": "Op's"}).json()
    assert op["version"] == 2
    accept = login_as(world.client_a).post(f"/api/v1/projects/{p}/nda/accept", json={"version": 2})
    assert accept.status_code == 403  # not staffed: nothing to accept


def test_invitations_show_only_the_public_summary(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    w = world
    p = w.project_b.id
    owner = login_as(w.client_b)
    _summary(owner, p)
    expert = login_as(w.expert_b)
    assert expert.get("/api/v1/me/project-invitations").json() == []
    assert "No project is waiting" in expert.get("/invitations/projects").text
    owner.put(f"/api/v1/projects/{p}/nda", json={"text": "B's NDA *text*"})

    [invitation] = expert.get("/api/v1/me/project-invitations").json()
    assert invitation["nda_version"] == 1 and invitation["role"] == "expert"
    assert invitation["project"] == {
        "id": p,
        "name": w.project_b.name,
        "domain": w.project_b.domain,
        "public_summary": "Grade answers on corporate finance.",
        "expected_hours_per_week": 12,
        "hourly_rate_cents": 8500,
        "rate_currency": "EUR",
    }
    home = expert.get("/")
    assert 'data-testid="home-project-invitations"' in home.text
    assert f"/projects/{p}/nda" in home.text
    page = expert.get("/invitations/projects")
    assert page.status_code == 200
    assert "Grade answers on corporate finance." in page.text and "85.00 EUR" in page.text
    assert f"/projects/{p}/nda" in page.text
    nda_page = expert.get(f"/projects/{p}/nda")
    assert nda_page.status_code == 200
    assert "<em>text</em>" in nda_page.text and 'name="version" value="1"' in nda_page.text
    for hidden in ("B's confidential description", "Be precise."):
        assert hidden not in nda_page.text and hidden not in page.text
    # Accepting from the page opens the project.
    response = expert.post(
        f"/projects/{p}/nda/accept", data={"version": "1"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == f"/projects/{p}"
    assert expert.get("/api/v1/me/project-invitations").json() == []
    assert expert.get(f"/projects/{p}").status_code == 200
    assert 'data-testid="home-project-invitations"' not in expert.get("/").text
    assert "You accepted version 1" in expert.get(f"/projects/{p}/nda").text


def test_the_page_publishes_and_keeps_a_refused_draft(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    p = world.project_a.id
    client = login_as(world.client_a)
    page = client.get(f"/projects/{p}/nda")
    assert page.status_code == 200 and "Set an NDA" in page.text
    done = client.post(f"/projects/{p}/nda", data={"text": "Page NDA"}, follow_redirects=False)
    assert done.status_code == 303
    assert "Version 1" in client.get(f"/projects/{p}/nda").text
    refused = client.post(f"/projects/{p}/nda", data={"text": "Kept draft \x07 here"})
    assert refused.status_code == 422
    assert 'data-testid="nda-error"' in refused.text and "Kept draft" in refused.text
    # A stale acceptance from the page says why, and shows the current version.
    expert = login_as(world.expert_a)
    client.post(f"/projects/{p}/nda", data={"text": "Page NDA v2"})
    stale = expert.post(f"/projects/{p}/nda/accept", data={"version": "1"})
    assert stale.status_code == 409 and 'name="version" value="2"' in stale.text


def test_public_summary_is_validated(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    p = world.project_a.id
    client = login_as(world.client_a)
    version = client.get(f"/api/v1/projects/{p}").json()["version"]
    for bad in (
        {"expected_hours_per_week": 500},
        {"hourly_rate_cents": -1},
        {"rate_currency": "EURO"},
    ):
        response = client.patch(f"/api/v1/projects/{p}", json={"version": version, **bad})
        assert response.status_code == 422, (bad, response.text)


def test_projects_without_an_nda_are_unchanged(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    expert = login_as(world.expert_a)
    p = world.project_a.id
    state = expert.get(f"/api/v1/projects/{p}/nda").json()
    assert state["nda"] is None and state["accepted"] and not state["pending"]
    assert expert.get(f"/api/v1/projects/{p}/problem-sets").status_code == 200
    assert expert.post(f"/api/v1/projects/{p}/nda/accept", json={"version": 1}).status_code == 422
