"""``expertloop serve``: run the web server."""

from __future__ import annotations

import logging

import typer
import uvicorn

from expertloop.cli.common import console, fail, settings
from expertloop.db import check_schema_current, make_engine
from expertloop.errors import ConfigurationError
from expertloop.settings import Settings
from expertloop.web.app import create_app


def preflight(cfg: Settings) -> None:
    """Refuse to start with unsafe settings or a schema that is behind, saying what to do."""
    try:
        cfg.check_startable()
        engine = make_engine(cfg)
        try:
            check_schema_current(engine)
        finally:
            engine.dispose()
    except ConfigurationError as exc:
        raise fail(exc.message) from None


def run_server(
    cfg: Settings, host: str, port: int, workers: int = 1, *, with_worker: bool = False
) -> None:
    """Serve the app with uvicorn (several workers use the factory entry point)."""
    logging.basicConfig(level=cfg.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if workers > 1:
        uvicorn.run(
            "expertloop.web.asgi:app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=cfg.trust_forwarded_for,
        )
    else:
        uvicorn.run(
            create_app(cfg, with_worker=with_worker),
            host=host,
            port=port,
            proxy_headers=cfg.trust_forwarded_for,
        )


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes (production: 2 per core)."),
    with_worker: bool = typer.Option(
        False, "--with-worker", help="Also run background jobs in this process (one process only)."
    ),
) -> None:
    """Serve ExpertLoop (the JSON API and the pages)."""
    cfg = settings()
    preflight(cfg)
    if with_worker and workers > 1:
        raise fail(
            "--with-worker runs jobs inside a single server process; with --workers above 1, "
            "run `expertloop worker` beside the servers instead."
        )
    console.print(f"Serving on [bold]http://{host}:{port}[/] ({cfg.env} mode)")
    if with_worker:
        console.print("Running background jobs in this process")
    run_server(cfg, host, port, workers, with_worker=with_worker)
