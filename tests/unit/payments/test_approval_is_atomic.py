"""A crash between freezing a week's lines and posting them leaves both or neither: the approval,
its lines and its ledger transaction commit together or not at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from expertloop.accounts.models import User
from expertloop.db import transaction
from expertloop.events import AuditLog
from expertloop.payments import ledger, postings, timesheets
from expertloop.payments.models import (
    LedgerEntry,
    LedgerTransaction,
    Timesheet,
    TimesheetLine,
    TimesheetStatus,
)
from tests.unit.payments.conftest import (
    CUTOFF,
    MARGIN_BP,
    PROJECT_A_RATE,
    add_beats,
    at,
    build_pay,
    monday,
)


class Crash(RuntimeError):
    """The process dies here."""


def _crash(*_args: Any, **_kwargs: Any) -> Any:
    raise Crash("power cut")


def _crash_after(real: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise Crash("power cut")

    return wrapped


CRASHES: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    # The line is frozen (added to the session), then pricing its posting fails.
    "building the entries": lambda mp: mp.setattr(postings, "earning_lines", _crash),
    "posting": lambda mp: mp.setattr(ledger, "post", _crash),
    "right after posting": lambda mp: mp.setattr(ledger, "post", _crash_after(ledger.post)),
    # Lines, ledger rows and the new status are all flushed; the commit never happens.
    "after everything was flushed": lambda mp: mp.setattr(
        timesheets, "_emit", _crash_after(timesheets._emit)
    ),
}


def _counts(s: Session) -> tuple[int, int, int]:
    return (
        int(s.scalar(select(func.count(TimesheetLine.id))) or 0),
        int(s.scalar(select(func.count(LedgerTransaction.id))) or 0),
        int(s.scalar(select(func.count(LedgerEntry.id))) or 0),
    )


@pytest.mark.parametrize("where", list(CRASHES))
def test_a_crash_while_approving_leaves_both_or_neither(
    fresh_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    with transaction(fresh_factory) as s:
        pay = build_pay(s)
        add_beats(s, pay.expert_a, pay.project_a, at(monday(1), 9), 61, 60)
        add_beats(s, pay.expert_a, pay.project_b, at(monday(1), 14), 31, 60)
        sheet_id = pay.submit(pay.expert_a, monday(1)).id
        operator_id = pay.operator.id

    def approve() -> None:
        with transaction(fresh_factory) as s:
            actor = s.get(User, operator_id)
            sheet = s.get(Timesheet, sheet_id)
            assert actor is not None and sheet is not None
            timesheets.approve(
                session=s, actor=actor, sheet=sheet, idle_cutoff=CUTOFF, default_margin_bp=MARGIN_BP
            )

    with monkeypatch.context() as mp:
        CRASHES[where](mp)
        with pytest.raises(Crash):
            approve()

    with transaction(fresh_factory) as s:  # neither
        sheet = s.get(Timesheet, sheet_id)
        assert sheet is not None
        assert (sheet.status, sheet.transaction_id, sheet.decided_at) == (
            TimesheetStatus.submitted,
            None,
            None,
        )
        assert _counts(s) == (0, 0, 0)
        assert (
            s.scalar(
                select(func.count(AuditLog.id)).where(
                    AuditLog.kind == "payments.timesheet_transitioned",
                    AuditLog.data["to_status"].as_string() == "approved",
                )
            )
            == 0
        )

    approve()  # the retry after the crash: both, once
    with transaction(fresh_factory) as s:
        sheet = s.get(Timesheet, sheet_id)
        assert sheet is not None and sheet.status == TimesheetStatus.approved
        assert _counts(s) == (2, 1, 6)
        assert sheet.transaction_id is not None
        paid = ledger.balance(session=s, account="expert_payable")
        assert paid == {"USD": -(PROJECT_A_RATE + 60_00)}  # 1 h on A, 30 min on B at 120.00
