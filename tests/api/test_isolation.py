"""Tenant isolation: organisation A's users get 404 for every resource of organisation B."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from expertloop.llm import endpoints as endpoints_uc
from expertloop.llm import runs as runs_uc
from expertloop.projects import targets
from expertloop.web.api import PREFIX, RESOURCES
from expertloop.web.pages import PAGES
from tests.factories import World
from tests.isolation import CASES

OUTSIDERS = ("client_a", "expert_a", "reviewer_a")


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_outsider_gets_404(
    case: str, outsider: str, login_as, world: World, db: Session, app
) -> None:  # type: ignore[no-untyped-def]
    owner = login_as(world.client_b)
    b_token_id = owner.post("/api/v1/tokens", json={"name": "b's token"}).json()["id"]
    b_run_id = _b_run(db, app, world)
    api = login_as(getattr(world, outsider))
    for probe in CASES[case](world):
        url = probe.url.format(b_token_id=b_token_id, b_run_id=b_run_id)
        response = api.request(probe.method, url, json=probe.json)
        assert response.status_code == 404, (probe, response.status_code, response.text)
        # The answer must not leak B's data.
        assert world.project_b.name not in response.text
        assert world.client_b.email not in response.text
    # Nothing changed on B's side.
    assert (
        owner.get(f"/api/v1/projects/{world.project_b.id}").json()["name"] == world.project_b.name
    )
    assert owner.get("/api/v1/tokens").json()[0]["revoked_at"] is None


def _b_run(db: Session, app, world: World) -> int:  # type: ignore[no-untyped-def]
    """Give B's project a target model only B may use, and one stored run."""
    hub = app.state.hub
    endpoint = endpoints_uc.add_endpoint(
        session=db,
        actor=None,
        box=hub.box,
        policy=hub.runtime.policy,
        name="B's own model",
        provider="scripted",
        model_id="b-secret-checkpoint",
        organisation_id=world.org_b.id,
    )
    targets.set_targets(
        session=db, actor=world.operator, project=world.project_b, endpoint_ids=[endpoint.id]
    )
    run = runs_uc.start_run(
        session=db,
        endpoint=endpoint,
        project_id=world.project_b.id,
        user_id=world.expert_b.id,
        params={},
        messages=[{"role": "user", "content": "B's confidential prompt"}],
    )
    db.commit()
    return run.id


def test_registry_covers_every_route_with_an_id() -> None:
    """Every route that takes an id of a tenant resource is probed by some isolation case."""
    templates = set()
    for builder in CASES.values():
        for probe in builder(_FakeWorld()):  # type: ignore[arg-type]
            templates.add((probe.method, _shape(probe.url)))
    exempt = {
        "/api/v1/models/{endpoint_id}",
        "/models/{endpoint_id}/test",
        "/models/{endpoint_id}/remove",
        "/account/tokens/{token_id}/revoke",
        "/api/v1/models/{endpoint_id}/test",
    }  # operator-only, not tenant data
    missing = []
    checked = 0
    routes = [(PREFIX + r.path, r) for m in RESOURCES for r in m.router.routes]
    routes += [(r.path, r) for m in PAGES for r in m.router.routes]
    for path, route in routes:
        if "{" not in path or path.startswith("/static") or path in exempt:
            continue
        for method in getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}:
            checked += 1
            if (method, _shape(path)) not in templates:
                missing.append(f"{method} {path}")
    assert checked >= 15
    assert not missing, f"routes without an isolation probe: {missing}"


class _FakeWorld:
    """Stands in for a World so probe URLs can be built without a database."""

    def __getattr__(self, name: str) -> object:
        return type("Obj", (), {"id": 1})()


def _shape(url: str) -> str:
    import re

    return re.sub(r"\{[^}]+\}|\d+", "{}", url)
