"""Payout runs: pay every expert what they are owed up to a date, exactly once.

Idempotent: a run is named by its idempotency key. Repeating the key with the same period returns
the same run (the same answer); with another period it is refused (409). Runs are serialised (a
PostgreSQL advisory lock; SQLite serialises writers), and each pays the balance still owed, so
two runs with different keys over the same time pay nobody twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from expertloop.events import emit
from expertloop.payments import bonuses, events, ledger, postings
from expertloop.payments.models import LedgerEntry, LedgerTransaction, Payout, PayoutRun
from expertloop.payments.policies import can_run_payroll
from expertloop.types import utcnow

_LOCK_KEY = 7_354_001  # pg_advisory_xact_lock id for payout runs


@dataclass(frozen=True)
class Owed:
    """What one expert is owed in one currency."""

    user_id: int
    currency: str
    amount_minor: int


@dataclass(frozen=True)
class RunResult:
    """A payout run and its payouts; ``created`` is False when the key was seen before."""

    run: PayoutRun
    payouts: list[Payout]
    created: bool


def params_hash(period_start: dt.date, period_end: dt.date) -> str:
    """Fingerprint of a run's parameters (a reused key must bring the same ones)."""
    return hashlib.sha256(
        f"{period_start.isoformat()}|{period_end.isoformat()}".encode()
    ).hexdigest()


def owed(*, session: Session, until: dt.date) -> list[Owed]:
    """Return every expert's unpaid balance from entries effective up to ``until``.

    Never more than the whole balance: a payout effective after ``until`` (a run over a later
    period, done first) has already paid part of what was earned up to ``until``.
    """
    rows = session.execute(
        select(LedgerEntry.user_id, LedgerEntry.currency)
        .where(LedgerEntry.account == ledger.EXPERT_PAYABLE, LedgerEntry.user_id.is_not(None))
        .distinct()
    ).all()
    result = []
    for user_id, currency in sorted(rows, key=lambda r: (r[0] or 0, r[1])):
        if user_id is None:
            continue
        # Credit balances (negative) are what the platform owes.
        due, overall = (
            -ledger.balance(
                session=session,
                account=ledger.EXPERT_PAYABLE,
                currency=currency,
                user_id=user_id,
                until=limit,
            ).get(currency, 0)
            for limit in (until, None)
        )
        amount = min(due, overall)
        if amount > 0:
            result.append(Owed(user_id, currency, amount))
    return result


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def payouts_of(*, session: Session, run_id: int) -> list[Payout]:
    """Return a run's payouts that stand (a reversed payout leaves its run and payout file)."""
    reversed_txns = select(LedgerTransaction.reverses_id).where(
        LedgerTransaction.reverses_id.is_not(None)
    )
    return list(
        session.scalars(
            select(Payout)
            .where(Payout.run_id == run_id, Payout.transaction_id.not_in(reversed_txns))
            .order_by(Payout.user_id, Payout.currency)
        )
    )


def get_run(*, session: Session, actor: User, run_id: int) -> PayoutRun:
    """Return a payout run (operators)."""
    run = session.get(PayoutRun, run_id)
    if run is None or not can_run_payroll(actor):
        raise NotFound("Payout run not found.")
    return run


def list_runs(*, session: Session, limit: int = 50) -> list[PayoutRun]:
    """Return payout runs, newest first."""
    return list(session.scalars(select(PayoutRun).order_by(PayoutRun.id.desc()).limit(limit)))


def _check(actor: User, period_start: dt.date, period_end: dt.date, idempotency_key: str) -> str:
    if not can_run_payroll(actor):
        raise PermissionDenied("Only operators run payouts.")
    if period_end < period_start:
        raise ValidationFailed("The period ends before it starts.")
    if period_end > utcnow().date():
        raise ValidationFailed("A payout period cannot end in the future.")
    key = idempotency_key.strip()
    if not key or len(key) > 200:
        raise ValidationFailed("An idempotency key of 1 to 200 characters is needed.")
    return key


