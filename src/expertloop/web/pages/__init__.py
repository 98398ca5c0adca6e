"""Server-rendered pages."""

from __future__ import annotations

from fastapi import APIRouter

from expertloop.web.pages import account, auth, home, models, projects, staff


def build_router() -> APIRouter:
    """Return the router with every page mounted."""
    router = APIRouter(include_in_schema=False)
    for module in (auth, home, projects, account, staff, models):
        router.include_router(module.router)
    return router
