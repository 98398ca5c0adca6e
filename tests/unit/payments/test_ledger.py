"""The ledger: balanced integer entries, reversal once, and rows the database will not change."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from expertloop.errors import Conflict, NotFound, ValidationFailed
from expertloop.payments import ledger, postings
from expertloop.payments.ledger import Line
from expertloop.payments.models import LedgerEntry, LedgerTransaction
from tests.unit.payments.conftest import Pay

DAY = dt.date(2024, 1, 7)


def _earning(pay: Pay, cost: int = 100_00, fee: int = 25_00, **kw: object) -> LedgerTransaction:
    return ledger.post(
        session=pay.db,
        kind="time",
        description="Test earning",
        effective_on=kw.pop("effective_on", DAY),  # type: ignore[arg-type]
        lines=postings.earning_lines(
            user_id=pay.expert_a.id,
            project=pay.project_a,
            currency=str(kw.pop("currency", "USD")),
            cost_minor=cost,
            margin_minor=fee,
            expert_memo="Expert side",
            client_memo="Client side",
        ),
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([Line("cash", "USD", 5)], "at least two"),
        ([Line("cash", "USD", 5), Line("expert_payable", "USD", -4)], "do not balance"),
        ([Line("cash", "USD", 5), Line("expert_payable", "EUR", -5)], "do not balance"),
        ([Line("cash", "USD", 5), Line("petty_cash", "USD", -5)], "Unknown ledger account"),
        ([Line("cash", "USD", 0.5), Line("expert_payable", "USD", -0.5)], "whole minor units"),  # type: ignore[arg-type]
        ([Line("cash", "USD", True), Line("expert_payable", "USD", -1)], "whole minor units"),
    ],
)
def test_unbalanced_or_fractional_entries_are_refused(lines: list[Line], message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        ledger.check_balanced(lines)


def test_balanced_per_currency_passes() -> None:
    ledger.check_balanced(
        [
            Line("cash", "USD", 5),
            Line("expert_payable", "USD", -5),
            Line("cash", "EUR", -7),
            Line("client_receivable", "EUR", 7),
        ]
    )


def test_an_earning_posts_cost_plus_margin_against_payable_and_revenue(pay: Pay) -> None:
    txn = _earning(pay, cost=100_00, fee=25_00)
    entries = {e.account: e for e in ledger.entries_of(session=pay.db, transaction_id=txn.id)}
    assert entries["client_receivable"].amount_minor == 125_00
    assert entries["client_receivable"].organisation_id == pay.project_a.organisation_id
    assert entries["expert_payable"].amount_minor == -100_00
    assert entries["expert_payable"].user_id == pay.expert_a.id
    assert entries["platform_revenue"].amount_minor == -25_00
    assert ledger.balance(session=pay.db, account="expert_payable", user_id=pay.expert_a.id) == {
        "USD": -100_00
    }


def test_zero_lines_are_dropped(pay: Pay) -> None:
    txn = _earning(pay, cost=100_00, fee=0)
    assert sorted(e.account for e in ledger.entries_of(session=pay.db, transaction_id=txn.id)) == [
        "client_receivable",
        "expert_payable",
    ]


def test_balance_narrows_by_date_currency_and_owner(pay: Pay) -> None:
    _earning(pay, cost=10_00, fee=0, effective_on=dt.date(2024, 1, 7))
    _earning(pay, cost=20_00, fee=0, effective_on=dt.date(2024, 2, 4))
    _earning(pay, cost=7_00, fee=0, currency="EUR")
    payable = {"session": pay.db, "account": "expert_payable", "user_id": pay.expert_a.id}
    assert ledger.balance(**payable) == {"USD": -30_00, "EUR": -7_00}  # type: ignore[arg-type]
    assert ledger.balance(**payable, until=dt.date(2024, 1, 31)) == {"USD": -10_00, "EUR": -7_00}  # type: ignore[arg-type]
    assert ledger.balance(**payable, currency="EUR") == {"EUR": -7_00}  # type: ignore[arg-type]
    assert ledger.balance(session=pay.db, account="expert_payable", user_id=pay.expert_b.id) == {}


def test_reverse_posts_the_exact_opposite_once(pay: Pay) -> None:
    original = _earning(pay)
    reversal = ledger.reverse(
        session=pay.db, transaction_id=original.id, reason="Wrong project", created_by_id=None
    )
    assert reversal.reverses_id == original.id
    assert reversal.effective_on == original.effective_on
    assert "Wrong project" in reversal.description
    before = ledger.entries_of(session=pay.db, transaction_id=original.id)
    after = ledger.entries_of(session=pay.db, transaction_id=reversal.id)
    assert [(e.account, e.user_id, e.currency, -e.amount_minor) for e in before] == [
        (e.account, e.user_id, e.currency, e.amount_minor) for e in after
    ]
    for account in ledger.ACCOUNTS:
        assert set(ledger.balance(session=pay.db, account=account).values()) <= {0}
    with pytest.raises(Conflict, match="already reversed"):
        ledger.reverse(session=pay.db, transaction_id=original.id, reason="Again")
    with pytest.raises(Conflict, match="not reversed"):
        ledger.reverse(session=pay.db, transaction_id=reversal.id, reason="Undo the undo")


def test_reverse_needs_a_reason_and_an_existing_transaction(pay: Pay) -> None:
    original = _earning(pay)
    with pytest.raises(ValidationFailed, match="why"):
        ledger.reverse(session=pay.db, transaction_id=original.id, reason="  ")
    with pytest.raises(NotFound):
        ledger.reverse(session=pay.db, transaction_id=original.id + 1000, reason="Gone")


def test_an_idempotency_key_is_posted_once(pay: Pay) -> None:
    _earning(pay, idempotency_key="timesheet:1")
    savepoint = pay.db.begin_nested()
    with pytest.raises(IntegrityError):
        _earning(pay, idempotency_key="timesheet:1")
    savepoint.rollback()
    assert pay.db.scalar(select(func.count(LedgerTransaction.id))) == 1


# --- Append-only: the database itself refuses to rewrite history --------------------------------

TAMPERING = [
    "UPDATE ledger_transactions SET description = 'tampered' WHERE id = :txn",
    "UPDATE ledger_transactions SET effective_on = effective_on WHERE id = :txn",
    "DELETE FROM ledger_transactions WHERE id = :txn",
    "UPDATE ledger_entries SET amount_minor = amount_minor + 1 WHERE transaction_id = :txn",
    "UPDATE ledger_entries SET memo = 'tampered' WHERE transaction_id = :txn",
    "DELETE FROM ledger_entries WHERE transaction_id = :txn",
    "DELETE FROM ledger_entries",
]


def _snapshot(db: Session, txn_id: int) -> list[tuple[object, ...]]:
    rows = db.execute(
        select(
            LedgerTransaction.description,
            LedgerTransaction.effective_on,
            LedgerEntry.account,
            LedgerEntry.amount_minor,
            LedgerEntry.memo,
        )
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(LedgerTransaction.id == txn_id)
        .order_by(LedgerEntry.id)
    )
    return [tuple(r) for r in rows]


@pytest.mark.parametrize("statement", TAMPERING)
def test_updates_and_deletes_of_ledger_rows_fail_in_the_database(pay: Pay, statement: str) -> None:
    txn = _earning(pay)
    pay.db.flush()
    before = _snapshot(pay.db, txn.id)
    savepoint = pay.db.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        pay.db.execute(text(statement), {"txn": txn.id} if ":txn" in statement else {})
    savepoint.rollback()
    pay.db.expire_all()
    assert _snapshot(pay.db, txn.id) == before


def test_orm_changes_to_ledger_rows_fail_too(pay: Pay) -> None:
    txn = _earning(pay)
    entry = ledger.entries_of(session=pay.db, transaction_id=txn.id)[0]
    savepoint = pay.db.begin_nested()
    entry.amount_minor += 1
    with pytest.raises(DBAPIError, match="append-only"):
        pay.db.flush()
    savepoint.rollback()
    savepoint = pay.db.begin_nested()
    pay.db.delete(entry)
    with pytest.raises(DBAPIError, match="append-only"):
        pay.db.flush()
    savepoint.rollback()
    pay.db.expire_all()
    assert len(ledger.entries_of(session=pay.db, transaction_id=txn.id)) == 3


def test_truncate_is_refused_on_postgresql(pay: Pay) -> None:
    if pay.db.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    _earning(pay)
    for table in ("ledger_entries", "ledger_transactions"):
        savepoint = pay.db.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            pay.db.execute(text(f"TRUNCATE {table} CASCADE"))
        savepoint.rollback()
    assert pay.db.scalar(select(func.count(LedgerEntry.id))) == 3
