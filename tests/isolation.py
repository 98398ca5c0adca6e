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

# Later capabilities give B resources of their own: a builder gets (db, app, world, ids so far)
# and returns more ids for the probes' placeholders; a state function returns what an outsider's
# request must not change. Register them with ``@b_side`` and ``@b_state`` in
# ``tests/isolation_<area>.py`` (imported at the end of this file).
BSideBuilder = Callable[[Any, Any, World, dict[str, Any]], dict[str, Any]]
BStateReader = Callable[[Any, World], Any]
B_SIDE: list[BSideBuilder] = []
B_STATE: dict[str, BStateReader] = {}


def b_side(builder: BSideBuilder) -> BSideBuilder:
    """Register a builder of more of B's resources."""
    B_SIDE.append(builder)
    return builder


def b_state(name: str) -> Callable[[BStateReader], BStateReader]:
    """Register a reader of B's state that outsiders must leave unchanged."""

    def register(reader: BStateReader) -> BStateReader:
        B_STATE[name] = reader
        return reader

    return register


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
        Probe("PATCH", f"/api/v1/projects/{p}/staff/{w.expert_b.id}", {"role": "reviewer"}),
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


# --- Workbench: the ids of B's problem set, steps, revision, run and annotation are filled in by
# the test (B's expert works on a problem set first); ``{b_…}`` placeholders in JSON bodies too.

WB_ACTIONS = ("start", "submit", "start_review", "accept", "return")


@isolation_case("problem_set")
def _problem_set(w: World) -> list[Probe]:
    p = w.project_b.id
    ps = "/api/v1/problem-sets/{b_problem_set_id}"
    return [
        Probe("GET", f"/api/v1/projects/{p}/problem-sets"),
        Probe("GET", f"/api/v1/projects/{p}/problem-sets?status=in_progress"),
        Probe("POST", f"/api/v1/projects/{p}/problem-sets", {"title": "Planted by A"}),
        Probe("GET", ps),
        Probe("PATCH", ps, {"version": 1, "title": "hijacked"}),
        *[Probe("POST", f"{ps}/transitions/{a}", {"comment": "hijacked"}) for a in WB_ACTIONS],
        Probe("POST", f"{ps}/steps", {"title": "Planted", "prompt": "Planted prompt"}),
        Probe("PUT", f"{ps}/step-order", {"step_ids": ["{b_empty_step_id}", "{b_step_id}"]}),
    ]


@isolation_case("step")
def _step(w: World) -> list[Probe]:
    step = "/api/v1/steps/{b_step_id}"
    return [
        Probe("GET", step),
        Probe("PATCH", step, {"version": 1, "draft_prompt": "hijacked"}),
        Probe("DELETE", "/api/v1/steps/{b_empty_step_id}"),
        Probe("GET", f"{step}/revisions"),
        Probe("POST", f"{step}/revisions", {"reason": "hijacked"}),
        Probe("GET", "/api/v1/revisions/{b_revision_id}"),
        Probe(
            "GET",
            "/api/v1/diff?before_revision={b_revision_id}&after_revision={b_revision_id}",
        ),
    ]


@isolation_case("step_run")
def _step_run(w: World) -> list[Probe]:
    runs = "/api/v1/revisions/{b_revision_id}/runs"
    body = {"endpoint_id": "{b_endpoint_id}"}
    return [
        Probe("POST", runs, body),
        Probe("POST", f"{runs}/stream", body),
        Probe("GET", "/api/v1/steps/{b_step_id}/runs"),
        Probe("GET", "/api/v1/step-runs/{b_step_run_id}"),
        Probe("PUT", "/api/v1/step-runs/{b_step_run_id}/rubric", {"criterion": 0, "met": False}),
        Probe("GET", "/api/v1/diff?before_run={b_step_run_id}&after_run={b_step_run_id}"),
    ]


@isolation_case("annotation")
def _annotation(w: World) -> list[Probe]:
    return [
        Probe("GET", "/api/v1/steps/{b_step_id}/annotations"),
        Probe(
            "POST",
            "/api/v1/revisions/{b_revision_id}/annotations",
            {
                "step_run_id": "{b_step_run_id}",
                "start": 0,
                "end": 3,
                "category": "factual_error",
                "severity": "critical",
            },
        ),
        Probe(
            "POST",
            "/api/v1/revisions/{b_revision_id}/annotations",
            {"category": "ambiguity", "severity": "minor", "note": "planted"},
        ),
        Probe("DELETE", "/api/v1/annotations/{b_annotation_id}"),
    ]


@isolation_case("ideal_answer")
def _ideal_answer(w: World) -> list[Probe]:
    url = "/api/v1/steps/{b_step_id}/ideal-answer"
    return [
        Probe("GET", url),
        Probe("PUT", url, {"text": "hijacked", "version": 1}),
        Probe("PUT", "/api/v1/steps/{b_empty_step_id}/ideal-answer", {"text": "planted"}),
    ]


@isolation_case("taxonomy")
def _taxonomy(w: World) -> list[Probe]:
    p = w.project_b.id
    category = {"key": "planted", "label": "Planted", "side": "response"}
    return [
        Probe("GET", f"/api/v1/projects/{p}/taxonomy"),
        Probe("PUT", f"/api/v1/projects/{p}/taxonomy", {"version": 0, "categories": [category]}),
        Probe("GET", f"/projects/{p}/taxonomy"),
    ]


@isolation_case("activity")
def _activity(w: World) -> list[Probe]:
    p = w.project_b.id
    url = "/api/v1/activity/heartbeats"
    return [
        Probe("POST", url, {"project_id": p}),
        Probe("POST", url, {"project_id": p, "problem_set_id": "{b_problem_set_id}"}),
        # The outsider's own project does not make B's problem set visible.
        Probe("POST", url, {"project_id": w.project_a.id, "problem_set_id": "{b_problem_set_id}"}),
    ]


