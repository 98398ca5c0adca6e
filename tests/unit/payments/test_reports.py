"""Statements and invoices add up: opening + lines = closing; invoice total = cost + margin."""

from __future__ import annotations

import datetime as dt

from expertloop.payments import ledger, payouts, reports
from tests.unit.payments.conftest import (
    A_ON_PROJECT_A,
    ITEM_BONUS,
    MARGIN_B_BP,
    MARGIN_BP,
    PROJECT_A_RATE,
    Pay,
    accept_problem_set,
    add_beats,
    at,
    margin_on,
    monday,
)

WEEK = dt.timedelta(days=6)


def _scenario(pay: Pay) -> None:
    """Expert A: 1 h in week 1 (75.50), a bonus in week 2, paid up to week 2, then 30 min at
    200.00 in week 6 and 45 min on project B at 120.00."""
    add_beats(pay.db, pay.expert_a, pay.project_a, at(monday(1), 9), 61, 60)
    pay.approve_week(pay.expert_a, monday(1))
    accept_problem_set(pay.db, pay.project_a, pay.expert_a, at(monday(2)))
    payouts.run(
        session=pay.db,
        actor=pay.operator,
        period_start=monday(0),
        period_end=monday(3) - dt.timedelta(days=1),
        idempotency_key="first",
        default_margin_bp=MARGIN_BP,
    )
    add_beats(pay.db, pay.expert_a, pay.project_a, at(monday(6), 9), 31, 60)
    add_beats(pay.db, pay.expert_a, pay.project_b, at(monday(6), 15), 46, 60)
    pay.approve_week(pay.expert_a, monday(6))


def test_statement_opening_lines_and_closing_add_up(pay: Pay) -> None:
    _scenario(pay)
    whole = reports.statement(
        session=pay.db, user=pay.expert_a, period_start=monday(0), period_end=monday(7)
    )
    assert whole.opening == {}
    assert whole.earned == {"USD": PROJECT_A_RATE + ITEM_BONUS + A_ON_PROJECT_A // 2 + 90_00}
    assert whole.paid == {"USD": PROJECT_A_RATE + ITEM_BONUS}
    assert whole.closing == {"USD": A_ON_PROJECT_A // 2 + 90_00} == {"USD": 190_00}
    assert [line.kind for line in whole.lines] == ["time", "bonus", "payout", "time", "time"]

    later = reports.statement(
        session=pay.db, user=pay.expert_a, period_start=monday(2), period_end=monday(7)
    )
    assert later.opening == {"USD": PROJECT_A_RATE}  # week 1 earned, not yet paid on Monday 2
    for st in (whole, later):
        total = dict(st.opening)
        for line in st.lines:
            total[line.currency] = total.get(line.currency, 0) + line.amount_minor
        assert total == st.closing
        assert st.closing == {
            c: -v
            for c, v in ledger.balance(
                session=pay.db, account="expert_payable", user_id=pay.expert_a.id, until=monday(7)
            ).items()
        }
    csv_text = reports.statement_csv(later)
    assert csv_text.splitlines()[1].endswith("USD,7550,USD 75.50")
    assert csv_text.splitlines()[-1].endswith("USD,19000,USD 190.00")


def test_invoice_total_is_cost_plus_margin(pay: Pay) -> None:
    _scenario(pay)
    inv = reports.invoice(
        session=pay.db, project=pay.project_a, period_start=monday(0), period_end=monday(7)
    )
    costs = [PROJECT_A_RATE, ITEM_BONUS, A_ON_PROJECT_A // 2]
    assert [line.cost_minor for line in inv.lines] == costs
    assert [line.margin_minor for line in inv.lines] == [margin_on(c, MARGIN_BP) for c in costs]
    for line in inv.lines:
        assert line.amount_minor == line.cost_minor + line.margin_minor
    assert inv.totals == {"USD": sum(costs) + sum(margin_on(c, MARGIN_BP) for c in costs)}
    assert inv.margin == {"USD": sum(margin_on(c, MARGIN_BP) for c in costs)}
    assert inv.totals == {"USD": 94_38 + 62_50 + 125_00}  # 75.50+18.88, 50+12.50, 100+25
    b = reports.invoice(
        session=pay.db, project=pay.project_b, period_start=monday(0), period_end=monday(7)
    )
    assert b.totals == {"USD": 90_00 + margin_on(90_00, MARGIN_B_BP)} == {"USD": 105_75}
    text = reports.invoice_csv(inv)
    assert pay.expert_a.name not in text and pay.expert_a.email not in text
    early = reports.invoice(
        session=pay.db, project=pay.project_a, period_start=monday(0), period_end=monday(2)
    )
    assert early.totals == {"USD": 94_38 + 62_50}  # the bonus is dated the day it was earned
    week_one = reports.invoice(
        session=pay.db, project=pay.project_a, period_start=monday(1), period_end=monday(1) + WEEK
    )
    assert week_one.totals == {"USD": 94_38}
