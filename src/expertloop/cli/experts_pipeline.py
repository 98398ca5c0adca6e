"""``expertloop experts`` commands: pipeline (filled in by the expert-network work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this part's commands to the ``experts`` group."""
