"""The client's spend per project and its invoices."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from expertloop.accounts.models import Role
from expertloop.accounts.policies import is_operator
from expertloop.errors import NotFound, PermissionDenied, ValidationFailed
from expertloop.payments import reports
from expertloop.payments.policies import (
    can_see_org_invoices,
)
from expertloop.projects.models import Project
from expertloop.web.deps import DB, CurrentUser
from expertloop.web.pages.pay.common import (
    _csv,
    _main_currency,
    _page,
    _series,
    _sum_by_currency,
    _today,
    major,
)

router = APIRouter()


def _month_bounds(month: str) -> tuple[dt.date, dt.date]:
    first = dt.date.fromisoformat(f"{month}-01")
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)


@router.get("/spend")
def spend_page(request: Request, user: CurrentUser, db: DB) -> Response:
    """A client's spend per project and month (operators: every client's)."""
    if not (is_operator(user) or user.role == Role.client):
        raise PermissionDenied("Only clients and operators see spend.")
    org = None if is_operator(user) else user.organisation_id
    rows = reports.spend_by_project(session=db, organisation_id=org)
    currency = _main_currency(str(r["currency"]) for r in rows)
    chart = _series(
        [
            (str(r["month"]), str(r["project"]), major(int(str(r["amount_minor"])), currency))
            for r in rows
            if r["currency"] == currency
        ],
        unit="money",
        currency=currency,
    )
    table = []
    per_project: dict[tuple[int, str, str], int] = defaultdict(int)
    first: dict[int, str] = {}
    last: dict[int, str] = {}
    for r in rows:
        pid, month, cur = int(str(r["project_id"])), str(r["month"]), str(r["currency"])
        start, end = _month_bounds(month)
        table.append({**r, "from": start, "to": end})
        per_project[(pid, str(r["project"]), cur)] += int(str(r["amount_minor"]))
        first[pid] = min(first.get(pid, month), month)
        last[pid] = max(last.get(pid, month), month)
    projects = [
        {
            "project_id": pid,
            "project": name,
            "currency": cur,
            "amount_minor": total,
            "from": _month_bounds(first[pid])[0],
            "to": _month_bounds(last[pid])[1],
        }
        for (pid, name, cur), total in sorted(per_project.items(), key=lambda kv: kv[0][1])
    ]
    return _page(
        request,
        "spend.html",
        {
            "rows": table,
            "projects": projects,
            "spend_chart": chart,
            "currency": currency,
            "totals": _sum_by_currency(
                [{"currency": p["currency"], "v": p["amount_minor"]} for p in projects], "v"
            ),
        },
    )


@router.get("/projects/{project_id}/invoice")
def invoice_page(
    request: Request,
    project_id: int,
    user: CurrentUser,
    db: DB,
    start: Annotated[dt.date | None, Query(alias="from")] = None,
    end: Annotated[dt.date | None, Query(alias="to")] = None,
    fmt: Annotated[str, Query(alias="format", pattern="^(html|csv)$")] = "html",
) -> Response:
    """A project's invoice for a period (HTML, or CSV): its client and operators only."""
    project = db.get(Project, project_id)
    if project is None or not can_see_org_invoices(user, project.organisation_id):
        raise NotFound("Project not found.")
    today = _today()
    start = start or today.replace(day=1)
    end = end or _month_bounds(today.strftime("%Y-%m"))[1]
    if end < start:
        raise ValidationFailed("The period ends before it starts.")
    inv = reports.invoice(session=db, project=project, period_start=start, period_end=end)
    if fmt == "csv":
        return _csv(reports.invoice_csv(inv), f"invoice-{project.id}-{start}-{end}.csv")
    return _page(
        request,
        "invoice.html",
        {
            "inv": inv,
            "project": project,
            "show_margin": is_operator(user),
            "csv_url": f"/projects/{project.id}/invoice?from={start}&to={end}&format=csv",
        },
    )
