"""The ledger postings of the pay domain: earnings (time, bonuses) and payouts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from expertloop.payments import ledger
from expertloop.payments.ledger import Line
from expertloop.payments.models import LedgerTransaction
from expertloop.projects.models import Project


def earning_lines(
    *,
    user_id: int,
    project: Project,
    currency: str,
    cost_minor: int,
    margin_minor: int,
    expert_memo: str,
    client_memo: str,
) -> list[Line]:
    """Client owes cost + margin; the expert is owed the cost; the platform earns the margin."""
    return [
        Line(
            ledger.CLIENT_RECEIVABLE,
            currency,
            cost_minor + margin_minor,
            project_id=project.id,
            organisation_id=project.organisation_id,
            memo=client_memo,
        ),
        Line(
            ledger.EXPERT_PAYABLE,
            currency,
            -cost_minor,
            user_id=user_id,
            project_id=project.id,
            memo=expert_memo,
        ),
        Line(
            ledger.PLATFORM_REVENUE,
            currency,
            -margin_minor,
            project_id=project.id,
            memo=f"Margin: {client_memo}",
        ),
    ]


def post_payout(
    *,
    session: Session,
    user_id: int,
    currency: str,
    amount_minor: int,
    period_end: dt.date,
    run_id: int,
    created_by_id: int | None,
) -> LedgerTransaction:
    """The platform pays the expert: payable goes down, cash goes out."""
    memo = f"Payout run #{run_id} (owed up to {period_end.isoformat()})"
    return ledger.post(
        session=session,
        kind="payout",
        description=memo,
        effective_on=period_end,
        lines=[
            Line(ledger.EXPERT_PAYABLE, currency, amount_minor, user_id=user_id, memo=memo),
            Line(ledger.CASH, currency, -amount_minor, user_id=user_id, memo=memo),
        ],
        idempotency_key=f"payout:{run_id}:{user_id}:{currency}",
        created_by_id=created_by_id,
    )
