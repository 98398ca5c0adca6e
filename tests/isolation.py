"""Tenant isolation registry: every resource of organisation B, as seen by organisation A.

Later capabilities add their resources with ``@isolation_case``; ``tests/api/test_isolation.py``
asserts that each listed request answers 404 to each outsider.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.factories import World


@dataclass(frozen=True)
class Probe:
    """One request against a resource of organisation B."""

    method: str
    url: str
    json: dict[str, Any] | None = None


CaseBuilder = Callable[[World], list[Probe]]
CASES: dict[str, CaseBuilder] = {}


def isolation_case(name: str) -> Callable[[CaseBuilder], CaseBuilder]:
    """Register the probes for one resource type."""

    def register(builder: CaseBuilder) -> CaseBuilder:
        CASES[name] = builder
        return builder

    return register


@isolation_case("organisation")
def _organisation(w: World) -> list[Probe]:
    return [Probe("GET", f"/api/v1/organisations/{w.org_b.id}")]


@isolation_case("user")
def _user(w: World) -> list[Probe]:
    return [
        Probe("GET", f"/api/v1/users/{w.client_b.id}"),
        Probe("GET", f"/api/v1/users/{w.expert_b.id}"),
        Probe("PATCH", f"/api/v1/users/{w.client_b.id}", {"role": "client"}),
    ]


@isolation_case("project")
def _project(w: World) -> list[Probe]:
    p = w.project_b.id
    return [
        Probe("GET", f"/api/v1/projects/{p}"),
        Probe("PATCH", f"/api/v1/projects/{p}", {"version": 1, "name": "hijacked"}),
        Probe("GET", f"/api/v1/projects/{p}/staff"),
        Probe("POST", f"/api/v1/projects/{p}/staff", {"user_id": w.expert_a.id, "role": "expert"}),
        Probe("DELETE", f"/api/v1/projects/{p}/staff/{w.expert_b.id}"),
        Probe("GET", f"/projects/{p}"),
        Probe("POST", f"/projects/{p}/models", None),
        Probe("GET", f"/api/v1/projects/{p}/models"),
        Probe("PUT", f"/api/v1/projects/{p}/models", {"endpoint_ids": []}),
        Probe("GET", f"/api/v1/projects/{p}/runs"),
        Probe(
            "POST",
            f"/api/v1/projects/{p}/runs",
            {"endpoint_id": 1, "messages": [{"role": "user", "content": "x"}]},
        ),
        Probe(
            "POST",
            f"/api/v1/projects/{p}/runs/stream",
            {"endpoint_id": 1, "messages": [{"role": "user", "content": "x"}]},
        ),
    ]


@isolation_case("api_token")
def _token(w: World) -> list[Probe]:
    # The token id is filled in by the test (B's client creates one first).
    return [Probe("DELETE", "/api/v1/tokens/{b_token_id}")]


@isolation_case("model_run")
def _run(w: World) -> list[Probe]:
    # The run id is filled in by the test (B's expert runs a model first).
    return [
        Probe("GET", "/api/v1/runs/{b_run_id}"),
        Probe("POST", "/api/v1/runs/{b_run_id}/replay"),
    ]
