"""Payout runs: pay what is owed up to the period's end, once; a key names one run."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from expertloop.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from expertloop.payments import ledger, payouts, postings
from expertloop.payments.models import Payout, PayoutRun
from tests.unit.payments.conftest import (
    ITEM_BONUS,
    MARGIN_BP,
    PROJECT_A_RATE,
    Pay,
    accept_problem_set,
    add_beats,
    at,
    monday,
)


def _run(pay: Pay, key: str, start: dt.date, end: dt.date, **kw: object) -> payouts.RunResult:
    actor = kw.pop("actor", pay.operator)
    return payouts.require_run(
        payouts.run(
            session=pay.db,
            actor=actor,  # type: ignore[arg-type]
            period_start=start,
            period_end=end,
            idempotency_key=key,
            default_margin_bp=MARGIN_BP,
            **kw,  # type: ignore[arg-type]
        )
    )


def _earn(pay: Pay, user_id: int, amount: int, on: dt.date, currency: str = "USD") -> None:
    ledger.post(
        session=pay.db,
        kind="time",
        description="Earning",
        effective_on=on,
        lines=postings.earning_lines(
            user_id=user_id,
            project=pay.project_a,
            currency=currency,
            cost_minor=amount,
            margin_minor=amount // 4,
            expert_memo="Earned",
            client_memo="Billed",
        ),
    )


def _paid(result: payouts.RunResult) -> dict[tuple[int, str], int]:
    return {(p.user_id, p.currency): p.amount_minor for p in result.payouts}


def _payable(pay: Pay, user_id: int) -> dict[str, int]:
    return ledger.balance(session=pay.db, account="expert_payable", user_id=user_id)


def test_a_run_pays_what_is_owed_up_to_the_period_end(pay: Pay) -> None:
    add_beats(pay.db, pay.expert_a, pay.project_a, at(monday(1), 9), 61, 60)
    pay.approve_week(pay.expert_a, monday(1))  # effective on the week's Sunday
    _earn(pay, pay.expert_b.id, 40_00, monday(2), "EUR")
    _earn(pay, pay.expert_b.id, 10_00, monday(2))
    _earn(pay, pay.expert_b.id, 99_00, monday(4))  # after the period: not yet
    accept_problem_set(pay.db, pay.project_a, pay.reviewer_a, at(monday(2)))  # a bonus is due
    result = _run(pay, "2024-01", monday(0), monday(3) - dt.timedelta(days=1))
    assert result.created
    assert _paid(result) == {
        (pay.expert_a.id, "USD"): PROJECT_A_RATE,
        (pay.expert_b.id, "EUR"): 40_00,
        (pay.expert_b.id, "USD"): 10_00,
        (pay.reviewer_a.id, "USD"): ITEM_BONUS,
    }
    assert _payable(pay, pay.expert_a.id) == {"USD": 0}
    assert _payable(pay, pay.expert_b.id) == {"EUR": 0, "USD": -99_00}
    assert ledger.balance(session=pay.db, account="cash") == {
        "USD": -(PROJECT_A_RATE + 10_00 + ITEM_BONUS),
        "EUR": -40_00,
    }
    assert payouts.owed(session=pay.db, until=monday(3)) == []
    assert payouts.owed(session=pay.db, until=monday(4)) == [
        payouts.Owed(pay.expert_b.id, "USD", 99_00)
    ]


def test_the_same_key_gives_the_same_answer(pay: Pay) -> None:
    _earn(pay, pay.expert_a.id, 12_34, monday(1))
    first = _run(pay, "run-1", monday(0), monday(2))
    _earn(pay, pay.expert_a.id, 50_00, monday(1))  # earned since: a retry still pays nothing
    again = _run(pay, " run-1 ", monday(0), monday(2))
    assert not again.created
    assert again.run.id == first.run.id
    assert [(p.id, p.amount_minor) for p in again.payouts] == [
        (p.id, p.amount_minor) for p in first.payouts
    ]
    assert pay.db.scalar(select(func.count(PayoutRun.id))) == 1
    assert pay.db.scalar(select(func.count(Payout.id))) == 1


def test_the_same_key_with_another_period_is_refused(pay: Pay) -> None:
    _earn(pay, pay.expert_a.id, 12_34, monday(1))
    first = _run(pay, "run-1", monday(0), monday(2))
    for start, end in ((monday(0), monday(3)), (monday(1), monday(2))):
        with pytest.raises(Conflict, match="another period") as err:
            _run(pay, "run-1", start, end)
        assert err.value.details == {"run_id": first.run.id}
        with pytest.raises(Conflict, match="another period"):
            payouts.run(
                session=pay.db,
                actor=pay.operator,
                period_start=start,
                period_end=end,
                idempotency_key="run-1",
                default_margin_bp=MARGIN_BP,
                dry_run=True,
            )
    assert pay.db.scalar(select(func.count(Payout.id))) == 1


def test_two_keys_over_the_same_period_pay_once(pay: Pay) -> None:
    _earn(pay, pay.expert_a.id, 12_34, monday(1))
    _earn(pay, pay.expert_b.id, 56_78, monday(1))
    first = _run(pay, "run-1", monday(0), monday(2))
    second = _run(pay, "run-2", monday(0), monday(2))
    assert len(first.payouts) == 2
    assert second.created and second.payouts == []
    assert ledger.balance(session=pay.db, account="cash") == {"USD": -(12_34 + 56_78)}


def test_a_later_run_over_an_earlier_period_pays_nobody_twice(pay: Pay) -> None:
    _earn(pay, pay.expert_a.id, 100_00, monday(1))
    _earn(pay, pay.expert_a.id, 50_00, monday(3))
    march = _run(pay, "march", monday(0), monday(4))
    assert _paid(march) == {(pay.expert_a.id, "USD"): 150_00}
    # Someone runs the earlier period afterwards: everything in it was already paid.
    february = _run(pay, "february", monday(0), monday(2))
    assert february.payouts == []
    assert _payable(pay, pay.expert_a.id) == {"USD": 0}
    # Time approved late for the earlier period is paid by the next run covering it, once.
    _earn(pay, pay.expert_a.id, 7_00, monday(1))
    late = _run(pay, "february-late", monday(0), monday(2))
    assert _paid(late) == {(pay.expert_a.id, "USD"): 7_00}
    assert _run(pay, "march-again", monday(0), monday(4)).payouts == []
    assert ledger.balance(session=pay.db, account="cash") == {"USD": -157_00}


def test_a_clawback_is_not_paid_out_and_later_earnings_settle_it(pay: Pay) -> None:
    _earn(pay, pay.expert_a.id, 100_00, monday(1))
    first = _run(pay, "one", monday(0), monday(2))
    earning = next(
        t
        for t, _e in ledger.statement_entries(
            session=pay.db, account="expert_payable", user_id=pay.expert_a.id
        )
        if t.kind == "time"
    )
    ledger.reverse(session=pay.db, transaction_id=earning.id, reason="Billed to the wrong client")
    assert _payable(pay, pay.expert_a.id) == {"USD": 100_00}  # the expert was overpaid
    _earn(pay, pay.expert_a.id, 30_00, monday(3))
    assert _run(pay, "two", monday(2), monday(4)).payouts == []  # still 70.00 overpaid
    _earn(pay, pay.expert_a.id, 90_00, monday(5))
    assert _paid(_run(pay, "three", monday(4), monday(6))) == {(pay.expert_a.id, "USD"): 20_00}
    assert len(first.payouts) == 1


def test_a_dry_run_says_what_would_be_paid_and_pays_nothing(pay: Pay) -> None:
    _earn(pay, pay.expert_a.id, 12_34, monday(1))
    preview = payouts.run(
        session=pay.db,
        actor=pay.operator,
        period_start=monday(0),
        period_end=monday(2),
        idempotency_key="run-1",
        default_margin_bp=MARGIN_BP,
        dry_run=True,
    )
    assert preview == [payouts.Owed(pay.expert_a.id, "USD", 12_34)]
    assert pay.db.scalar(select(func.count(PayoutRun.id))) == 0
    with pytest.raises(Exception, match="Not a payout run"):
        payouts.require_run(preview)
    progress: list[tuple[int, int]] = []
    _run(pay, "run-1", monday(0), monday(2), progress=lambda i, n: progress.append((i, n)))
    assert progress == [(1, 1)]


@pytest.mark.parametrize(
    ("key", "start", "end", "message"),
    [
        ("k", monday(2), monday(1), "ends before"),
        ("   ", monday(0), monday(1), "idempotency key"),
        ("k" * 201, monday(0), monday(1), "idempotency key"),
    ],
)
def test_bad_runs_are_refused(
    pay: Pay, key: str, start: dt.date, end: dt.date, message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        _run(pay, key, start, end)


def test_only_operators_run_payouts_and_see_runs(pay: Pay) -> None:
    _earn(pay, pay.expert_a.id, 12_34, monday(1))
    for actor in (pay.expert_a, pay.reviewer_a, pay.world.client_a):
        with pytest.raises(PermissionDenied):
            _run(pay, "mine", monday(0), monday(2), actor=actor)
    assert pay.db.scalar(select(func.count(PayoutRun.id))) == 0
    result = _run(pay, "real", monday(0), monday(2))
    assert payouts.get_run(session=pay.db, actor=pay.operator, run_id=result.run.id)
    with pytest.raises(NotFound):
        payouts.get_run(session=pay.db, actor=pay.expert_a, run_id=result.run.id)
    assert [r.id for r in payouts.list_runs(session=pay.db)] == [result.run.id]
