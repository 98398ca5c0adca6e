"""Server-rendered pages."""

from __future__ import annotations

from fastapi import APIRouter

from expertloop.web.pages import (
    account,
    auth,
    batch_runs,
    datasets,
    experts_assessments,
    experts_interviews,
    experts_matching,
    experts_outreach,
    experts_vetting,
    home,
    imports,
    jobs,
    models,
    ndas,
    projects,
    review,
    staff,
    step_history,
    webhooks,
    workbench,
)
from expertloop.web.pages.pay import earner, payroll, project_pay, spend, team

PAGES = (
    auth,
    home,
    projects,
    account,
    staff,
    models,
    workbench,
    step_history,
    review,
    batch_runs,
    earner,
    payroll,
    project_pay,
    spend,
    team,
    jobs,
    datasets,
    imports,
    webhooks,
    experts_outreach,
    experts_vetting,
    experts_assessments,
    experts_interviews,
    experts_matching,
    ndas,
)


def build_router() -> APIRouter:
    """Return the router with every page mounted."""
    router = APIRouter(include_in_schema=False)
    for module in PAGES:
        router.include_router(module.router)
    return router
