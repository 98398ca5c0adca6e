"""ASGI entry point for process managers: ``uvicorn expertloop.web.asgi:app --factory``."""

from __future__ import annotations

from fastapi import FastAPI

from expertloop.settings import get_settings
from expertloop.web.app import create_app


def app() -> FastAPI:
    """Build the application from the environment's settings."""
    return create_app(get_settings())
