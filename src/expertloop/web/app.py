"""Build the ASGI application from settings; nothing is created at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker

from expertloop import __version__
from expertloop.accounts.login import LoginThrottle
from expertloop.db import check_schema_current, make_engine, make_session_factory
from expertloop.llm.hub import ModelHub
from expertloop.settings import Settings
from expertloop.web import errors
from expertloop.web.api import build_router as build_api_router
from expertloop.web.pages import build_router as build_pages_router
from expertloop.web.security import SecurityHeadersMiddleware
from expertloop.web.templating import make_templates
from expertloop.web.wiring import build_queue

STATIC_DIR = Path(__file__).parent / "static"
log = logging.getLogger("expertloop.web")


def create_app(
    settings: Settings,
    *,
    session_factory: sessionmaker[Session] | None = None,
    check_schema: bool = True,
    with_worker: bool = False,
) -> FastAPI:
    """Return the application: JSON API under /api/v1, pages, static files.

    ``session_factory`` lets tests run every request inside a rolled-back transaction;
    ``with_worker`` runs job worker threads inside this process while it serves.
    """
    settings.check_startable()
    engine = None
    if session_factory is None:
        engine = make_engine(settings)
        session_factory = make_session_factory(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if check_schema and engine is not None:
            check_schema_current(engine)  # refuses to start on a schema that is behind
        log.info("ExpertLoop %s serving (%s mode)", __version__, settings.env)
        consumer = app.state.jobs.start_in_process() if with_worker else None
        try:
            yield
        finally:
            if consumer is not None:
                consumer.close()
        await app.state.hub.aclose()
        if engine is not None:
            engine.dispose()

    app = FastAPI(
        title="ExpertLoop API",
        version=__version__,
        description="Expert-in-the-loop AI training programs: accounts, projects and more. "
        "Authenticate with `Authorization: Bearer <token>` (create one on your account page) "
        "or with the session cookie plus the `X-CSRF-Token` header.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # served below from our own static files, not a CDN
        redoc_url=None,
        lifespan=lifespan,
        debug=False,
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.throttle = LoginThrottle(
        settings.rate_limit_storage_url,
        settings.login_limit_per_account,
        settings.login_limit_per_address,
    )
    app.state.templates = make_templates(env_name=settings.env)
    app.state.hub = ModelHub.from_settings(settings)
    app.state.jobs = build_queue(settings, session_factory, app.state.hub)
    errors.install(app)
    app.add_middleware(SecurityHeadersMiddleware, hsts=bool(settings.cookie_secure))
    app.include_router(build_api_router())
    app.include_router(build_pages_router())
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/api/v1/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/v1/openapi.json",
            title="ExpertLoop API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    return app
