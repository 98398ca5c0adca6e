"""The double-entry ledger: balanced, append-only transactions; corrections are reversals.

Sign: a positive amount is a debit, a negative one a credit. Every transaction sums to zero in
each currency. The database refuses UPDATE and DELETE on both tables (triggers), so history
cannot be rewritten, only reversed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.errors import Conflict, NotFound, ValidationFailed
from expertloop.payments.models import LedgerEntry, LedgerTransaction

EXPERT_PAYABLE = "expert_payable"  # what the platform owes each expert (credit balance)
CLIENT_RECEIVABLE = "client_receivable"  # what each client owes (debit balance)
PLATFORM_REVENUE = "platform_revenue"  # the margin on client billing (credit balance)
CASH = "cash"  # money paid out (credit) and received (debit)
ACCOUNTS = frozenset({EXPERT_PAYABLE, CLIENT_RECEIVABLE, PLATFORM_REVENUE, CASH})


@dataclass(frozen=True)
class Line:
    """One entry to post."""

    account: str
    currency: str
    amount_minor: int
    user_id: int | None = None
    project_id: int | None = None
    organisation_id: int | None = None
    memo: str = ""


def check_balanced(lines: list[Line]) -> None:
    """Raise unless the lines are integers on known accounts and sum to zero per currency."""
    if len(lines) < 2:
        raise ValidationFailed("A transaction needs at least two entries.")
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        if line.account not in ACCOUNTS:
            raise ValidationFailed(f"Unknown ledger account {line.account!r}.")
        if type(line.amount_minor) is not int:  # bool and float are refused
            raise ValidationFailed("Ledger amounts are whole minor units.")
        totals[line.currency] += line.amount_minor
    unbalanced = {c: t for c, t in totals.items() if t != 0}
    if unbalanced:
        raise ValidationFailed(f"The entries do not balance: {unbalanced}.")


def post(
    *,
    session: Session,
    kind: str,
    description: str,
    effective_on: dt.date,
    lines: list[Line],
    idempotency_key: str | None = None,
    created_by_id: int | None = None,
    reverses_id: int | None = None,
) -> LedgerTransaction:
    """Append a balanced transaction (zero-amount lines are dropped)."""
    lines = [line for line in lines if line.amount_minor != 0]
    check_balanced(lines)
    txn = LedgerTransaction(
        kind=kind,
        description=description,
        effective_on=effective_on,
        idempotency_key=idempotency_key,
        created_by_id=created_by_id,
        reverses_id=reverses_id,
    )
    session.add(txn)
    session.flush()
    session.add_all(
        LedgerEntry(
            transaction_id=txn.id,
            account=line.account,
            user_id=line.user_id,
            project_id=line.project_id,
            organisation_id=line.organisation_id,
            currency=line.currency,
            amount_minor=line.amount_minor,
            memo=line.memo,
        )
        for line in lines
    )
    session.flush()
    return txn


def entries_of(*, session: Session, transaction_id: int) -> list[LedgerEntry]:
    """Return a transaction's entries."""
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.transaction_id == transaction_id)
            .order_by(LedgerEntry.id)
        )
    )


def reverse(
    *, session: Session, transaction_id: int, reason: str, created_by_id: int | None = None
) -> LedgerTransaction:
    """Post the exact opposite of a transaction (once); the original stays as it was."""
    original = session.get(LedgerTransaction, transaction_id)
    if original is None:
        raise NotFound("Transaction not found.")
    if original.reverses_id is not None:
        raise Conflict("A reversal is not reversed; post a new transaction instead.")
    already = session.scalar(
        select(LedgerTransaction.id).where(LedgerTransaction.reverses_id == original.id)
    )
    if already is not None:
        raise Conflict("This transaction was already reversed.")
    if not reason.strip():
        raise ValidationFailed("Say why the transaction is reversed.")
    lines = [
        Line(
            account=e.account,
            currency=e.currency,
            amount_minor=-e.amount_minor,
            user_id=e.user_id,
            project_id=e.project_id,
            organisation_id=e.organisation_id,
            memo=f"Reversal: {e.memo}" if e.memo else "Reversal",
        )
        for e in entries_of(session=session, transaction_id=original.id)
    ]
    return post(
        session=session,
        kind="reversal",
        description=f"Reversal of #{original.id} ({original.description}): {reason.strip()}",
        effective_on=original.effective_on,
        lines=lines,
        created_by_id=created_by_id,
        reverses_id=original.id,
    )


def balance(
    *,
    session: Session,
    account: str,
    currency: str | None = None,
    user_id: int | None = None,
    project_id: int | None = None,
    organisation_id: int | None = None,
    until: dt.date | None = None,
) -> dict[str, int]:
    """Sum an account's entries (debits positive) per currency, optionally narrowed."""
    query = (
        select(LedgerEntry.currency, func.coalesce(func.sum(LedgerEntry.amount_minor), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.account == account)
        .group_by(LedgerEntry.currency)
    )
    if currency is not None:
        query = query.where(LedgerEntry.currency == currency)
    if user_id is not None:
        query = query.where(LedgerEntry.user_id == user_id)
    if project_id is not None:
        query = query.where(LedgerEntry.project_id == project_id)
    if organisation_id is not None:
        query = query.where(LedgerEntry.organisation_id == organisation_id)
    if until is not None:
        query = query.where(LedgerTransaction.effective_on <= until)
    return {c: int(total) for c, total in session.execute(query).all()}


def statement_entries(
    *,
    session: Session,
    account: str,
    user_id: int | None = None,
    project_id: int | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[tuple[LedgerTransaction, LedgerEntry]]:
    """Return an account's entries with their transactions, oldest first."""
    query = (
        select(LedgerTransaction, LedgerEntry)
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(LedgerEntry.account == account)
        .order_by(LedgerTransaction.effective_on, LedgerTransaction.id, LedgerEntry.id)
    )
    if user_id is not None:
        query = query.where(LedgerEntry.user_id == user_id)
    if project_id is not None:
        query = query.where(LedgerEntry.project_id == project_id)
    if since is not None:
        query = query.where(LedgerTransaction.effective_on >= since)
    if until is not None:
        query = query.where(LedgerTransaction.effective_on <= until)
    return [(t, e) for t, e in session.execute(query).all()]
