"""Statements, invoices, payout files and dashboard figures, all read from the ledger."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.payments import ledger, money
from expertloop.payments.models import (
    Bonus,
    LedgerTransaction,
    Payout,
    Timesheet,
    TimesheetLine,
    TimesheetStatus,
)
from expertloop.payments.payouts import payouts_of
from expertloop.projects.models import Project
from expertloop.workbench import activity
from expertloop.workbench.models import ProblemSet, Status


def _cell(text: str) -> str:
    """Keep free text inert in spreadsheets (no formulas from names or memos)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@dataclass
class StatementLine:
    """One explained line of a statement."""

    on: dt.date
    kind: str
    description: str
    currency: str
    amount_minor: int  # positive: earned by the expert; negative: paid out
    transaction_id: int


@dataclass
class Statement:
    """An expert's earnings and payouts over a period, with opening and closing balances."""

    user: User
    period_start: dt.date
    period_end: dt.date
    opening: dict[str, int]
    lines: list[StatementLine]
    closing: dict[str, int]
    earned: dict[str, int] = field(default_factory=dict)
    paid: dict[str, int] = field(default_factory=dict)


def _is_payout(session: Session, txn: LedgerTransaction) -> bool:
    """A payout, or the reversal of one (which un-pays rather than un-earns)."""
    if txn.kind == "reversal" and txn.reverses_id is not None:
        original = session.get(LedgerTransaction, txn.reverses_id)
        return original is not None and original.kind == "payout"
    return txn.kind == "payout"


def statement(
    *, session: Session, user: User, period_start: dt.date, period_end: dt.date
) -> Statement:
    """Explain every entry of the expert's payable account in the period."""
    before = period_start - dt.timedelta(days=1)
    opening = {
        c: -v
        for c, v in ledger.balance(
            session=session, account=ledger.EXPERT_PAYABLE, user_id=user.id, until=before
        ).items()
    }
    lines = []
    earned: dict[str, int] = defaultdict(int)
    paid: dict[str, int] = defaultdict(int)
    for txn, entry in ledger.statement_entries(
        session=session,
        account=ledger.EXPERT_PAYABLE,
        user_id=user.id,
        since=period_start,
        until=period_end,
    ):
        amount = -entry.amount_minor
        lines.append(
            StatementLine(txn.effective_on, txn.kind, entry.memo, entry.currency, amount, txn.id)
        )
        if _is_payout(session, txn):
            paid[entry.currency] += -amount
        else:
            earned[entry.currency] += amount
    closing = dict(opening)
    for line in lines:
        closing[line.currency] = closing.get(line.currency, 0) + line.amount_minor
    return Statement(
        user, period_start, period_end, opening, lines, closing, dict(earned), dict(paid)
    )


def statement_csv(st: Statement) -> str:
    """The statement as CSV: one row per line, amounts in minor units and formatted."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "kind", "description", "currency", "amount_minor", "amount"])
    for currency, value in sorted(st.opening.items()):
        writer.writerow(
            [
                st.period_start,
                "opening",
                "Owed at the start",
                currency,
                value,
                money.format_money(value, currency),
            ]
        )
    for line in st.lines:
        writer.writerow(
            [
                line.on,
                line.kind,
                _cell(line.description),
                line.currency,
                line.amount_minor,
                money.format_money(line.amount_minor, line.currency),
            ]
        )
    for currency, value in sorted(st.closing.items()):
        writer.writerow(
            [
                st.period_end,
                "closing",
                "Owed at the end",
                currency,
                value,
                money.format_money(value, currency),
            ]
        )
    return out.getvalue()


def payout_file(*, session: Session, run_id: int) -> str:
    """The run's payouts as a CSV for the bank or payment provider."""
    standing = {p.id for p in payouts_of(session=session, run_id=run_id)}
    rows = session.execute(
        select(Payout, User)
        .join(User, User.id == Payout.user_id)
        .where(Payout.run_id == run_id, Payout.id.in_(standing))
        .order_by(User.id, Payout.currency)
    ).all()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["payout_id", "run_id", "name", "email", "currency", "amount_minor", "amount", "reference"]
    )
    for payout, user in rows:
        writer.writerow(
            [
                payout.id,
                run_id,
                _cell(user.name),
                _cell(user.email),
                payout.currency,
                payout.amount_minor,
                money.format_money(payout.amount_minor, payout.currency),
                f"EXPERTLOOP-{run_id}-{payout.id}",
            ]
        )
    return out.getvalue()


