"""The composition root's list of background-job handlers, one mapping per domain.

The app (immediate mode and ``serve --with-worker``), ``expertloop worker`` and the CLI build their
``JobQueue`` from this, so every process knows the same job kinds.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from expertloop.datasets import import_tasks as datasets_import_tasks
from expertloop.datasets import tasks as datasets_tasks
from expertloop.jobs.queue import JobQueue
from expertloop.jobs.runner import Handler
from expertloop.llm.hub import ModelHub
from expertloop.payments import tasks as payments_tasks
from expertloop.settings import Settings
from expertloop.webhooks import tasks as webhooks_tasks
from expertloop.workbench import batch_runs as workbench_batch_runs


def job_handlers() -> dict[str, Handler]:
    """Return every job kind the platform runs, mapped to its handler."""
    handlers: dict[str, Handler] = {}
    handlers.update(datasets_import_tasks.IMPORT_HANDLERS)
    handlers.update(datasets_tasks.HANDLERS)
    handlers.update(payments_tasks.HANDLERS)
    handlers.update(workbench_batch_runs.HANDLERS)
    handlers.update(webhooks_tasks.HANDLERS)
    return handlers


def periodic_chores() -> dict[str, Callable[[JobQueue], object]]:
    """Return the chores the job consumer runs every minute, by name."""
    chores: dict[str, Callable[[JobQueue], object]] = {}
    chores["webhooks.scan"] = webhooks_tasks.sweep
    chores.update(datasets_tasks.CHORES)
    return chores


def build_queue(
    settings: Settings, session_factory: sessionmaker[Session], hub: ModelHub
) -> JobQueue:
    """Return the job queue for these settings with every handler and the shared services."""
    queue = JobQueue(
        settings,
        session_factory,
        job_handlers(),
        services={"hub": hub, "settings": settings},
        periodic=periodic_chores(),
    )
    # Webhook events leave right after the commit that recorded them (the sweep catches up).
    webhooks_tasks.install_trigger(session_factory, queue)
    return queue
