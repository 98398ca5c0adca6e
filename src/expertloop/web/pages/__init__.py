"""Server-rendered pages."""

from __future__ import annotations

from fastapi import APIRouter

from expertloop.web.pages import (
    account,
    auth,
    batch_runs,
    datasets,
    home,
    imports,
    jobs,
    models,
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
)


def build_router() -> APIRouter:
    """Return the router with every page mounted."""
    router = APIRouter(include_in_schema=False)
    for module in PAGES:
        router.include_router(module.router)
    return router
