"""Who may do what with money, checked in the domain (the API only maps the errors)."""

from __future__ import annotations

import pytest

from expertloop.errors import PermissionDenied
from expertloop.payments import policies, rates
from tests.unit.payments.conftest import Pay, monday


def test_only_operators_run_payroll(pay: Pay) -> None:
    assert policies.can_run_payroll(pay.operator)
    for user in (pay.expert_a, pay.reviewer_a, pay.world.client_a):
        assert not policies.can_run_payroll(user)
    pay.operator.is_active = False
    assert not policies.can_run_payroll(pay.operator)


def test_experts_see_only_their_own_money(pay: Pay) -> None:
    assert policies.can_see_user_money(pay.expert_a, pay.expert_a.id)
    assert not policies.can_see_user_money(pay.expert_a, pay.expert_b.id)
    assert not policies.can_see_user_money(pay.world.client_a, pay.expert_a.id)
    assert policies.can_see_user_money(pay.operator, pay.expert_b.id)


def test_clients_see_only_their_own_invoices(pay: Pay) -> None:
    org_a, org_b = pay.world.org_a.id, pay.world.org_b.id
    assert policies.can_see_org_invoices(pay.world.client_a, org_a)
    assert not policies.can_see_org_invoices(pay.world.client_a, org_b)
    assert not policies.can_see_org_invoices(pay.world.client_b, org_a)
    assert not policies.can_see_org_invoices(pay.expert_a, org_a)
    assert policies.can_see_org_invoices(pay.operator, org_b)


def test_only_experts_and_reviewers_earn(pay: Pay) -> None:
    assert policies.earns(pay.expert_a) and policies.earns(pay.reviewer_a)
    assert not policies.earns(pay.operator) and not policies.earns(pay.world.client_a)


def test_experts_cannot_set_rates_or_terms(pay: Pay) -> None:
    for actor in (pay.expert_a, pay.reviewer_a, pay.world.client_a):
        with pytest.raises(PermissionDenied):
            rates.set_rate(
                session=pay.db,
                actor=actor,
                user_id=actor.id,
                currency="USD",
                hourly_minor=999_00,
                effective_from=monday(0),
            )
        with pytest.raises(PermissionDenied):
            rates.set_terms(
                session=pay.db,
                actor=actor,
                project=pay.project_a,
                weekly_cap_minutes=None,
                margin_bp=0,
            )
