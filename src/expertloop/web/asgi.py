"""ASGI entry point for process managers: ``uvicorn expertloop.web.asgi:app --factory``."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from expertloop.settings import get_settings
from expertloop.web.app import create_app


def app() -> FastAPI:
    """Build the application from the environment's settings."""
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    return create_app(settings)