def check_request(
    *,
    session: Session,
    actor: User,
    period_start: dt.date,
    period_end: dt.date,
    idempotency_key: str,
) -> str:
    """Refuse a run ``run`` would refuse before paying anyone; return the trimmed key.

    For callers that hand the run to a background job and want the refusal now.
    """
    key = _check(actor, period_start, period_end, idempotency_key)
    existing = session.scalar(select(PayoutRun).where(PayoutRun.idempotency_key == key))
    if existing is not None and existing.params_hash != params_hash(period_start, period_end):
        raise Conflict(
            "This idempotency key was used for another period; use a new key.",
            details={"run_id": existing.id},
        )
    return key


def run(
    *,
    session: Session,
    actor: User,
    period_start: dt.date,
    period_end: dt.date,
    idempotency_key: str,
    default_margin_bp: int,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult | list[Owed]:
    """Pay everything owed up to ``period_end`` (or, with ``dry_run``, say what would be paid)."""
    key = _check(actor, period_start, period_end, idempotency_key)
    fingerprint = params_hash(period_start, period_end)
    if dry_run:
        existing = session.scalar(select(PayoutRun).where(PayoutRun.idempotency_key == key))
        if existing is not None and existing.params_hash != fingerprint:
            raise Conflict("This idempotency key was used for another period.")
        # Show what the run would pay, bonuses included: award them, read, undo.
        preview = session.begin_nested()
        try:
            bonuses.evaluate(
                session=session, actor=actor, until=period_end, default_margin_bp=default_margin_bp
            )
            return owed(session=session, until=period_end)
        finally:
            preview.rollback()
    _lock(session)
    existing = session.scalar(select(PayoutRun).where(PayoutRun.idempotency_key == key))
    if existing is not None:
        if existing.params_hash != fingerprint:
            raise Conflict(
                "This idempotency key was used for another period; use a new key.",
                details={"run_id": existing.id},
            )
        return RunResult(existing, payouts_of(session=session, run_id=existing.id), False)
    payout_run = PayoutRun(
        idempotency_key=key,
        period_start=period_start,
        period_end=period_end,
        params_hash=fingerprint,
        created_by_id=actor.id,
    )
    session.add(payout_run)
    session.flush()  # the key is unique: a racing twin fails here and is answered by the caller
    bonuses.evaluate(
        session=session, actor=actor, until=period_end, default_margin_bp=default_margin_bp
    )
    due = owed(session=session, until=period_end)
    made = []
    for index, item in enumerate(due, start=1):
        txn = postings.post_payout(
            session=session,
            user_id=item.user_id,
            currency=item.currency,
            amount_minor=item.amount_minor,
            period_end=period_end,
            run_id=payout_run.id,
            created_by_id=actor.id,
        )
        payout = Payout(
            run_id=payout_run.id,
            user_id=item.user_id,
            currency=item.currency,
            amount_minor=item.amount_minor,
            transaction_id=txn.id,
        )
        session.add(payout)
        made.append(payout)
        if progress is not None:
            progress(index, len(due))
    session.flush()
    totals: dict[str, int] = {}
    for p in made:
        totals[p.currency] = totals.get(p.currency, 0) + p.amount_minor
    emit(
        events.PayoutRunCreated(
            actor_user_id=actor.id,
            subject_type="payout_run",
            subject_id=str(payout_run.id),
            period_end=period_end.isoformat(),
            payouts=len(made),
            totals=", ".join(f"{c} {t}" for c, t in sorted(totals.items())),
        ),
        session=session,
    )
    return RunResult(payout_run, made, True)


def require_run(result: RunResult | list[Owed]) -> RunResult:
    """Narrow ``run``'s answer for callers that did not ask for a dry run."""
    if not isinstance(result, RunResult):
        raise NotFound("Not a payout run.")
    return result
