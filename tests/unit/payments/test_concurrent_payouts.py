"""Ten identical payout requests at once, each in its own connection and transaction: one run,
one payout per expert, the same answer for all."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from expertloop.accounts.models import User
from expertloop.db import transaction
from expertloop.payments import ledger, payouts
from expertloop.payments.models import LedgerTransaction, Payout, PayoutRun
from tests.unit.payments.conftest import (
    B_BASE,
    ITEM_BONUS,
    MARGIN_BP,
    PROJECT_A_RATE,
    accept_problem_set,
    add_beats,
    at,
    build_pay,
    monday,
)

THREADS = 10
START, END = monday(0), monday(4) - dt.timedelta(days=1)

Answer = tuple[int, tuple[tuple[int, int, str, int, int], ...]]


def _seed(factory: sessionmaker[Session]) -> tuple[int, dict[int, dict[str, int]]]:
    """Approved time for two experts and a bonus for a third; return the operator and the debts."""
    with transaction(factory) as s:
        pay = build_pay(s)
        add_beats(s, pay.expert_a, pay.project_a, at(monday(1), 9), 121, 60)  # 2 h
        add_beats(s, pay.expert_b, pay.project_b, at(monday(2), 9), 31, 60)  # 30 min
        pay.approve_week(pay.expert_a, monday(1))
        pay.approve_week(pay.expert_b, monday(2))
        accept_problem_set(s, pay.project_a, pay.reviewer_a, at(monday(3)))  # paid by the run
        owed = {
            pay.expert_a.id: {"USD": 2 * PROJECT_A_RATE},
            pay.expert_b.id: {"EUR": B_BASE // 2 + 1},  # 49.995 rounds up to 50.00
            pay.reviewer_a.id: {"USD": ITEM_BONUS},
        }
        return pay.operator.id, owed


def _request(factory: sessionmaker[Session], operator_id: int, key: str) -> tuple[Answer, bool]:
    with transaction(factory) as s:
        actor = s.get(User, operator_id)
        assert actor is not None
        result = payouts.require_run(
            payouts.run(
                session=s,
                actor=actor,
                period_start=START,
                period_end=END,
                idempotency_key=key,
                default_margin_bp=MARGIN_BP,
            )
        )
        answer = tuple(
            (p.id, p.user_id, p.currency, p.amount_minor, p.transaction_id) for p in result.payouts
        )
        return (result.run.id, answer), result.created


def test_ten_concurrent_identical_requests_make_one_run(
    fresh_factory: sessionmaker[Session],
) -> None:
    operator_id, owed = _seed(fresh_factory)
    barrier = threading.Barrier(THREADS, timeout=30)

    def attempt(_: int) -> tuple[Answer, bool]:
        barrier.wait()  # everyone starts together
        return _request(fresh_factory, operator_id, "payroll-2024-01")

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(attempt, range(THREADS)))  # re-raises any thread's error

    answers = {answer for answer, _created in results}
    assert len(answers) == 1, answers  # identical answers
    assert sorted(created for _answer, created in results) == [False] * (THREADS - 1) + [True]
    [(run_id, paid)] = answers
    assert {(user, currency): amount for _id, user, currency, amount, _t in paid} == {
        (user, currency): amount
        for user, debts in owed.items()
        for currency, amount in debts.items()
    }
    with transaction(fresh_factory) as s:
        assert s.scalar(select(func.count(PayoutRun.id))) == 1
        assert s.scalar(select(func.count(Payout.id))) == 3  # one per expert
        assert (
            s.scalar(
                select(func.count(LedgerTransaction.id)).where(LedgerTransaction.kind == "payout")
            )
            == 3
        )
        assert payouts.owed(session=s, until=END) == []
        for user_id, debts in owed.items():
            balance = ledger.balance(session=s, account="expert_payable", user_id=user_id)
            assert balance == dict.fromkeys(debts, 0)
        # A retry long after still gets the same answer, and another key pays nothing.
    assert _request(fresh_factory, operator_id, "payroll-2024-01") == ((run_id, paid), False)
    (_other_run, nothing), created = _request(fresh_factory, operator_id, "payroll-2024-01-b")
    assert created and nothing == ()


def test_concurrent_runs_with_different_keys_pay_nobody_twice(
    fresh_factory: sessionmaker[Session],
) -> None:
    operator_id, owed = _seed(fresh_factory)
    barrier = threading.Barrier(4, timeout=30)

    def attempt(n: int) -> tuple[Answer, bool]:
        barrier.wait()
        return _request(fresh_factory, operator_id, f"key-{n}")

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(attempt, range(4)))
    assert all(created for _answer, created in results)
    paying = [answer for (_run, answer), _created in results if answer]
    assert len(paying) == 1  # whichever ran first paid everybody; the others nothing
    with transaction(fresh_factory) as s:
        assert s.scalar(select(func.count(PayoutRun.id))) == 4
        assert s.scalar(select(func.count(Payout.id))) == 3
        cash = ledger.balance(session=s, account="cash")
    expected: dict[str, int] = {}
    for debts in owed.values():
        for currency, amount in debts.items():
            expected[currency] = expected.get(currency, 0) - amount
    assert cash == expected