@dataclass
class InvoiceLine:
    on: dt.date
    description: str
    currency: str
    amount_minor: int
    cost_minor: int
    margin_minor: int


@dataclass
class Invoice:
    """What a client owes for one project over a period (cost plus the platform margin)."""

    project: Project
    period_start: dt.date
    period_end: dt.date
    lines: list[InvoiceLine]
    totals: dict[str, int]
    margin: dict[str, int]


def invoice(
    *, session: Session, project: Project, period_start: dt.date, period_end: dt.date
) -> Invoice:
    """Build the project's invoice for the period from its receivable and revenue entries."""
    receivable = ledger.statement_entries(
        session=session,
        account=ledger.CLIENT_RECEIVABLE,
        project_id=project.id,
        since=period_start,
        until=period_end,
    )
    revenue = {
        txn.id: -entry.amount_minor
        for txn, entry in ledger.statement_entries(
            session=session,
            account=ledger.PLATFORM_REVENUE,
            project_id=project.id,
            since=period_start,
            until=period_end,
        )
    }
    lines = []
    totals: dict[str, int] = defaultdict(int)
    margins: dict[str, int] = defaultdict(int)
    for txn, entry in receivable:
        fee = revenue.get(txn.id, 0)
        lines.append(
            InvoiceLine(
                txn.effective_on,
                entry.memo,
                entry.currency,
                entry.amount_minor,
                entry.amount_minor - fee,
                fee,
            )
        )
        totals[entry.currency] += entry.amount_minor
        margins[entry.currency] += fee
    return Invoice(project, period_start, period_end, lines, dict(totals), dict(margins))


def invoice_csv(inv: Invoice) -> str:
    """The invoice as CSV (what the client sees: no expert names)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "description", "currency", "amount_minor", "amount"])
    for line in inv.lines:
        writer.writerow(
            [
                line.on,
                _cell(line.description),
                line.currency,
                line.amount_minor,
                money.format_money(line.amount_minor, line.currency),
            ]
        )
    for currency, total in sorted(inv.totals.items()):
        writer.writerow(
            [inv.period_end, "Total", currency, total, money.format_money(total, currency)]
        )
    return out.getvalue()


@dataclass
class Earnings:
    """An expert's dashboard figures."""

    lifetime: dict[str, int]
    paid: dict[str, int]
    pending: dict[str, int]
    bonuses: dict[str, int]
    weeks: list[dict[str, object]]  # [{week, project, hours, amount_minor, currency}]
    projects: list[dict[str, object]]  # [{project_id, project, currency, amount_minor}]


