"""``expertloop demo``: a ready-to-try instance with sample data."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from expertloop.cli.common import console, db_session, settings
from expertloop.cli.demo_network import DEMO_CANDIDATE
from expertloop.cli.demo_seed import DEMO_LOGINS, seed_demo
from expertloop.cli.serve import run_server
from expertloop.db import make_engine, upgrade
from expertloop.llm.hub import ModelHub


def demo(
    data_dir: Path = typer.Option(Path("expertloop-demo"), help="Where the demo keeps its data."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    serve: bool = typer.Option(True, help="Serve after seeding (--no-serve only prepares)."),
) -> None:
    """Create a demo data directory, migrate, seed accounts, a project and work, and serve."""
    # The demo always uses its own SQLite file, whatever EXPERTLOOP_DATABASE_URL says.
    cfg = settings(
        env="demo", data_dir=data_dir, database_url=None, base_url=f"http://{host}:{port}"
    )
    engine = make_engine(cfg)
    try:
        with console.status("Preparing the database…"):
            upgrade(engine)
    finally:
        engine.dispose()
    with db_session(cfg) as session:
        created = seed_demo(session=session, hub=ModelHub.from_settings(cfg), settings=cfg)
    console.print("[green]Seeded demo data.[/]" if created else "Demo data already present.")
    table = Table(title="Demo logins")
    for col in ("role", "email", "password"):
        table.add_column(col, no_wrap=True)
    for login in DEMO_LOGINS:
        table.add_row(login.role.value, login.email, login.password)
    table.add_row("candidate", DEMO_CANDIDATE.email, DEMO_CANDIDATE.password)
    console.print(table)
    url = f"http://{host}:{port}/login"
    console.print(f"Open [bold]{url}[/] (data in {data_dir.resolve()})")
    if serve:
        run_server(cfg, host, port, with_worker=True)
