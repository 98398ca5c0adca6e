"""``expertloop rates``: set and list effective-dated hourly rates (operators)."""

from __future__ import annotations

import datetime as dt
import json

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import User
from expertloop.cli.common import console, db_session, fail
from expertloop.cli.projects import _operator
from expertloop.payments import money, rates
from expertloop.projects.models import Project

app = typer.Typer(help="Hourly rates (operators).", no_args_is_help=True)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise fail(f"{escape(repr(text))} is not a date such as 2026-11-01.") from None


@app.command("set")
def set_cmd(
    email: str = typer.Option("", help="The expert's login email (omit for a project-wide rate)."),
    project_id: int | None = typer.Option(
        None, "--project", help="Project id (omit for the expert's base rate)."
    ),
    currency: str = typer.Option(..., help="ISO currency code, e.g. USD or EUR."),
    hourly: str = typer.Option(..., help="Hourly rate in major units, e.g. 187.50."),
    effective_from: str = typer.Option(
        ..., "--from", help="First day the rate applies (YYYY-MM-DD); earlier days keep theirs."
    ),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """Add a rate: an expert's base rate, a project's, or an expert's on a project."""
    if not email and project_id is None:
        raise fail("Give --email, --project, or both.")
    start = _date(effective_from)
    with db_session() as session:
        actor = _operator(session, operator)
        code = money.currency(currency)
        hourly_minor = money.parse_money(hourly, code)
        user = None
        if email:
            user = users_uc.find_by_email(session=session, email=email)
            if user is None:
                raise fail(f"No user with email {escape(email)}.")
        rate = rates.set_rate(
            session=session,
            actor=actor,
            currency=code,
            hourly_minor=hourly_minor,
            effective_from=start,
            user_id=user.id if user else None,
            project_id=project_id,
        )
        project = session.get(Project, project_id) if project_id is not None else None
        if user is None:
            whom = f"every expert on {project.name if project else project_id}"
        else:
            whom = f"{user.email} on {project.name}" if project else f"{user.email} (base rate)"
        console.print(
            f"[green]Rate #{rate.id}[/]: {escape(whom)} at "
            f"{money.format_money(rate.hourly_minor, rate.currency)}/h "
            f"from {rate.effective_from.isoformat()}."
        )


@app.command("list")
def list_cmd(
    email: str = typer.Option("", help="Only this expert's own rates (base and per project)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """List rates, newest first."""
    with db_session() as session:
        _operator(session, operator)
        user_id = None
        if email:
            found = users_uc.find_by_email(session=session, email=email)
            if found is None:
                raise fail(f"No user with email {escape(email)}.")
            user_id = found.id
        rows = rates.list_rates(session=session, user_id=user_id)
        emails: dict[int, str] = {i: e for i, e in session.execute(select(User.id, User.email))}
        names: dict[int, str] = {i: n for i, n in session.execute(select(Project.id, Project.name))}
        if as_json:
            items = [
                {
                    "id": r.id,
                    "email": emails.get(r.user_id) if r.user_id is not None else None,
                    "user_id": r.user_id,
                    "project_id": r.project_id,
                    "project": names.get(r.project_id) if r.project_id is not None else None,
                    "currency": r.currency,
                    "hourly_minor": r.hourly_minor,
                    "hourly": money.format_money(r.hourly_minor, r.currency),
                    "effective_from": r.effective_from.isoformat(),
                }
                for r in rows
            ]
            typer.echo(json.dumps(items, indent=2))
            return
        table = Table(title=f"Rates ({len(rows)})")
        for col in ("id", "expert", "project", "hourly", "from"):
            table.add_column(col, overflow="fold")
        for r in rows:
            table.add_row(
                str(r.id),
                escape(emails.get(r.user_id, "")) if r.user_id is not None else "(every expert)",
                escape(names.get(r.project_id, "")) if r.project_id is not None else "(base rate)",
                money.format_money(r.hourly_minor, r.currency),
                r.effective_from.isoformat(),
            )
        console.print(table)