def earnings(*, session: Session, user: User) -> Earnings:
    """Lifetime, paid, pending, bonuses and per-week / per-project earnings of an expert."""
    lifetime: dict[str, int] = defaultdict(int)
    paid: dict[str, int] = defaultdict(int)
    for txn, entry in ledger.statement_entries(
        session=session, account=ledger.EXPERT_PAYABLE, user_id=user.id
    ):
        if _is_payout(session, txn):
            paid[entry.currency] += entry.amount_minor
        else:
            lifetime[entry.currency] += -entry.amount_minor
    pending = {c: lifetime[c] - paid.get(c, 0) for c in lifetime}
    bonus_totals: dict[str, int] = defaultdict(int)
    reversed_txns = select(LedgerTransaction.reverses_id).where(
        LedgerTransaction.reverses_id.is_not(None)
    )
    for b in session.scalars(
        select(Bonus).where(Bonus.user_id == user.id, Bonus.transaction_id.not_in(reversed_txns))
    ):
        bonus_totals[b.currency] += b.amount_minor  # a reversed (revoked) bonus does not count
    weeks = []
    per_project: dict[tuple[int, str, str], int] = defaultdict(int)  # (id, name, currency)
    rows = session.execute(
        select(Timesheet.week_start, TimesheetLine, Project.name)
        .join(TimesheetLine, TimesheetLine.timesheet_id == Timesheet.id)
        .join(Project, Project.id == TimesheetLine.project_id)
        .where(Timesheet.user_id == user.id, Timesheet.status == TimesheetStatus.approved)
        .order_by(Timesheet.week_start)
    ).all()
    for week_start, line, name in rows:
        weeks.append(
            {
                "week": week_start.isoformat(),
                "project": name,
                "hours": round(line.capped_seconds / 3600, 2),
                "amount_minor": line.amount_minor,
                "currency": line.currency,
            }
        )
        per_project[(line.project_id, name, line.currency)] += line.amount_minor
    # One row per project and currency: amounts in different currencies are never added up.
    projects: list[dict[str, object]] = [
        {"project_id": pid, "project": name, "currency": currency, "amount_minor": amount}
        for (pid, name, currency), amount in sorted(
            per_project.items(), key=lambda kv: (kv[0][1].lower(), kv[0][0], kv[0][2])
        )
    ]
    return Earnings(dict(lifetime), dict(paid), pending, dict(bonus_totals), weeks, projects)


def spend_by_project(
    *, session: Session, organisation_id: int | None = None
) -> list[dict[str, object]]:
    """Client spend (receivable) and platform margin per project and month."""
    # Months are grouped in Python: portable across SQLite and PostgreSQL.
    rows = ledger.statement_entries(session=session, account=ledger.CLIENT_RECEIVABLE)
    out: dict[tuple[int, str, str], int] = defaultdict(int)
    for txn, entry in rows:
        if organisation_id is not None and entry.organisation_id != organisation_id:
            continue
        if entry.project_id is None:
            continue
        out[(entry.project_id, txn.effective_on.strftime("%Y-%m"), entry.currency)] += (
            entry.amount_minor
        )
    names = {p.id: p.name for p in session.scalars(select(Project))}
    return [
        {
            "project_id": pid,
            "project": names.get(pid, str(pid)),
            "month": m,
            "currency": c,
            "amount_minor": v,
        }
        for (pid, m, c), v in sorted(out.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]


def outliers(
    *, session: Session, idle_cutoff: dt.timedelta, factor: float = 2.0
) -> list[dict[str, object]]:
    """Accepted problem sets whose tracked time is far above their project's median."""
    accepted = list(session.scalars(select(ProblemSet).where(ProblemSet.status == Status.accepted)))
    per_author: dict[int, activity.Tracked] = {}
    times: dict[int, float] = {}
    for ps in accepted:
        if ps.author_id not in per_author:
            per_author[ps.author_id] = activity.tracked(
                session=session, user_id=ps.author_id, idle_cutoff=idle_cutoff
            )
        times[ps.id] = per_author[ps.author_id].total(ps.project_id, ps.id)
    by_project: dict[int, list[ProblemSet]] = defaultdict(list)
    for ps in accepted:
        by_project[ps.project_id].append(ps)
    flagged = []
    for project_id, sets in by_project.items():
        if len(sets) < 3:
            continue  # a median of fewer than three says little
        values = sorted(times[ps.id] for ps in sets)
        mid = len(values) // 2
        median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
        for ps in sets:
            if median > 0 and times[ps.id] > factor * median:
                flagged.append(
                    {
                        "problem_set_id": ps.id,
                        "title": ps.title,
                        "project_id": project_id,
                        "author_id": ps.author_id,
                        "hours": round(times[ps.id] / 3600, 2),
                        "median_hours": round(median / 3600, 2),
                    }
                )
    return flagged