@isolation_case("workbench_pages")
def _workbench_pages(w: World) -> list[Probe]:
    p = w.project_b.id
    ps = "/problem-sets/{b_problem_set_id}"
    return [
        Probe("GET", f"/projects/{p}/problem-sets"),
        Probe("POST", f"/projects/{p}/problem-sets"),
        Probe("GET", ps),
        Probe("POST", f"{ps}/steps"),
        *[Probe("POST", f"{ps}/actions/{a}") for a in WB_ACTIONS],
        Probe("GET", "/steps/{b_step_id}"),
    ]


@isolation_case("payments_api")
def _payments_api(w: World) -> list[Probe]:
    p = w.project_b.id
    sheet = "/api/v1/timesheets/{b_timesheet_id}"
    adjustment = "/api/v1/time-adjustments/{b_adjustment_id}"
    run = "/api/v1/payout-runs/{b_payout_run_id}"
    statement = "/api/v1/users/{b_user_id}/statement"
    bonus = {"user_id": "{b_user_id}", "project_id": p, "currency": "USD", "amount_minor": 100}
    return [
        Probe("GET", f"/api/v1/projects/{p}/pay-terms"),
        Probe("PUT", f"/api/v1/projects/{p}/pay-terms", {"weekly_cap_minutes": 60, "margin_bp": 0}),
        Probe("GET", f"/api/v1/projects/{p}/bonus-rules"),
        Probe(
            "POST",
            f"/api/v1/projects/{p}/bonus-rules",
            {"kind": "per_accepted_item", "currency": "USD", "amount_minor": 100},
        ),
        Probe("POST", "/api/v1/bonuses", {**bonus, "reason": "hijack"}),
        Probe("POST", "/api/v1/bonuses/evaluate", {"until": "2026-12-31", "project_id": p}),
        Probe(
            "POST",
            "/api/v1/time-adjustments",
            {"project_id": p, "work_date": "2026-11-10", "minutes": 30, "reason": "hijack"},
        ),
        Probe("POST", f"{adjustment}/approve"),
        Probe("POST", f"{adjustment}/reject"),
        Probe("GET", sheet),
        Probe("POST", f"{sheet}/approve"),
        Probe("POST", f"{sheet}/return", {"comment": "hijack"}),
        Probe("GET", run),
        Probe("GET", f"{run}/file"),
        Probe("GET", statement),
        Probe("GET", f"{statement}?format=csv"),
        Probe("GET", f"/api/v1/projects/{p}/invoice"),
        Probe("GET", f"/api/v1/projects/{p}/invoice?format=csv"),
        Probe("POST", "/api/v1/ledger/transactions/{b_transaction_id}/reverse", {"reason": "x"}),
    ]


# --- Payments pages (server-rendered): B's expert's statement and B's timesheet, adjustment and
# payout run (the ids filled in by the test, as for the JSON API above), B's project's pay terms,
# bonuses and invoice. Forms post without a body: an outsider must be refused before any parsing.


@isolation_case("payments_pages")
def _payments_pages(w: World) -> list[Probe]:
    p = w.project_b.id
    statement = "/users/{b_user_id}/statement"
    sheet = "/payroll/timesheets/{b_timesheet_id}"
    adjustment = "/payroll/adjustments/{b_adjustment_id}"
    run = "/payroll/payout-runs/{b_payout_run_id}"
    return [
        Probe("GET", statement),
        Probe("GET", f"{statement}?format=csv"),
        Probe("GET", f"{statement}?from=2026-01-01&to=2026-12-31"),
        Probe("GET", f"/users/{w.client_b.id}/statement"),
        Probe("GET", f"/projects/{p}/invoice"),
        Probe("GET", f"/projects/{p}/invoice?from=2026-01-01&to=2026-12-31&format=csv"),
        Probe("GET", f"/projects/{p}/pay"),
        Probe("POST", f"/projects/{p}/pay/terms"),
        Probe("POST", f"/projects/{p}/pay/bonus-rules"),
        Probe("POST", f"/projects/{p}/pay/bonuses"),
        Probe("POST", f"/projects/{p}/pay/complete"),
        Probe("POST", f"{sheet}/approve"),
        Probe("POST", f"{sheet}/return"),
        Probe("POST", f"{adjustment}/approve"),
        Probe("POST", f"{adjustment}/reject"),
        Probe("GET", run),
        Probe("GET", f"{run}?format=csv"),
        # A lead's team time: B's week and adjustment are not on any project the outsider leads.
        Probe("POST", "/team-time/timesheets/{b_timesheet_id}/approve"),
        Probe("POST", "/team-time/timesheets/{b_timesheet_id}/return"),
        Probe("POST", "/team-time/adjustments/{b_adjustment_id}/approve"),
        Probe("POST", "/team-time/adjustments/{b_adjustment_id}/reject"),
    ]


# Each area's cases, builders and state readers (kept apart so that areas do not collide).
from tests import (  # noqa: E402
    isolation_assessments,  # noqa: F401
    isolation_batchjobs,  # noqa: F401
    isolation_datasets,  # noqa: F401
    isolation_exports,  # noqa: F401
    isolation_imports,  # noqa: F401
    isolation_interviews,  # noqa: F401
    isolation_jobs,  # noqa: F401
    isolation_matching,  # noqa: F401
    isolation_ndas,  # noqa: F401
    isolation_outreach,  # noqa: F401
    isolation_review,  # noqa: F401
    isolation_vetting,  # noqa: F401
    isolation_webhooks,  # noqa: F401
)
