"""Payout runs as background jobs: submit one (refused at once when ``payouts.run`` would refuse
it), and the handler that makes the run.

Idempotent twice over: the run's idempotency key names one job (``payout:<key>``) and one payout
run. A redo after a crash finds the run the first attempt committed (``payouts.run`` answers with
it), or makes it whole: the run is one transaction, so a crash never leaves half of one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.errors import Conflict, PermissionDenied
from expertloop.jobs import records
from expertloop.jobs.models import Job
from expertloop.jobs.runner import Handler, JobCancelledError, JobContext
from expertloop.payments import money, payouts

if TYPE_CHECKING:
    from expertloop.jobs.queue import JobQueue

KIND = "payments.payout_run"


def job_key(idempotency_key: str) -> str:
    """Return the job idempotency key of a payout run's key (hashed when it would not fit)."""
    key = f"payout:{idempotency_key.strip()}"
    if len(key) <= 200:
        return key
    return f"payout:sha256:{hashlib.sha256(idempotency_key.strip().encode()).hexdigest()}"


def run_url(run_id: int) -> str:
    """Return the payroll page of a payout run."""
    return f"/payroll/payout-runs/{run_id}"


def submit_run(
    *,
    session: Session,
    queue: JobQueue,
    actor: User,
    period_start: dt.date,
    period_end: dt.date,
    idempotency_key: str,
    default_margin_bp: int,
) -> Job:
    """Record a payout-run job (the same key gives the same job); refuse a bad request now."""
    key = payouts.check_request(
        session=session,
        actor=actor,
        period_start=period_start,
        period_end=period_end,
        idempotency_key=idempotency_key,
    )
    payload = {
        "period_start": period_start.isoformat(),
        "period_end": period_end.isoformat(),
        "idempotency_key": key,
        # The margin in force when the operator asked (bonuses are billed with it).
        "default_margin_bp": default_margin_bp,
    }
    existing = session.scalar(select(Job).where(Job.idempotency_key == job_key(key)))
    if existing is not None and (
        existing.kind != KIND
        or (existing.payload or {}).get("period_start") != payload["period_start"]
        or (existing.payload or {}).get("period_end") != payload["period_end"]
    ):
        raise Conflict(
            "This idempotency key was used for another period; use a new key.",
            details={"job_id": existing.id},
        )
    return records.submit(
        session=session,
        queue=queue,
        kind=KIND,
        payload=payload,
        actor=actor,
        title=f"Payout run {period_start.isoformat()} to {period_end.isoformat()}",
        idempotency_key=job_key(key),
    )


def summary(result: payouts.RunResult) -> dict[str, Any]:
    """Return what a finished payout-run job says about its run."""
    totals: dict[str, int] = {}
    for p in result.payouts:
        totals[p.currency] = totals.get(p.currency, 0) + p.amount_minor
    run = result.run
    return {
        "run_id": run.id,
        "created": result.created,
        "period": f"{run.period_start.isoformat()}..{run.period_end.isoformat()}",
        "payouts": len(result.payouts),
        "totals_minor": dict(sorted(totals.items())),
        "totals": ", ".join(money.format_money(v, c) for c, v in sorted(totals.items())) or "-",
        "run_url": run_url(run.id),
    }


def run_payouts(ctx: JobContext) -> dict[str, Any]:
    """Make the payout run a job asked for (or find the one an earlier attempt made)."""
    payload = ctx.payload
    with ctx.transaction() as session:
        actor = session.get(User, ctx.created_by_id) if ctx.created_by_id is not None else None
        if actor is None or not actor.is_active:
            raise PermissionDenied("The operator who asked for this run is no longer active.")
        # SQLite has one writer: a progress write from another connection would wait for this
        # run's own transaction. There the job reports its progress once the run is made.
        live = session.get_bind().dialect.name != "sqlite"

        def progress(done: int, total: int) -> None:
            if live:
                ctx.progress(done, total, f"{done} of {total} payouts made")

        result = payouts.require_run(
            payouts.run(
                session=session,
                actor=actor,
                period_start=dt.date.fromisoformat(payload["period_start"]),
                period_end=dt.date.fromisoformat(payload["period_end"]),
                idempotency_key=payload["idempotency_key"],
                default_margin_bp=int(payload["default_margin_bp"]),
                progress=progress,
            )
        )
        out = summary(result)
    count = out["payouts"]
    # Too late to cancel once the run is made: the job says what it made.
    with contextlib.suppress(JobCancelledError):
        ctx.progress(count, count, f"{count} payouts made", force=True)
    return out


HANDLERS: dict[str, Handler] = {KIND: run_payouts}
