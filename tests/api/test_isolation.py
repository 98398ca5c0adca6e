"""Tenant isolation: organisation A's users get 404 for every resource of organisation B."""

from __future__ import annotations

import pytest

from tests.factories import World
from tests.isolation import CASES

OUTSIDERS = ("client_a", "expert_a", "reviewer_a")


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_outsider_gets_404(case: str, outsider: str, login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    owner = login_as(world.client_b)
    b_token_id = owner.post("/api/v1/tokens", json={"name": "b's token"}).json()["id"]
    api = login_as(getattr(world, outsider))
    for probe in CASES[case](world):
        url = probe.url.format(b_token_id=b_token_id)
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


def test_registry_covers_every_resource() -> None:
    assert {"organisation", "user", "project", "api_token"} <= set(CASES)
