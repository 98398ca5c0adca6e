"""Bonuses: rules evaluated as often as you like pay each source once; manual bonuses have a
reason and an optional idempotency key; a new kind of rule plugs in as an evaluator."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from expertloop.errors import NotFound, PermissionDenied, ValidationFailed
from expertloop.payments import bonuses, ledger
from expertloop.payments.models import Bonus, BonusRule, LedgerTransaction
from tests.factories import make_problem_set
from tests.unit.payments.conftest import (
    COMPLETION_BONUS,
    ITEM_BONUS,
    MARGIN_B_BP,
    MARGIN_BP,
    Pay,
    accept_problem_set,
    at,
    margin_on,
    monday,
)


def _evaluate(pay: Pay, until: dt.date, *, completed: bool = False, **kw: object) -> list[Bonus]:
    return bonuses.evaluate(
        session=pay.db,
        actor=pay.operator,
        until=until,
        default_margin_bp=MARGIN_BP,
        completed=completed,
        **kw,  # type: ignore[arg-type]
    )


def _count(pay: Pay, model: type[Bonus] | type[LedgerTransaction]) -> int:
    return int(pay.db.scalar(select(func.count(model.id))) or 0)


def test_per_accepted_item_pays_each_accepted_set_once(pay: Pay) -> None:
    first = accept_problem_set(pay.db, pay.project_a, pay.expert_a, at(monday(1)))
    accept_problem_set(pay.db, pay.project_a, pay.reviewer_a, at(monday(1), 23, 59))
    later = accept_problem_set(pay.db, pay.project_a, pay.expert_a, at(monday(3)))
    make_problem_set(pay.db, pay.project_a, pay.expert_a)  # a draft earns nothing
    accept_problem_set(pay.db, pay.project_b, pay.expert_b, at(monday(1)))  # no item rule on B

    awarded = _evaluate(pay, monday(1))
    assert sorted((b.user_id, b.amount_minor) for b in awarded) == sorted(
        [(pay.expert_a.id, ITEM_BONUS), (pay.reviewer_a.id, ITEM_BONUS)]
    )
    by_key = {b.source_key: b for b in awarded}
    assert by_key[f"rule:{pay.item_rule.id}:problem_set:{first.id}"].earned_on == monday(1)
    assert _evaluate(pay, monday(1)) == []  # again: nothing new
    [third] = _evaluate(pay, monday(4))
    assert third.source_key.endswith(f":{later.id}")
    assert _evaluate(pay, monday(4)) == []
    assert _count(pay, Bonus) == 3
    assert _count(pay, LedgerTransaction) == 3
    assert ledger.balance(session=pay.db, account="expert_payable", user_id=pay.expert_a.id) == {
        "USD": -2 * ITEM_BONUS
    }
    assert ledger.balance(session=pay.db, account="client_receivable") == {
        "USD": 3 * (ITEM_BONUS + margin_on(ITEM_BONUS, MARGIN_BP))
    }


def test_completion_bonus_needs_completion_and_enough_accepted_sets(pay: Pay) -> None:
    for _ in range(2):
        accept_problem_set(pay.db, pay.project_b, pay.expert_b, at(monday(2)))
    accept_problem_set(pay.db, pay.project_b, pay.expert_a, at(monday(2)))  # only one
    assert _evaluate(pay, monday(3)) == []  # the project has not completed
    assert _evaluate(pay, monday(3), completed=True, project_id=pay.project_a.id) == []
    [bonus] = _evaluate(pay, monday(3), completed=True, project_id=pay.project_b.id)
    assert (bonus.user_id, bonus.amount_minor, bonus.currency, bonus.kind) == (
        pay.expert_b.id,
        COMPLETION_BONUS,
        "EUR",
        "completion",
    )
    assert bonus.earned_on == monday(3)
    assert "2 accepted" in bonus.reason
    assert _evaluate(pay, monday(3), completed=True) == []
    # Expert A reaches the minimum later and is paid then; expert B never twice.
    accept_problem_set(pay.db, pay.project_b, pay.expert_a, at(monday(4)))
    [late] = _evaluate(pay, monday(5), completed=True)
    assert late.user_id == pay.expert_a.id
    assert _evaluate(pay, monday(6), completed=True) == []
    entries = ledger.entries_of(session=pay.db, transaction_id=bonus.transaction_id or 0)
    assert {e.account: e.amount_minor for e in entries} == {
        "client_receivable": COMPLETION_BONUS + margin_on(COMPLETION_BONUS, MARGIN_B_BP),
        "expert_payable": -COMPLETION_BONUS,
        "platform_revenue": -margin_on(COMPLETION_BONUS, MARGIN_B_BP),
    }


def test_inactive_rules_pay_nothing(pay: Pay) -> None:
    pay.item_rule.active = False
    pay.db.flush()
    accept_problem_set(pay.db, pay.project_a, pay.expert_a, at(monday(1)))
    assert _evaluate(pay, monday(2)) == []


def test_a_new_kind_of_rule_plugs_in_as_an_evaluator(
    pay: Pay, monkeypatch: pytest.MonkeyPatch
) -> None:
    def quality(session: object, rule: BonusRule, until: dt.date, completed: bool) -> list[object]:
        return [
            bonuses.Earned(
                pay.expert_a.id, rule.amount_minor, "Quality", f"rule:{rule.id}:q", until
            )
        ]

    monkeypatch.setitem(bonuses.EVALUATORS, "quality", quality)  # type: ignore[arg-type]
    rule = bonuses.add_rule(
        session=pay.db,
        actor=pay.operator,
        project=pay.project_a,
        kind="quality",
        currency="USD",
        amount_minor=10_00,
    )
    [bonus] = _evaluate(pay, monday(2))
    assert (bonus.rule_id, bonus.kind, bonus.amount_minor) == (rule.id, "quality", 10_00)
    assert _evaluate(pay, monday(3)) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "loyalty"}, "Unknown bonus kind"),
        ({"kind": "referral"}, "min_hours"),
        ({"amount_minor": 0}, "positive"),
        ({"kind": "completion"}, "min_accepted"),
        ({"kind": "completion", "min_accepted": 0}, "min_accepted"),
        ({"currency": "US"}, "currency"),
    ],
)
def test_bad_rules_are_refused(pay: Pay, kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "kind": "per_accepted_item",
        "currency": "USD",
        "amount_minor": 10_00,
        **kwargs,
    }
    with pytest.raises(ValidationFailed, match=message):
        bonuses.add_rule(session=pay.db, actor=pay.operator, project=pay.project_a, **values)  # type: ignore[arg-type]


def _manual(pay: Pay, **kw: object) -> Bonus:
    values: dict[str, object] = {
        "project": pay.project_b,
        "user_id": pay.expert_b.id,
        "currency": "EUR",
        "amount_minor": 300_00,
        "reason": "Rescued the deadline",
        "earned_on": monday(2),
        "default_margin_bp": MARGIN_BP,
        **kw,
    }
    actor = values.pop("actor", pay.operator)
    return bonuses.award_manual(session=pay.db, actor=actor, **values)  # type: ignore[arg-type]


def test_a_manual_bonus_with_a_key_is_awarded_once(pay: Pay) -> None:
    first = _manual(pay, idempotency_key="req-1")
    again = _manual(pay, idempotency_key="req-1")
    assert again.id == first.id
    assert (first.kind, first.reason, first.source_key) == (
        "manual",
        "Rescued the deadline",
        "manual:req-1",
    )
    other = _manual(pay)  # no key: a second, separate bonus
    assert other.id != first.id
    assert _count(pay, LedgerTransaction) == 2
    assert ledger.balance(session=pay.db, account="expert_payable", user_id=pay.expert_b.id) == {
        "EUR": -600_00
    }
    assert ledger.balance(session=pay.db, account="platform_revenue") == {
        "EUR": -2 * margin_on(300_00, MARGIN_B_BP)
    }


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"amount_minor": 0}, ValidationFailed),
        ({"amount_minor": -5}, ValidationFailed),
        ({"reason": " "}, ValidationFailed),
        ({"currency": "euro"}, ValidationFailed),
        ({"user_id": 10**9}, NotFound),
    ],
)
def test_bad_manual_bonuses_are_refused(
    pay: Pay, kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        _manual(pay, **kwargs)
    assert _count(pay, Bonus) == 0


def test_only_operators_award_bonuses_and_set_rules(pay: Pay) -> None:
    for actor in (pay.expert_b, pay.reviewer_a, pay.world.client_b):
        with pytest.raises(PermissionDenied):
            _manual(pay, actor=actor)
        with pytest.raises(PermissionDenied):
            bonuses.add_rule(
                session=pay.db,
                actor=actor,
                project=pay.project_b,
                kind="per_accepted_item",
                currency="EUR",
                amount_minor=1_00,
            )
    assert _count(pay, Bonus) == 0
    assert [r.id for r in bonuses.rules_of(session=pay.db, project_id=pay.project_b.id)] == [
        pay.completion_rule.id
    ]
