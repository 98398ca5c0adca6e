"""JSON API under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from expertloop.web.api import audit, auth, models, organisations, projects, runs, tokens, users


def build_router() -> APIRouter:
    """Return the /api/v1 router with every resource mounted."""
    router = APIRouter(prefix="/api/v1")
    for module in (auth, tokens, users, organisations, projects, models, runs, audit):
        router.include_router(module.router)
    return router
