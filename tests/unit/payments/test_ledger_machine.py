"""A hypothesis state machine over earning (approved time, direct postings), bonuses (manual and
rule-based), time adjustments, payout runs and reversals.

After every step: each transaction sums to zero per currency; every amount is an int; every
balance equals a replay of the journal and the model's own book-keeping; nothing owed is negative;
and at every payout nobody is paid more than they have earned net of reversals and payouts.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from expertloop.accounts.models import User
from expertloop.errors import Conflict
from expertloop.payments import bonuses, ledger, payouts, postings, timesheets
from expertloop.payments.models import Bonus, LedgerEntry, LedgerTransaction, Payout
from expertloop.projects.models import Project
from tests.unit.payments.conftest import (
    A_BASE,
    A_ON_PROJECT_A,
    B_BASE,
    B_RAISED,
    CAP_A_MINUTES,
    COMPLETION_BONUS,
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
    pay_for,
)

WEEKS = list(range(12))
DAYS = [monday(0) + dt.timedelta(days=d) for d in range(7 * len(WEEKS))]
GAPS = [30, 60, 120, 300, 301, 900]  # seconds between heartbeats; > 300 is idle
Key = tuple[int, str]  # (user id, currency)
_keys = itertools.count(1)


@dataclass
class Txn:
    """What the model expects a transaction to do to expert_payable and cash."""

    kind: str
    effective_on: dt.date
    payable: dict[Key, int]
    cash: dict[Key, int] = field(default_factory=dict)
    reverses: int | None = None


class LedgerMachine(RuleBasedStateMachine):
    pay: Pay  # set on the subclass the test builds

    def __init__(self) -> None:
        super().__init__()
        self.db = self.pay.db
        self.savepoint = self.db.begin_nested()  # each example starts from the committed world
        self.txns: dict[int, Txn] = {}
        self.reversed: set[int] = set()
        self.tracked: dict[tuple[int, dt.date, int], int] = defaultdict(int)
        self.adjusted: dict[tuple[int, dt.date, int], int] = defaultdict(int)
        self.approved: set[tuple[int, dt.date]] = set()
        self.accepted: list[tuple[int, int, int, dt.date]] = []  # (ps, project, author, day)
        self.awarded: set[str] = set()
        self.manual_keys: dict[str, int] = {}
        self.manual_params: dict[str, tuple[int, int, str, int]] = {}
        self.run_keys: set[str] = set()

    def teardown(self) -> None:
        self.savepoint.rollback()
        self.db.expire_all()

    # --- the world ------------------------------------------------------------------------------

    def earners(self) -> list[tuple[User, list[Project]]]:
        p = self.pay
        return [
            (p.expert_a, [p.project_a, p.project_b]),
            (p.expert_b, [p.project_b]),
            (p.reviewer_a, [p.project_a]),
        ]

    def rate(self, user: User, project: Project, on: dt.date) -> tuple[str, int]:
        """The rate table of conftest.Pay, restated: most specific in force on the date."""
        p = self.pay
        if user.id == p.expert_a.id and project.id == p.project_a.id and on >= monday(5):
            return "USD", A_ON_PROJECT_A
        if project.id == p.project_a.id:
            return "USD", PROJECT_A_RATE
        if user.id == p.expert_a.id:
            return "USD", A_BASE
        assert user.id == p.expert_b.id
        return "EUR", B_RAISED if on >= monday(9) else B_BASE

    def terms(self, project: Project) -> tuple[int | None, int]:
        if project.id == self.pay.project_a.id:
            return CAP_A_MINUTES, MARGIN_BP
        return None, MARGIN_B_BP

    # --- the model's books ---------------------------------------------------------------------

    def record(self, txn_id: int, txn: Txn) -> None:
        assert txn_id not in self.txns
        self.txns[txn_id] = txn

    def payable(self, until: dt.date | None = None) -> dict[Key, int]:
        """The model's expert_payable per expert and currency (debits positive)."""
        out: dict[Key, int] = defaultdict(int)
        for txn in self.txns.values():
            if until is None or txn.effective_on <= until:
                for key, amount in txn.payable.items():
                    out[key] += amount
        return out

    def earned_and_paid(self) -> tuple[dict[Key, int], dict[Key, int]]:
        """Net earnings and net payouts (reversals included) per expert and currency."""
        earned: dict[Key, int] = defaultdict(int)
        paid: dict[Key, int] = defaultdict(int)
        for txn in self.txns.values():
            kind = self.txns[txn.reverses].kind if txn.reverses else txn.kind
            for key, amount in txn.payable.items():
                if kind == "payout":
                    paid[key] += amount
                else:
                    earned[key] -= amount
        return earned, paid

    def earning(
        self, txn_id: int | None, user: User, currency: str, cost: int, on: dt.date
    ) -> None:
        assert txn_id is not None
        self.record(txn_id, Txn("earning", on, {(user.id, currency): -cost}))

    # --- steps -----------------------------------------------------------------------------------

    @initialize()
    def start(self) -> None:
        assert self.db.scalar(select(LedgerTransaction.id).limit(1)) is None

    @rule(data=st.data())
    def earn_time(self, data: st.DataObject) -> None:
        """Heartbeats (and earlier adjustments) over a week, submitted and approved."""
        user, projects = data.draw(st.sampled_from(self.earners()), label="earner")
        free = [w for w in WEEKS if (user.id, monday(w)) not in self.approved]
        if not free:
            return
        week = monday(data.draw(st.sampled_from(free), label="week"))
        sessions = data.draw(
            st.lists(
                st.tuples(st.sampled_from(projects), st.integers(1, 20), st.sampled_from(GAPS)),
                max_size=4,
            ),
            label="sessions",
        )
        for slot, (project, count, gap) in enumerate(sessions):
            start = at(week) + dt.timedelta(hours=6 * slot)
            seconds = add_beats(self.db, user, project, start, count, gap)
            if seconds:
                self.tracked[(user.id, week, project.id)] += seconds
        sheet = self.pay.submit(user, week)
        with pytest.raises(Conflict):
            self.pay.submit(user, week)
        if data.draw(st.booleans(), label="return first"):
            timesheets.return_sheet(
                session=self.db, actor=self.pay.operator, sheet=sheet, comment="Check Monday"
            )
            sheet = self.pay.submit(user, week)
        self.pay.approve(sheet)
        self.approved.add((user.id, week))

        expected: dict[int, tuple[int, str, int, int]] = {}
        for project in projects:
            k = (user.id, week, project.id)
            if k not in self.tracked and k not in self.adjusted:
                continue
            cap, margin_bp = self.terms(project)
            total = max(0, self.tracked.get(k, 0) + self.adjusted.get(k, 0) * 60)
            capped = min(total, cap * 60) if cap is not None else total
            currency, hourly = self.rate(user, project, week)
            cost = pay_for(capped, hourly)
            expected[project.id] = (capped, currency, cost, margin_on(cost, margin_bp))
        lines = timesheets.lines_of(session=self.db, timesheet_id=sheet.id)
        assert {
            li.project_id: (li.capped_seconds, li.currency, li.amount_minor, li.margin_minor)
            for li in lines
        } == expected
        payable: dict[Key, int] = defaultdict(int)
        for _capped, currency, cost, _fee in expected.values():
            if cost:
                payable[(user.id, currency)] -= cost
        if payable:
            assert sheet.transaction_id is not None
            self.record(sheet.transaction_id, Txn("time", week + dt.timedelta(6), dict(payable)))
        else:
            assert sheet.transaction_id is None

    @rule(
        data=st.data(),
        cost=st.integers(1, 10**7),
        fee=st.integers(0, 10**6),
        currency=st.sampled_from(["USD", "EUR"]),
        on=st.sampled_from(DAYS),
    )
    def earn_direct(
        self, data: st.DataObject, cost: int, fee: int, currency: str, on: dt.date
    ) -> None:
        user, projects = data.draw(st.sampled_from(self.earners()), label="earner")
        project = data.draw(st.sampled_from(projects), label="project")
        txn = ledger.post(
            session=self.db,
            kind="time",
            description="Imported earning",
            effective_on=on,
            lines=postings.earning_lines(
                user_id=user.id,
                project=project,
                currency=currency,
                cost_minor=cost,
                margin_minor=fee,
                expert_memo="Imported",
                client_memo="Imported",
            ),
        )
        self.earning(txn.id, user, currency, cost, on)

    @rule(
        data=st.data(),
        amount=st.integers(1, 10**6),
        key=st.sampled_from(["k1", "k2", "k3", None]),
        on=st.sampled_from(DAYS),
    )
    def bonus_manual(self, data: st.DataObject, amount: int, key: str | None, on: dt.date) -> None:
        user, projects = data.draw(st.sampled_from(self.earners()), label="earner")
        project = data.draw(st.sampled_from(projects), label="project")
        currency = data.draw(st.sampled_from(["USD", "EUR"]), label="currency")
        params = (user.id, project.id, currency, amount)
        if key is not None and key in self.manual_params and self.manual_params[key] != params:
            # A key names one bonus: reusing it for another is refused, and nothing is posted.
            with pytest.raises(Conflict):
                bonuses.award_manual(
                    session=self.db,
                    actor=self.pay.operator,
                    project=project,
                    user_id=user.id,
                    currency=currency,
                    amount_minor=amount,
                    reason="Extra effort",
                    earned_on=on,
                    default_margin_bp=MARGIN_BP,
                    idempotency_key=key,
                )
            return
        if key is not None:
            self.manual_params.setdefault(key, params)
        bonus = bonuses.award_manual(
            session=self.db,
            actor=self.pay.operator,
            project=project,
            user_id=user.id,
            currency=currency,
            amount_minor=amount,
            reason="Extra effort",
            earned_on=on,
            default_margin_bp=MARGIN_BP,
            idempotency_key=key,
        )
        if key is not None and key in self.manual_keys:
            assert bonus.id == self.manual_keys[key]  # the first award, not a second
            return
        if key is not None:
            self.manual_keys[key] = bonus.id
        assert (bonus.user_id, bonus.currency, bonus.amount_minor) == (user.id, currency, amount)
        _, margin_bp = self.terms(project)
        entries = ledger.entries_of(session=self.db, transaction_id=bonus.transaction_id or 0)
        revenue = sum(e.amount_minor for e in entries if e.account == ledger.PLATFORM_REVENUE)
        assert revenue == -margin_on(amount, margin_bp)  # a margin rounded to 0 posts no line
        self.earning(bonus.transaction_id, user, currency, amount, on)

    def expected_rule_bonuses(self, until: dt.date, completed: bool) -> set[tuple[str, int, int]]:
        """(source key, user, amount) of every rule bonus due and not yet awarded."""
        p = self.pay
        due = set()
        for ps_id, project_id, author, day in self.accepted:
            if project_id == p.project_a.id and day <= until:
                due.add((f"rule:{p.item_rule.id}:problem_set:{ps_id}", author, ITEM_BONUS))
        if completed:
            counts: dict[int, int] = defaultdict(int)
            for _ps, project_id, author, day in self.accepted:
                if project_id == p.project_b.id and day <= until:  # accepted by then
                    counts[author] += 1
            for author, n in counts.items():
                if n >= 2:
                    due.add(
                        (f"rule:{p.completion_rule.id}:user:{author}", author, COMPLETION_BONUS)
                    )
        return {d for d in due if d[0] not in self.awarded}

    def record_rule_bonuses(self, awarded: list[object], until: dt.date, completed: bool) -> None:
        expected = self.expected_rule_bonuses(until, completed)
        got = {(b.source_key, b.user_id, b.amount_minor) for b in awarded}  # type: ignore[attr-defined]
        assert got == expected
        for b in awarded:
            self.awarded.add(b.source_key)  # type: ignore[attr-defined]
            self.record(
                b.transaction_id,  # type: ignore[attr-defined]
                Txn("bonus", b.earned_on, {(b.user_id, b.currency): -b.amount_minor}),  # type: ignore[attr-defined]
            )

    @rule(
        data=st.data(),
        accept=st.booleans(),
        day=st.sampled_from(DAYS),
        until=st.sampled_from(DAYS),
        completed=st.booleans(),
    )
    def bonus_rules(
        self, data: st.DataObject, accept: bool, day: dt.date, until: dt.date, completed: bool
    ) -> None:
        """Maybe accept a problem set, then evaluate every rule (idempotent)."""
        p = self.pay
        if accept:
            project, author = data.draw(
                st.sampled_from(
                    [
                        (p.project_a, p.expert_a),
                        (p.project_a, p.reviewer_a),
                        (p.project_b, p.expert_a),
                        (p.project_b, p.expert_b),
                    ]
                ),
                label="author",
            )
            ps = accept_problem_set(self.db, project, author, at(day, 15))
            self.accepted.append((ps.id, project.id, author.id, day))
        awarded = bonuses.evaluate(
            session=self.db,
            actor=p.operator,
            until=until,
            default_margin_bp=MARGIN_BP,
            completed=completed,
        )
        self.record_rule_bonuses(awarded, until, completed)

    @rule(
        data=st.data(),
        day=st.integers(0, 6),
        minutes=st.integers(-600, 600).filter(bool),
        approve=st.booleans(),
    )
    def adjust(self, data: st.DataObject, day: int, minutes: int, approve: bool) -> None:
        user, projects = data.draw(st.sampled_from(self.earners()), label="earner")
        project = data.draw(st.sampled_from(projects), label="project")
        week = monday(data.draw(st.sampled_from(WEEKS), label="week"))
        kwargs = {
            "session": self.db,
            "actor": user,
            "project": project,
            "work_date": week + dt.timedelta(days=day),
            "minutes": minutes,
            "reason": "Worked offline",
        }
        if (user.id, week) in self.approved:
            with pytest.raises(Conflict, match="frozen"):
                timesheets.request_adjustment(**kwargs)  # type: ignore[arg-type]
            return
        row = timesheets.request_adjustment(**kwargs)  # type: ignore[arg-type]
        timesheets.decide_adjustment(
            session=self.db, actor=self.pay.operator, adjustment_id=row.id, approve=approve
        )
        if approve:
            self.adjusted[(user.id, week, project.id)] += minutes

    @rule(end=st.sampled_from(DAYS), length=st.integers(0, 40), repeat=st.booleans())
    def payout(self, end: dt.date, length: int, repeat: bool) -> None:
        key = f"run-{next(_keys)}"
        start = end - dt.timedelta(days=length)
        # The run evaluates the rules first (without completion); the model does the same.
        expected_bonuses = self.expected_rule_bonuses(end, completed=False)
        earned_before, paid_before = self.earned_and_paid()
        bonus_ids_before = set(self.awarded)
        result = payouts.require_run(
            payouts.run(
                session=self.db,
                actor=self.pay.operator,
                period_start=start,
                period_end=end,
                idempotency_key=key,
                default_margin_bp=MARGIN_BP,
            )
        )
        assert result.created
        new_bonuses = [
            b
            for b in self.db.scalars(select(Bonus).where(Bonus.rule_id.is_not(None)))
            if b.source_key not in bonus_ids_before
        ]
        self.record_rule_bonuses(new_bonuses, end, completed=False)
        assert {b.source_key for b in new_bonuses} == {k for k, _u, _a in expected_bonuses}
        for bonus in new_bonuses:
            earned_before[(bonus.user_id, bonus.currency)] += bonus.amount_minor

        due_until, overall = self.payable(end), self.payable()
        expected = {
            k: min(-due_until.get(k, 0), -overall[k])
            for k in overall
            if min(-due_until.get(k, 0), -overall[k]) > 0
        }
        got = {(p.user_id, p.currency): p.amount_minor for p in result.payouts}
        assert got == expected
        for p in result.payouts:
            k = (p.user_id, p.currency)
            assert p.amount_minor > 0
            # Nobody is paid twice: what was paid never exceeds what was earned, net.
            assert paid_before[k] + p.amount_minor <= earned_before[k]
            self.record(
                p.transaction_id,
                Txn("payout", end, {k: p.amount_minor}, {k: -p.amount_minor}),
            )
        self.run_keys.add(key)
        if repeat:
            again = payouts.require_run(
                payouts.run(
                    session=self.db,
                    actor=self.pay.operator,
                    period_start=start,
                    period_end=end,
                    idempotency_key=key,
                    default_margin_bp=MARGIN_BP,
                )
            )
            assert not again.created and again.run.id == result.run.id
            assert [(p.id, p.amount_minor) for p in again.payouts] == [
                (p.id, p.amount_minor) for p in result.payouts
            ]
        # Everything due up to the end is paid now.
        assert payouts.owed(session=self.db, until=end) == []

    def reversible(self) -> list[int]:
        return sorted(
            t for t, txn in self.txns.items() if txn.reverses is None and t not in self.reversed
        )

    @precondition(lambda self: bool(self.reversible()))
    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        txn_id = data.draw(st.sampled_from(self.reversible()), label="transaction")
        original = self.txns[txn_id]
        reversal = ledger.reverse(session=self.db, transaction_id=txn_id, reason="Correction")
        self.reversed.add(txn_id)
        self.record(
            reversal.id,
            Txn(
                "reversal",
                original.effective_on,
                {k: -v for k, v in original.payable.items()},
                {k: -v for k, v in original.cash.items()},
                reverses=txn_id,
            ),
        )
        with pytest.raises(Conflict):
            ledger.reverse(session=self.db, transaction_id=txn_id, reason="Twice")
        with pytest.raises(Conflict):
            ledger.reverse(session=self.db, transaction_id=reversal.id, reason="Undo")

    # --- invariants ----------------------------------------------------------------------------

    def entries(self) -> list[tuple[LedgerTransaction, LedgerEntry]]:
        return [
            (t, e)
            for t, e in self.db.execute(
                select(LedgerTransaction, LedgerEntry).join(
                    LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id
                )
            )
        ]

    @invariant()
    def every_transaction_balances_in_whole_minor_units(self) -> None:
        sums: dict[tuple[int, str], int] = defaultdict(int)
        for txn, entry in self.entries():
            assert type(entry.amount_minor) is int
            assert entry.amount_minor != 0
            sums[(txn.id, entry.currency)] += entry.amount_minor
        assert {k: v for k, v in sums.items() if v} == {}
        assert set(self.txns) == {t for t, _c in sums}  # the model knows every transaction
        for (amount,) in self.db.execute(select(Payout.amount_minor)):
            assert type(amount) is int

    @invariant()
    def balances_equal_a_replay_of_the_journal(self) -> None:
        per_user: dict[tuple[str, str, int], int] = defaultdict(int)
        per_account: dict[tuple[str, str], int] = defaultdict(int)
        per_project: dict[tuple[str, str, int], int] = defaultdict(int)
        for _txn, e in self.entries():
            per_account[(e.account, e.currency)] += e.amount_minor
            if e.user_id is not None:
                per_user[(e.account, e.currency, e.user_id)] += e.amount_minor
            if e.project_id is not None:
                per_project[(e.account, e.currency, e.project_id)] += e.amount_minor
        for (account, currency, user_id), total in per_user.items():
            got = ledger.balance(
                session=self.db, account=account, currency=currency, user_id=user_id
            )
            assert got == {currency: total}
        for (account, currency), total in per_account.items():
            assert ledger.balance(session=self.db, account=account, currency=currency) == {
                currency: total
            }
        for (account, currency, project_id), total in per_project.items():
            got = ledger.balance(
                session=self.db, account=account, currency=currency, project_id=project_id
            )
            assert got == {currency: total}
        # And the model's own books agree with the database's.
        model = {k: v for k, v in self.payable().items() if v}
        db_payable = {
            (u, c): v for (a, c, u), v in per_user.items() if a == ledger.EXPERT_PAYABLE and v
        }
        assert db_payable == model
        model_cash: dict[Key, int] = defaultdict(int)
        for txn in self.txns.values():
            for k, v in txn.cash.items():
                model_cash[k] += v
        assert {(u, c): v for (a, c, u), v in per_user.items() if a == ledger.CASH and v} == {
            k: v for k, v in model_cash.items() if v
        }

    @invariant()
    def nothing_owed_is_negative(self) -> None:
        for until in (None, *(monday(w) for w in (3, 7, 11))):
            for item in payouts.owed(session=self.db, until=until or monday(100)):
                assert type(item.amount_minor) is int and item.amount_minor > 0


def test_ledger_state_machine(pay: Pay) -> None:
    class Machine(LedgerMachine):
        pass

    Machine.pay = pay
    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
