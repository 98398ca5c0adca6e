"""Shared helpers for CLI commands: settings, database access and error output."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.orm import Session

from expertloop.db import make_engine, make_session_factory, transaction
from expertloop.errors import ExpertLoopError
from expertloop.settings import Settings, get_settings

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error in red and return the Exit to raise."""
    err_console.print(f"[bold red]Error:[/] {message}")
    return typer.Exit(code)


def settings(**overrides: Any) -> Settings:
    """Return the settings from the environment (plus overrides); a bad value exits cleanly."""
    try:
        return Settings(**overrides) if overrides else get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"EXPERTLOOP_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise fail(f"Invalid settings: {problems}") from None


@contextmanager
def db_session(cfg: Settings | None = None) -> Iterator[Session]:
    """Open a session that commits when the command succeeds; domain errors exit cleanly."""
    engine = make_engine(cfg or settings())
    try:
        with transaction(make_session_factory(engine)) as session:
            yield session
    except ExpertLoopError as exc:
        raise fail(exc.message) from None
    finally:
        engine.dispose()
