"""JSON API under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from expertloop.web.api import (
    audit,
    auth,
    batch_runs,
    datasets,
    experts_assessments,
    experts_interviews,
    experts_matching,
    experts_outreach,
    experts_vetting,
    exports,
    imports,
    jobs,
    me,
    models,
    ndas,
    organisations,
    payments,
    problem_sets,
    projects,
    review,
    runs,
    step_history,
    step_runs,
    tokens,
    users,
    webhooks,
)

PREFIX = "/api/v1"
RESOURCES = (
    auth,
    tokens,
    users,
    organisations,
    projects,
    models,
    runs,
    problem_sets,
    step_runs,
    step_history,
    review,
    batch_runs,
    payments,
    jobs,
    datasets,
    exports,
    imports,
    webhooks,
    audit,
    me,
    experts_outreach,
    experts_vetting,
    experts_assessments,
    experts_interviews,
    experts_matching,
    ndas,
)


def build_router() -> APIRouter:
    """Return the /api/v1 router with every resource mounted."""
    router = APIRouter(prefix=PREFIX)
    for module in RESOURCES:
        router.include_router(module.router)
    return router
