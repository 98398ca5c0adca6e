"""Who may see and change which money.

Experts see only their own time and money; clients only their own organisation's invoices and
spend; operators run payroll. A project's lead reviews its experts' time, never their pay (see
``timesheets.can_review``). Anything else is a 404 (money is tenant data).
"""

from __future__ import annotations

from expertloop.accounts.models import Role, User
from expertloop.accounts.policies import is_operator


def can_run_payroll(actor: User) -> bool:
    """Operators set rates, award bonuses, run payouts and see all money.

    Approving time is wider: ask ``timesheets.can_review`` (a project's lead approves too).
    """
    return is_operator(actor)


def can_see_user_money(actor: User, user_id: int) -> bool:
    """An expert sees their own money; operators see everyone's."""
    return is_operator(actor) or actor.id == user_id


def can_see_org_invoices(actor: User, organisation_id: int) -> bool:
    """A client sees their organisation's invoices; operators see all."""
    return is_operator(actor) or (
        actor.role == Role.client and actor.organisation_id == organisation_id
    )


def earns(actor: User) -> bool:
    """Experts and reviewers are paid for their time."""
    return actor.role in (Role.expert, Role.reviewer)
