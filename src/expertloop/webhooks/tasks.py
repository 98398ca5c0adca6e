"""Webhooks on the queue: the delivery job, the every-minute sweep, and the after-commit trigger.

- ``webhooks.deliver`` (a job) sends the deliveries it names that are due, a few at a time.
- The sweep (a periodic chore) scans the audit log and hands due deliveries (new ones and
  retries) to a delivery job.
- The trigger scans right after a commit that recorded a source event, so a delivery leaves
  within moments rather than at the next minute.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
import threading
import weakref
from collections.abc import Coroutine
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from expertloop.db import transaction
from expertloop.events import EMITTED_KINDS_KEY
from expertloop.jobs.queue import JobQueue
from expertloop.jobs.runner import Handler, JobContext
from expertloop.llm.hub import ModelHub
from expertloop.settings import Settings
from expertloop.types import utcnow
from expertloop.webhooks import delivery, outbox
from expertloop.webhooks.deliveries import DELIVER_KIND, submit_delivery_job
from expertloop.webhooks.models import DeliveryStatus

log = logging.getLogger("expertloop.webhooks")

# Receivers sent to at once by one job (each waits at most the timeout).
BATCH = 8
T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from sync code, also when this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def deliver(ctx: JobContext) -> dict[str, Any]:
    """Send the named deliveries that are due; each attempt is logged and retried later."""
    hub: ModelHub = ctx.services["hub"]
    settings: Settings = ctx.services["settings"]
    timeout = settings.webhooks_timeout_seconds
    ids = [int(i) for i in ctx.payload.get("delivery_ids", [])]
    counts = {"delivered": 0, "retrying": 0, "failed": 0, "skipped": 0}
    for start in range(0, len(ids), BATCH):
        claimed: list[delivery.Claimed] = []
        for delivery_id in ids[start : start + BATCH]:
            with ctx.transaction() as session:
                got = delivery.claim(
                    session=session,
                    delivery_id=delivery_id,
                    box=hub.box,
                    lease=delivery.lease_for(timeout),
                )
            if got is None:
                counts["skipped"] += 1  # delivered already, not due, or another worker has it
            else:
                claimed.append(got)
        if not claimed:
            continue
        outcomes = _run(delivery.send_all(claimed, policy=hub.runtime.policy, timeout=timeout))
        for item, outcome in zip(claimed, outcomes, strict=True):
            with ctx.transaction() as session:
                status = delivery.record(session=session, claimed=item, outcome=outcome)
            if status is None:
                counts["skipped"] += 1
            elif status == DeliveryStatus.pending:
                counts["retrying"] += 1
            else:
                counts[status.value] += 1
        ctx.progress(min(start + BATCH, len(ids)), len(ids), force=True)
    return counts


HANDLERS: dict[str, Handler] = {DELIVER_KIND: deliver}


def scan_and_hand_over(
    queue: JobQueue, *, session: Session, now: dt.datetime | None = None
) -> list[int]:
    """Scan the outbox and give every due delivery (new or retry) to one delivery job."""
    now = now or utcnow()
    outbox.scan(
        session=session,
        base_url=queue.settings.base_url,
        max_attempts=queue.settings.webhooks_max_attempts,
        now=now,
    )
    due = delivery.due_ids(session=session, now=now)
    if due:
        submit_delivery_job(session=session, queue=queue, delivery_ids=due)
    return due


def sweep(queue: JobQueue) -> list[int]:
    """Run every minute: scan for events and send what is due (retries included)."""
    with transaction(queue.session_factory) as session:
        return scan_and_hand_over(queue, session=session)


# --- After-commit trigger ---------------------------------------------------------------------

_guard = threading.local()


class _Trigger:
    """Scan right after a commit that recorded a source kind, in a fresh session."""

    def __init__(self, factory: sessionmaker[Session], queue: JobQueue) -> None:
        self.factory = factory
        self.queue = queue

    def after_commit(self, session: Session) -> None:
        if session.in_nested_transaction():  # a savepoint's release; wait for the real commit
            return
        kinds = session.info.pop(EMITTED_KINDS_KEY, None)
        if not kinds or not (kinds & outbox.SOURCE_KINDS):
            return
        # The scan's own commit (and, in immediate mode, the delivery job run inside it) commits
        # again; those commits must not start another scan from inside this one.
        if getattr(_guard, "active", False):
            return
        _guard.active = True
        try:
            with transaction(self.factory) as fresh:
                scan_and_hand_over(self.queue, session=fresh)
        except Exception:  # the committed work stands; the minute sweep catches up
            log.exception("webhooks: scanning after commit failed")
        finally:
            _guard.active = False

    def after_soft_rollback(self, session: Session, previous: SessionTransaction) -> None:
        if previous.parent is None:
            session.info.pop(EMITTED_KINDS_KEY, None)


_TRIGGERS: weakref.WeakKeyDictionary[sessionmaker[Session], _Trigger] = weakref.WeakKeyDictionary()


def install_trigger(factory: sessionmaker[Session], queue: JobQueue) -> None:
    """Scan for webhook events after every commit of ``factory``'s sessions that emitted one."""
    existing = _TRIGGERS.get(factory)
    if existing is not None:  # one listener per factory; the newest queue wins
        existing.queue = queue
        return
    trigger = _Trigger(factory, queue)
    _TRIGGERS[factory] = trigger
    event.listen(factory, "after_commit", trigger.after_commit)
    event.listen(factory, "after_soft_rollback", trigger.after_soft_rollback)
