"""The task queue: Huey with a SQLite file (embedded default) or Redis (several machines).

One Huey task, ``expertloop.run_job(job_id)``, runs any job through ``runner.run_job``; the
``jobs`` table is the record users follow, the queue only carries ids. A periodic task reaps jobs
whose worker died. Nothing is built at import: ``JobQueue(settings, ...)`` in the composition
root (the app, the worker command, the CLI).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer
from sqlalchemy.orm import Session, sessionmaker

from expertloop.db import transaction
from expertloop.errors import ValidationFailed
from expertloop.jobs.runner import Handler, Outcome, reap, run_job
from expertloop.settings import Settings

log = logging.getLogger("expertloop.jobs")

QUEUE_NAME = "expertloop"


def build_huey(settings: Settings) -> Huey:
    """Return the Huey instance these settings ask for (nothing connects until used)."""
    if settings.jobs_immediate:
        return MemoryHuey(QUEUE_NAME, immediate=True, results=False)
    if settings.redis_url:
        return RedisHuey(QUEUE_NAME, url=settings.redis_url, results=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(
        QUEUE_NAME, filename=str((settings.data_dir / "queue.sqlite3").resolve()), results=False
    )


class JobQueue:
    """The app's handle on the queue: enqueue job ids; run a consumer in-process or standalone."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        handlers: Mapping[str, Handler],
        *,
        services: Mapping[str, Any] | None = None,
        periodic: Mapping[str, Callable[[JobQueue], object]] | None = None,
        huey: Huey | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.handlers = dict(handlers)
        self.services: dict[str, Any] = dict(services or {})
        self.max_attempts = settings.jobs_max_attempts
        self.huey = huey or build_huey(settings)
        self._run_task = self.huey.task(name="expertloop.run_job")(self._run)
        self.huey.periodic_task(crontab(minute="*"), name="expertloop.reap_jobs")(self.reap)
        # Other domains' chores, run every minute by the consumer (e.g. webhook retries).
        self.periodic = dict(periodic or {})
        for name, chore in self.periodic.items():
            self.huey.periodic_task(crontab(minute="*"), name=f"expertloop.{name}")(
                _bind(chore, self)
            )
        self.last_outcome: Outcome | None = None

    @property
    def immediate(self) -> bool:
        """Tell whether jobs run synchronously inside the request that submits them."""
        return bool(self.huey.immediate)

    def check_kind(self, kind: str) -> None:
        """Refuse a job kind no handler is registered for."""
        if kind not in self.handlers:
            raise ValidationFailed(f"Unknown job kind {kind!r}.")

    def enqueue(self, job_id: int, *, delay: float | None = None) -> None:
        """Put a job id on the queue (after its row has committed)."""
        if delay:
            self._run_task.schedule(args=(job_id,), delay=delay)
        else:
            self._run_task(job_id)

    def _run(self, job_id: int) -> None:
        outcome = run_job(
            job_id=job_id,
            session_factory=self.session_factory,
            handlers=self.handlers,
            services=self.services,
            heartbeat=not self.immediate,
        )
        self.last_outcome = outcome
        if outcome.retry_in is not None:
            if self.immediate:
                self._run(job_id)
            else:
                self.enqueue(job_id, delay=outcome.retry_in)

    def reap(self) -> list[int]:
        """Requeue or fail jobs whose worker died, and re-send lost queue messages."""
        with transaction(self.session_factory) as session:
            ids = reap(session=session, lease_seconds=self.settings.jobs_lease_seconds)
        for job_id in ids:
            self.enqueue(job_id)
        if ids:
            log.info("reaped jobs %s", ids)
        return ids

    def consumer(self, *, workers: int | None = None, in_process: bool = False) -> Consumer:
        """Return a Huey consumer for this queue (``in_process``: it leaves signals alone)."""
        if log.getEffectiveLevel() > logging.DEBUG:
            # Huey logs every task it runs, the minute chores included; ours log what matters.
            logging.getLogger("huey").setLevel(logging.WARNING)
        cls = _InProcessConsumer if in_process else Consumer
        return cls(
            self.huey,
            workers=workers or self.settings.worker_threads,
            periodic=True,
            worker_type="thread",
            initial_delay=0.05,
            max_delay=1.0,
            backoff=1.15,
            check_worker_health=True,
        )

    def start_in_process(self, *, workers: int | None = None) -> _InProcessConsumer:
        """Start worker threads inside this process (demo, ``serve --with-worker``)."""
        if self.immediate:
            raise ValidationFailed("Immediate mode runs jobs in the request; no worker to start.")
        self.reap()
        consumer = self.consumer(workers=workers, in_process=True)
        assert isinstance(consumer, _InProcessConsumer)
        consumer.start()
        return consumer


def _bind(chore: Callable[[JobQueue], object], queue: JobQueue) -> Callable[[], None]:
    def run() -> None:
        chore(queue)

    return run


class _InProcessConsumer(Consumer):  # type: ignore[misc]
    """A consumer whose threads run beside a server: no signal handlers, stopped by the host."""

    def _set_signal_handlers(self) -> None:
        return None

    def close(self) -> None:
        """Stop the worker threads, letting running jobs finish for a moment."""
        self.stop(graceful=True)
