"""Corrections: reverse a posted transaction (operators), and reopen what it came from."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.errors import NotFound
from expertloop.events import emit
from expertloop.payments import events, ledger
from expertloop.payments.models import (
    LedgerTransaction,
    Timesheet,
    TimesheetLine,
    TimesheetStatus,
)
from expertloop.payments.policies import can_run_payroll
from expertloop.types import utcnow


def reverse(
    *, session: Session, actor: User, transaction_id: int, reason: str
) -> LedgerTransaction:
    """Post the exact reversal of a transaction; a reversed week goes back to its expert.

    A reversed timesheet is returned (its frozen lines are dropped; approving it again posts
    anew). A reversed bonus stays revoked (its source is never paid again). A reversed payout
    leaves the money owed, so the next payout run pays it.
    """
    if not can_run_payroll(actor):
        raise NotFound("Transaction not found.")
    txn = ledger.reverse(
        session=session, transaction_id=transaction_id, reason=reason, created_by_id=actor.id
    )
    sheet = session.scalar(select(Timesheet).where(Timesheet.transaction_id == transaction_id))
    if sheet is not None:
        session.execute(delete(TimesheetLine).where(TimesheetLine.timesheet_id == sheet.id))
        sheet.status = TimesheetStatus.returned
        sheet.comment = f"Approval reversed: {reason.strip()}"[:5000]
        sheet.transaction_id = None
        sheet.decided_by_id = actor.id
        sheet.decided_at = utcnow()
        session.flush()
    emit(
        events.TransactionReversed(
            actor_user_id=actor.id,
            subject_type="ledger_transaction",
            subject_id=str(transaction_id),
            reason=reason.strip()[:500],
        ),
        session=session,
    )
    return txn
